//! `skiff system df`.

use clap::{Args, Subcommand};
use skiff::engine::{self, UsageLine};
use skiff::state::StorageDirs;

use super::format::{Table, human_size};
use super::template::{OutputFormat, render_rows};

#[derive(Subcommand)]
pub enum SystemCommand {
    /// Show the disk space images, containers and volumes use
    Df(DfArgs),
}

#[derive(Args)]
pub struct DfArgs {
    /// Format the output with a Go template, `table …` or json
    #[arg(long)]
    format: Option<String>,
}

pub fn dispatch(dirs: &StorageDirs, command: SystemCommand) -> anyhow::Result<i32> {
    match command {
        SystemCommand::Df(args) => df(dirs, args).map(|()| 0),
    }
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
    let lines = [
        ("Images", &usage.images),
        ("Containers", &usage.containers),
        ("Local Volumes", &usage.volumes),
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
