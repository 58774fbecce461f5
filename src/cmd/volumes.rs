//! `skiff volume create|ls|inspect|rm|prune|exists`.

use std::collections::BTreeMap;

use anyhow::bail;
use clap::{Args, Subcommand};
use skiff::engine::EngineError;
use skiff::engine::lifecycle::remove_volume;
use skiff::engine::volumes::{
    VolumeFilter, create_volume, list_volumes, new_volume, prune_volumes, volume_exists,
    volume_json,
};
use skiff::state::{StateError, StorageDirs, new_container_id};

use super::format::{ListFlags, Table, confirm, human_size};
use super::template::{OutputFormat, print_documents, render_rows};

#[derive(Subcommand)]
pub enum VolumeCommand {
    /// Create a volume (a generated name without one)
    Create(CreateArgs),
    /// List volumes
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Show volumes' details as JSON
    Inspect(InspectArgs),
    /// Remove volumes
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Remove volumes no container uses
    Prune(PruneArgs),
    /// Exit 0 if the volume exists, 1 if not
    Exists(ExistsArgs),
}

#[derive(Args)]
pub struct CreateArgs {
    /// Volume driver (only `local`)
    #[arg(short, long, default_value = "local")]
    driver: String,
    /// Set metadata (KEY=VALUE)
    #[arg(short, long = "label", allow_hyphen_values = true)]
    label: Vec<String>,
    /// Driver options: type=none|tmpfs, o=bind|size=…, device=/path
    #[arg(short, long = "opt")]
    opt: Vec<String>,
    /// Do not fail when the volume exists
    #[arg(long)]
    ignore: bool,
    name: Option<String>,
}

#[derive(Args)]
pub struct LsArgs {
    /// Filter: name=, label=KEY[=VALUE], dangling=true|false, driver=
    #[arg(short, long = "filter")]
    filter: Vec<String>,
    #[command(flatten)]
    output: ListFlags,
}

#[derive(Args)]
pub struct InspectArgs {
    /// Inspect every volume
    #[arg(short, long)]
    all: bool,
    /// Go template or `json`
    #[arg(short, long, allow_hyphen_values = true)]
    format: Option<String>,
    volumes: Vec<String>,
}

#[derive(Args)]
pub struct RmArgs {
    /// Remove the containers that use the volume first
    #[arg(short, long)]
    force: bool,
    /// Remove every volume
    #[arg(short, long)]
    all: bool,
    volumes: Vec<String>,
}

#[derive(Args)]
pub struct PruneArgs {
    /// Do not ask for confirmation
    #[arg(short, long)]
    force: bool,
    /// Named volumes too, not only anonymous ones
    #[arg(short, long)]
    all: bool,
    /// Filter: name=, label=KEY[=VALUE], driver=
    #[arg(long = "filter")]
    filter: Vec<String>,
}

#[derive(Args)]
pub struct ExistsArgs {
    volume: String,
}

pub fn dispatch(dirs: &StorageDirs, command: VolumeCommand) -> anyhow::Result<i32> {
    match command {
        VolumeCommand::Create(args) => create(dirs, args).map(|()| 0),
        VolumeCommand::Ls(args) => ls(dirs, args).map(|()| 0),
        VolumeCommand::Inspect(args) => inspect(dirs, args),
        VolumeCommand::Rm(args) => rm(dirs, args),
        VolumeCommand::Prune(args) => prune(dirs, args).map(|()| 0),
        VolumeCommand::Exists(args) => Ok(if volume_exists(dirs, &args.volume) {
            0
        } else {
            1
        }),
    }
}

fn key_values(flag: &str, pairs: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    pairs
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            None if flag == "--label" && !pair.is_empty() => Ok((pair.clone(), String::new())),
            _ => bail!("invalid {flag} \"{pair}\": expected KEY=VALUE"),
        })
        .collect()
}

