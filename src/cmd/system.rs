//! `skiff system df`, `system prune` (and `system info`, in `info.rs`).

use clap::{Args, Subcommand};
use skiff::engine::system_prune::prune_system;
use skiff::engine::{self, UsageLine};
use skiff::state::StorageDirs;

use super::format::{Table, confirm, human_size};
use super::report::StderrReporter;
use super::template::{OutputFormat, render_rows};

#[derive(Subcommand)]
pub enum SystemCommand {
    /// Show the disk space images, containers, volumes and build cache use
    Df(DfArgs),
    /// Remove stopped containers, unused images and (--volumes) volumes
    Prune(PruneArgs),
    /// Show the host, store and registries skiff works with
    Info(super::info::InfoArgs),
}

#[derive(Args)]
pub struct PruneArgs {
    /// Remove every unused image, not only dangling ones
    #[arg(short, long)]
    all: bool,
    /// Do not ask for confirmation
    #[arg(short, long)]
    force: bool,
    /// Remove anonymous volumes no container uses too
    #[arg(long)]
    volumes: bool,
}

#[derive(Args)]
pub struct DfArgs {
    /// Format the output with a Go template, `table …` or json
    #[arg(long, allow_hyphen_values = true)]
    format: Option<String>,
}

pub fn dispatch(dirs: &StorageDirs, command: SystemCommand) -> anyhow::Result<i32> {
    match command {
        SystemCommand::Df(args) => df(dirs, args).map(|()| 0),
        SystemCommand::Prune(args) => prune(dirs, args).map(|()| 0),
        SystemCommand::Info(args) => super::info::info(dirs, args).map(|()| 0),
    }
}

fn prune(dirs: &StorageDirs, args: PruneArgs) -> anyhow::Result<()> {
    if !args.force {
        let mut what = vec!["all stopped containers"];
        what.push(if args.all {
            "all images without at least one container associated to them"
        } else {
            "all dangling images"
        });
        if args.volumes {
            what.push("all anonymous volumes not used by at least one container");
        }
        if !confirm(&format!("This will remove:\n  - {}", what.join("\n  - ")))? {
            return Ok(());
        }
    }
    let pruned = prune_system(dirs, args.all, args.volumes, &StderrReporter)?;
    for (title, names) in [
        ("Deleted Containers", pruned.containers.clone()),
        (
            "Deleted Images",
            pruned.images.iter().map(|d| d.hex().to_string()).collect(),
        ),
        ("Deleted Volumes", pruned.volumes.clone()),
    ] {
        if !names.is_empty() {
            println!("{title}");
            names.iter().for_each(|n| println!("{n}"));
        }
    }
    println!("Total reclaimed space: {}", human_size(pruned.bytes));
    Ok(())
}

/// `1.2 MB (50%)`, as podman shows reclaimable space.
fn reclaimable(line: &UsageLine) -> String {
    let percent = (line.reclaimable * 100).checked_div(line.size).unwrap_or(0);
    format!("{} ({percent}%)", human_size(line.reclaimable))
}

fn df_header(field: &str) -> Option<&'static str> {
    Some(match field {
        "Type" => "TYPE",
        "Total" => "TOTAL",
        "Active" => "ACTIVE",
        "Size" => "SIZE",
        "Reclaimable" => "RECLAIMABLE",
        _ => return None,
    })
}

fn df(dirs: &StorageDirs, args: DfArgs) -> anyhow::Result<()> {
    let usage = engine::disk_usage(dirs)?;
    let build_cache = skiff::build::cache_mount_usage(dirs);
    let lines = [
        ("Images", &usage.images),
        ("Containers", &usage.containers),
        ("Local Volumes", &usage.volumes),
        ("Build Cache", &build_cache),
    ];
    if let Some(format) = &args.format {
        let rows: Vec<serde_json::Value> = lines
            .iter()
            .map(|(kind, line)| {
                serde_json::json!({
                    "Type": kind,
                    "Total": line.total,
                    "Active": line.active,
                    "Size": human_size(line.size),
                    "RawSize": line.size,
                    "Reclaimable": reclaimable(line),
                    "RawReclaimable": line.reclaimable,
                })
            })
            .collect();
        print!(
            "{}",
            render_rows(&OutputFormat::parse(format)?, &rows, &df_header)?
        );
        return Ok(());
    }
    let mut table = Table::new(&["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]);
    for (kind, line) in lines {
        table.row(vec![
            kind.to_string(),
            line.total.to_string(),
            line.active.to_string(),
            human_size(line.size),
            reclaimable(line),
        ]);
    }
    print!("{table}");
    Ok(())
}
