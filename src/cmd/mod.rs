//! One file per command group: parse flags, call one engine function,
//! print. Output formatting lives in `format`.

mod format;
mod images;
mod run;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use skiff::state::StorageDirs;

#[derive(Parser)]
#[command(
    name = "skiff",
    version,
    about = "A daemonless, rootless container engine",
    propagate_version = true
)]
pub struct Cli {
    /// Storage root for images and containers [env: SKIFF_ROOT]
    #[arg(long, global = true, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Directory for runtime state [env: SKIFF_RUNROOT]
    #[arg(long, global = true, value_name = "DIR")]
    runroot: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a command in a new container
    Run(Box<run::RunArgs>),
    /// Load images from a docker-archive or oci-archive
    Load(images::LoadArgs),
    /// Create an image from a tarball of a root filesystem
    Import(images::ImportArgs),
    /// List images in local storage
    Images(images::ImagesArgs),
}

pub fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    let dirs = StorageDirs::resolve(cli.root, cli.runroot);
    match cli.command {
        Command::Run(args) => run::run(&dirs, *args),
        Command::Load(args) => images::load(&dirs, args).map(|()| 0),
        Command::Import(args) => images::import(&dirs, args).map(|()| 0),
        Command::Images(args) => images::images(&dirs, args).map(|()| 0),
    }
}

/// Help and version go to stdout with 0; a usage error is one `Error:`
/// line and 125, like docker.
pub fn report_usage_error(err: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match err.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = err.print();
            ExitCode::SUCCESS
        }
        _ => {
            // clap's message runs until the first blank line (then usage
            // and tips); some messages continue on indented lines.
            let rendered = err.render().to_string();
            let message: Vec<&str> = rendered
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .map(str::trim)
                .collect();
            let message = message.join(" ");
            let message = message.strip_prefix("error: ").unwrap_or(&message);
            eprintln!("Error: {message} (see 'skiff --help')");
            ExitCode::from(125)
        }
    }
}