fn create(dirs: &StorageDirs, args: CreateArgs) -> anyhow::Result<()> {
    if args.driver != "local" {
        bail!(
            "volume driver \"{}\" is not supported: skiff has the local driver only",
            args.driver
        );
    }
    let name = args.name.unwrap_or_else(new_container_id);
    let record = new_volume(
        &name,
        key_values("--label", &args.label)?,
        key_values("--opt", &args.opt)?,
        false,
    )?;
    let _ = args.ignore; // an existing volume is returned as it is, as docker does
    println!("{}", create_volume(dirs, &record)?.name);
    Ok(())
}

fn filters(texts: &[String]) -> anyhow::Result<Vec<VolumeFilter>> {
    Ok(texts.iter().map(|f| f.parse()).collect::<Result<_, _>>()?)
}

fn header(field: &str) -> Option<&'static str> {
    Some(match field {
        "Name" => "VOLUME NAME",
        "Driver" => "DRIVER",
        "Mountpoint" => "MOUNTPOINT",
        "Scope" => "SCOPE",
        _ => return None,
    })
}

fn ls(dirs: &StorageDirs, args: LsArgs) -> anyhow::Result<()> {
    let rows = list_volumes(dirs, &filters(&args.filter)?);
    if args.output.quiet {
        rows.iter().for_each(|r| println!("{}", r.record.name));
        return Ok(());
    }
    if let Some(format) = args.output.format.as_deref().filter(|f| *f != "table") {
        let docs: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| volume_json(dirs, &r.record.name))
            .collect::<Result<_, _>>()?;
        print!(
            "{}",
            render_rows(&OutputFormat::parse(format)?, &docs, &header)?
        );
        return Ok(());
    }
    let mut table = Table::new(&["DRIVER", "VOLUME NAME"]);
    for row in &rows {
        table.row(vec![row.record.driver.clone(), row.record.name.clone()]);
    }
    table.print(args.output.noheading);
    Ok(())
}

/// The volumes a verb acts on: those named, or with `--all` every one.
fn names_or_all(
    dirs: &StorageDirs,
    all: bool,
    names: Vec<String>,
    verb: &str,
) -> anyhow::Result<Vec<String>> {
    if all {
        return Ok(list_volumes(dirs, &[])
            .into_iter()
            .map(|r| r.record.name)
            .collect());
    }
    if names.is_empty() {
        bail!("volume {verb} requires at least one volume name (or --all)");
    }
    Ok(names)
}

fn inspect(dirs: &StorageDirs, args: InspectArgs) -> anyhow::Result<i32> {
    let names = names_or_all(dirs, args.all, args.volumes, "inspect")?;
    let mut docs = Vec::new();
    let mut code = 0;
    for name in &names {
        match volume_json(dirs, name) {
            Ok(doc) => docs.push(doc),
            Err(e) => {
                eprintln!("Error: {e}");
                code = 125;
            }
        }
    }
    print_documents(&docs, args.format.as_deref())?;
    Ok(code)
}

/// podman's exit codes: 1 for a missing volume, 2 for one in use.
fn rm(dirs: &StorageDirs, args: RmArgs) -> anyhow::Result<i32> {
    let names = names_or_all(dirs, args.all, args.volumes, "rm")?;
    let mut code = 0;
    for name in &names {
        match remove_volume(dirs, name, args.force) {
            Ok(()) => println!("{name}"),
            Err(e) => {
                eprintln!("Error: {e}");
                code = match e {
                    EngineError::State(StateError::NoSuchVolume { .. }) => 1,
                    EngineError::VolumeInUse { .. } => 2,
                    other => other.exit_code(),
                };
            }
        }
    }
    Ok(code)
}

fn prune(dirs: &StorageDirs, args: PruneArgs) -> anyhow::Result<()> {
    let filters = filters(&args.filter)?;
    // Volumes hold data: as docker and podman, ask first unless `-f`.
    if !args.force {
        let what = if args.all {
            "all volumes"
        } else {
            "all anonymous volumes"
        };
        if !confirm(&format!(
            "This will remove {what} not used by at least one container."
        ))? {
            return Ok(());
        }
    }
    let (names, freed) = prune_volumes(dirs, args.all, &filters)?;
    names.iter().for_each(|n| println!("{n}"));
    eprintln!("Total reclaimed space: {}", human_size(freed));
    Ok(())
}
