//! The skiff CLI: parse, dispatch, and map failures to docker's exit codes.

use std::process::ExitCode;

use clap::Parser;

mod cmd;

fn main() -> ExitCode {
    let cli = match cmd::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return cmd::report_usage_error(err),
    };
    match cmd::dispatch(cli) {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(err) => {
            eprintln!("Error: {err:#}");
            ExitCode::from(exit_code_of(&err))
        }
    }
}

/// One place decides the exit code: the engine knows 126/127 (the command
/// could not run); everything else skiff refused or failed at is 125.
fn exit_code_of(err: &anyhow::Error) -> u8 {
    err.chain()
        .find_map(|cause| cause.downcast_ref::<skiff::engine::EngineError>())
        .map(|e| e.exit_code() as u8)
        .unwrap_or(125)
}
