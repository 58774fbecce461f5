//! `skiff run`.

use std::path::PathBuf;

use clap::Args;
use skiff::engine::{RunRequest, run_container};
use skiff::net::NetworkMode;
use skiff::state::StorageDirs;

#[derive(Args)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Remove the container when it exits
    #[arg(long)]
    rm: bool,
    /// Keep STDIN open and stream it to the container
    #[arg(short, long)]
    interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    tty: bool,
    /// Assign a name to the container
    #[arg(long)]
    name: Option<String>,
    /// Set environment variables (KEY=VALUE, or KEY to pass skiff's own)
    #[arg(short, long = "env", value_name = "ENV")]
    env: Vec<String>,
    /// Read environment variables from a file
    #[arg(long = "env-file", value_name = "FILE")]
    env_file: Vec<PathBuf>,
    /// Working directory inside the container
    #[arg(short, long)]
    workdir: Option<String>,
    /// Username or UID, optionally with group or GID (user[:group])
    #[arg(short, long)]
    user: Option<String>,
    /// Container host name
    #[arg(short = 'h', long)]
    hostname: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long)]
    entrypoint: Option<String>,
    /// Bind mount a host path: SRC:DST[:ro|rw]
    #[arg(short, long = "volume", value_name = "SRC:DST[:OPTS]")]
    volume: Vec<String>,
    /// Mount a tmpfs: DST[:OPTS]
    #[arg(long, value_name = "DST[:OPTS]")]
    tmpfs: Vec<String>,
    /// Network mode: none (default) or host
    #[arg(long, visible_alias = "net", default_value = "none")]
    network: NetworkMode,
    /// Print help
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// Image to run
    image: String,
    /// Command and arguments (replace the image's CMD)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

pub fn run(dirs: &StorageDirs, args: RunArgs) -> anyhow::Result<i32> {
    let req = RunRequest {
        image: args.image,
        command: args.command,
        entrypoint: args.entrypoint,
        env: args.env,
        env_files: args.env_file,
        workdir: args.workdir,
        user: args.user,
        hostname: args.hostname,
        name: args.name,
        volumes: args.volume,
        tmpfs: args.tmpfs,
        network: args.network,
        interactive: args.interactive,
        tty: args.tty,
        remove: args.rm,
    };
    Ok(run_container(dirs, &req)?)
}
