//! `skiff exec`.

use std::path::PathBuf;

use clap::Args;
use skiff::engine::{ExecOptions, exec_container};
use skiff::state::StorageDirs;

#[derive(Args)]
pub struct ExecArgs {
    /// Keep STDIN open
    #[arg(short, long)]
    interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    tty: bool,
    /// Run in the background
    #[arg(short, long)]
    detach: bool,
    /// Set environment variables
    #[arg(short, long = "env", value_name = "ENV", allow_hyphen_values = true)]
    env: Vec<String>,
    /// Read environment variables from a file
    #[arg(long = "env-file", value_name = "FILE")]
    env_file: Vec<PathBuf>,
    /// Username or UID (user[:group])
    #[arg(short, long)]
    user: Option<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    workdir: Option<String>,
    /// Give the process every capability
    #[arg(long)]
    privileged: bool,
    container: String,
    /// Command and arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    command: Vec<String>,
}

pub fn exec(dirs: &StorageDirs, args: ExecArgs) -> anyhow::Result<i32> {
    let options = ExecOptions {
        command: args.command,
        interactive: args.interactive,
        tty: args.tty,
        detach: args.detach,
        env: args.env,
        env_files: args.env_file,
        user: args.user,
        workdir: args.workdir,
        privileged: args.privileged,
    };
    Ok(exec_container(dirs, &args.container, &options)?)
}
