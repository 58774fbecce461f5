//! The skiff CLI: parse, dispatch, and map failures to docker's exit codes.

use std::process::ExitCode;

mod cmd;

fn main() -> ExitCode {
    die_of_sigpipe_on_closed_stdout();
    let cli = match cmd::parse() {
        Ok(cli) => cli,
        Err(err) => return cmd::report_usage_error(err),
    };
    match cmd::dispatch(cli) {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(err) => {
            // A streaming client whose reader went away, or that a signal
            // ended, says nothing and dies of that signal, as docker's.
            if let Some(signal) = ended_by(&err) {
                skiff::engine::die_of(signal);
            }
            eprintln!("Error: {}", one_line(&err));
            ExitCode::from(exit_code_of(&err))
        }
    }
}

/// `skiff inspect … | head -1`: once the reader is gone, `println!`
/// panics on EPIPE (Rust ignores SIGPIPE so that skiff's own pipes report
/// EPIPE instead of killing it). A command printing to a closed stdout
/// ends as docker's Go client and every other process in a pipeline do,
/// silently by SIGPIPE (141), rather than with a panic message. One hook
/// covers every verb's printing; other panics keep the default report.
fn die_of_sigpipe_on_closed_stdout() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            skiff::engine::die_of(nix::sys::signal::Signal::SIGPIPE);
        }
        default_hook(info);
    }));
}

/// The error and its causes on one line, skipping a cause whose text the
/// message already carries (many errors embed their cause's text).
fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

fn ended_by(err: &anyhow::Error) -> Option<nix::sys::signal::Signal> {
    err.chain()
        .find_map(|cause| cause.downcast_ref::<skiff::engine::EngineError>())
        .and_then(|e| e.ended_by())
}

/// One place decides the exit code: the engine knows 126/127 (the command
/// could not run); everything else skiff refused or failed at is 125.
fn exit_code_of(err: &anyhow::Error) -> u8 {
    err.chain()
        .find_map(|cause| cause.downcast_ref::<skiff::engine::EngineError>())
        .map(|e| e.exit_code() as u8)
        .unwrap_or(125)
}
