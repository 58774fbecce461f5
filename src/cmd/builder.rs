//! `skiff builder` (docker's): `build`, and `prune` of the build cache:
//! the `RUN --mount=type=cache` directories, and with `-a` the step
//! cache too (the unnamed intermediate images no container uses).

use clap::{Args, Subcommand};
use skiff::state::StorageDirs;

use super::format::human_size;
use super::report::StderrReporter;

#[derive(Subcommand)]
pub enum BuilderCommand {
    /// Build an image from a Dockerfile or Containerfile
    #[command(after_help = super::examples::BUILD)]
    Build(Box<super::build::BuildArgs>),
    /// Remove the build cache: cache mounts, and (-a) the step cache
    Prune(BuilderPruneArgs),
}

#[derive(Args)]
pub struct BuilderPruneArgs {
    /// Remove the step cache (intermediate images) too
    #[arg(short, long)]
    all: bool,
    /// Do not ask for confirmation
    #[arg(short, long)]
    force: bool,
}

pub fn dispatch(dirs: &StorageDirs, command: BuilderCommand) -> anyhow::Result<i32> {
    match command {
        BuilderCommand::Build(args) => super::build::build(dirs, *args),
        BuilderCommand::Prune(args) => prune(dirs, args).map(|()| 0),
    }
}

fn prune(dirs: &StorageDirs, args: BuilderPruneArgs) -> anyhow::Result<()> {
    // skiff never prompts: there is no confirmation to skip.
    let _ = args.force;
    let pruned = skiff::build::prune_build_cache(dirs, args.all, &StderrReporter)?;
    if !pruned.removed.is_empty() {
        println!("Deleted build cache objects:");
        pruned.removed.iter().for_each(|r| println!("{r}"));
        println!();
    }
    println!("Total reclaimed space: {}", human_size(pruned.bytes));
    Ok(())
}
