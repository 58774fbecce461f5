//! `skiff ps`, `rm`, `stop`, `kill`, `restart`, `wait`, `rename`,
//! `container prune`, `inspect`.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use clap::Args;
use serde_json::{Value, json};
use skiff::engine::EngineError;
use skiff::engine::container_filter::{
    ContainerFilter, ContainerQuery, select_containers, writable_layer_size,
};
use skiff::engine::inspect::container_json;
use skiff::engine::lifecycle::{self, RemoveOptions, StopOutcome};
use skiff::engine::lookup::{find_container, list_containers};
use skiff::engine::selection::{AllScope, ContainerSelection};
use skiff::state::{ContainerRecord, ContainerStatus, ContainerStore, StateError, StorageDirs};
use skiff::timestamp::parse_rfc3339_time;

use super::format::{Table, human_duration};
use super::report::StderrReporter;
use super::template::{OutputFormat, print_documents, render_rows};

#[derive(Args)]
pub struct PsArgs {
    /// Show all containers (default: running only)
    #[arg(short, long)]
    all: bool,
    /// Show only IDs
    #[arg(short, long)]
    quiet: bool,
    /// Show the latest created container
    #[arg(short, long)]
    latest: bool,
    /// Show the N latest created containers
    #[arg(short = 'n', long = "last")]
    last: Option<usize>,
    /// Do not truncate IDs and commands
    #[arg(long = "no-trunc")]
    no_trunc: bool,
    /// Show the size of each container's writable layer
    #[arg(short, long)]
    size: bool,
    /// Sort by command, created, id, image, names, runningfor, size or status
    #[arg(long, default_value = "created")]
    sort: String,
    /// Filter: status=, name=, id=, label=, ancestor=, exited=
    #[arg(short, long = "filter")]
    filter: Vec<String>,
    /// Go template, `json`, or `table …`
    #[arg(long, allow_hyphen_values = true)]
    format: Option<String>,
}

/// docker's `Up 3 seconds` / `Exited (0) 2 minutes ago` / `Created`.
fn status_text(record: &ContainerRecord, now: SystemTime) -> String {
    let since = |t: &Option<String>| {
        t.as_deref()
            .and_then(parse_rfc3339_time)
            .and_then(|t| now.duration_since(t).ok())
            .unwrap_or(Duration::ZERO)
    };
    let health = record
        .state
        .health
        .as_ref()
        .map(|h| {
            format!(
                " ({})",
                serde_json::to_value(h.status)
                    .unwrap_or_default()
                    .as_str()
                    .unwrap_or("")
            )
        })
        .unwrap_or_default();
    match record.status() {
        ContainerStatus::Created => "Created".into(),
        ContainerStatus::Running => {
            format!(
                "Up {}{health}",
                human_duration(since(&record.state.started_at))
            )
        }
        ContainerStatus::Paused => {
            format!(
                "Up {} (Paused)",
                human_duration(since(&record.state.started_at))
            )
        }
        ContainerStatus::Stopping => "Stopping".into(),
        ContainerStatus::Exited => format!(
            "Exited ({}) {} ago",
            record.state.exit_code.unwrap_or(-1),
            human_duration(since(&record.state.finished_at))
        ),
    }
}

fn command_text(record: &ContainerRecord, no_trunc: bool) -> String {
    let full = record.config.args.join(" ");
    if no_trunc || full.chars().count() <= 20 {
        full
    } else {
        format!("{}...", full.chars().take(17).collect::<String>())
    }
}

/// One `ps` row with podman's template field names.
fn ps_row(record: &ContainerRecord, dirs: &StorageDirs, args: &PsArgs) -> Value {
    let now = SystemTime::now();
    let created = parse_rfc3339_time(&record.created)
        .and_then(|t| now.duration_since(t).ok())
        .unwrap_or(Duration::ZERO);
    let size = if args.size {
        super::format::human_size(writable_layer_size(dirs, &record.id))
    } else {
        String::new()
    };
    let id = if args.no_trunc {
        record.id.clone()
    } else {
        record.short_id().to_string()
    };
    json!({
        "ID": id,
        "Image": record.image,
        "ImageID": record.image_id,
        "Command": command_text(record, args.no_trunc),
        "CreatedAt": record.created,
        "Created": format!("{} ago", human_duration(created)),
        "RunningFor": format!("{} ago", human_duration(created)),
        "Status": status_text(record, now),
        "State": record.status().as_str(),
        "Names": record.name,
        "Labels": record.config.labels,
        "Ports": skiff::net::PortMapping::describe_all(&record.config.net.ports),
        "Size": size,
        "Pid": record.state.pid.map(|p| p.pid).unwrap_or(0),
        "ExitCode": record.state.exit_code.unwrap_or(0),
        "Exited": record.status() == ContainerStatus::Exited,
        "StartedAt": record.state.started_at.clone().unwrap_or_default(),
        "ExitedAt": record.state.finished_at.clone().unwrap_or_default(),
        "Mounts": record.config.mounts.iter().map(|m| m.destination.clone()).collect::<Vec<_>>(),
    })
}

fn ps_header(field: &str) -> Option<&'static str> {
    Some(match field {
        "ID" => "CONTAINER ID",
        "Names" => "NAMES",
        "RunningFor" => "CREATED",
        "Created" => "CREATED",
        "CreatedAt" => "CREATED AT",
        _ => return None,
    })
}

pub fn ps(dirs: &StorageDirs, args: PsArgs) -> anyhow::Result<i32> {
    let query = ContainerQuery {
        all: args.all,
        limit: if args.latest { Some(1) } else { args.last },
        filters: parse_filters(&args.filter)?,
        sort: args.sort.parse()?,
    };
    let kept = select_containers(dirs, &query)?;
    if args.quiet {
        for r in &kept {
            println!("{}", if args.no_trunc { &r.id } else { r.short_id() });
        }
        return Ok(0);
    }
    let rows: Vec<Value> = kept.iter().map(|r| ps_row(r, dirs, &args)).collect();
    if let Some(format) = args.format.as_deref().filter(|f| *f != "table") {
        let format = OutputFormat::parse(format)?;
        print!("{}", render_rows(&format, &rows, &ps_header)?);
        return Ok(0);
    }
    let mut header = vec![
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ];
    if args.size {
        header.push("SIZE");
    }
    let mut table = Table::new(&header);
    for row in &rows {
        let cell = |k: &str| row[k].as_str().unwrap_or_default().to_string();
        let mut cells = vec![
            cell("ID"),
            cell("Image"),
            cell("Command"),
            cell("RunningFor"),
            cell("Status"),
            cell("Ports"),
            cell("Names"),
        ];
        if args.size {
            cells.push(cell("Size"));
        }
        table.row(cells);
    }
    print!("{table}");
    Ok(0)
}

#[derive(Args)]
pub struct RmArgs {
    /// Remove every container
    #[arg(short, long)]
    all: bool,
    /// Read the container ID from FILE, and remove FILE too (repeatable)
    #[arg(long, value_name = "FILE")]
    cidfile: Vec<PathBuf>,
    /// Remove the containers that depend on each one first (those that
    /// entered its namespaces with --pid/--ipc/--uts/--network container:)
    #[arg(long)]
    depend: bool,
    /// Remove the containers these select (same filters as `ps`)
    #[arg(long = "filter", value_name = "FILTER")]
    filter: Vec<String>,
    /// Stop and remove running containers; a missing one is no error
    #[arg(short, long)]
    force: bool,
    /// Ignore containers that do not exist
    #[arg(short, long)]
    ignore: bool,
    /// Remove the latest created container
    #[arg(short, long)]
    latest: bool,
    /// With -f: seconds to wait for the stop signal before SIGKILL
    #[arg(short, long, value_name = "SECONDS")]
    time: Option<u32>,
    /// Remove the container's anonymous volumes too
    #[arg(short, long)]
    volumes: bool,
    containers: Vec<String>,
}

/// How a verb reports per-container failures: podman's exit codes.
#[derive(Clone, Copy)]
pub(super) struct ExitCodes {
    /// For a container that does not exist (1 for rm, else 125).
    missing: i32,
    /// For a running container the verb refuses (2 for rm).
    running: i32,
}

pub(super) const ENGINE_CODES: ExitCodes = ExitCodes {
    missing: 125,
    running: 125,
};

/// Runs `verb` on each item, printing what it returns; the exit code is
/// that of the last failure, 0 when none failed.
pub(super) fn each<T>(
    items: &[T],
    codes: ExitCodes,
    mut verb: impl FnMut(&T) -> Result<Option<String>, EngineError>,
) -> i32 {
    let mut code = 0;
    for item in items {
        match verb(item) {
            Ok(Some(line)) => println!("{line}"),
            Ok(None) => {}
            Err(e) => {
                eprintln!("Error: {e}");
                code = match e {
                    EngineError::State(StateError::NoSuchContainer { .. }) => codes.missing,
                    EngineError::ContainerRunning(_) => codes.running,
                    other => other.exit_code(),
                };
            }
        }
    }
    code
}

/// `--filter` values, parsed before any container is read.
pub(super) fn parse_filters(filters: &[String]) -> anyhow::Result<Vec<ContainerFilter>> {
    Ok(filters
        .iter()
        .map(|f| f.parse())
        .collect::<Result<_, EngineError>>()?)
}

fn require_names(names: &[String], verb: &str) -> anyhow::Result<()> {
    if names.is_empty() {
        anyhow::bail!("{verb} requires at least one container name or ID");
    }
    Ok(())
}

pub fn rm(dirs: &StorageDirs, args: RmArgs) -> anyhow::Result<i32> {
    let selection = ContainerSelection {
        names: args.containers,
        cidfiles: args.cidfile,
        all: args.all,
        latest: args.latest,
        filters: parse_filters(&args.filter)?,
        ignore_missing: args.ignore,
        running: false,
    };
    selection.validate()?;
    let options = RemoveOptions {
        force: args.force,
        timeout: args.time,
        ignore: args.ignore,
        depend: args.depend,
        volumes: args.volumes,
    };
    options.validate()?;
    let targets = selection.resolve(dirs, AllScope::Every)?;
    let codes = ExitCodes {
        missing: 1,
        running: 2,
    };
    Ok(each(&targets, codes, |target| {
        lifecycle::remove_target(dirs, target, &options, &StderrReporter)
    }))
}

#[derive(Args)]
pub struct StopArgs {
    /// Stop every running container
    #[arg(short, long)]
    all: bool,
    /// Read the container ID from FILE (repeatable)
    #[arg(long, value_name = "FILE")]
    cidfile: Vec<PathBuf>,
    /// Stop the containers these select (same filters as `ps`)
    #[arg(short, long = "filter", value_name = "FILTER")]
    filter: Vec<String>,
    /// Ignore containers (and cidfiles) that do not exist
    #[arg(short, long)]
    ignore: bool,
    /// Stop the latest created container
    #[arg(short, long)]
    latest: bool,
    /// Seconds to wait before killing the container
    #[arg(
        short,
        long = "time",
        visible_alias = "timeout",
        value_name = "SECONDS"
    )]
    time: Option<u32>,
    containers: Vec<String>,
}

pub fn stop(dirs: &StorageDirs, args: StopArgs) -> anyhow::Result<i32> {
    let selection = ContainerSelection {
        names: args.containers,
        cidfiles: args.cidfile,
        all: args.all,
        latest: args.latest,
        filters: parse_filters(&args.filter)?,
        ignore_missing: args.ignore,
        running: false,
    };
    let targets = selection.resolve(dirs, AllScope::Active)?;
    Ok(each(&targets, ENGINE_CODES, |target| {
        let name = &target.name;
        match lifecycle::stop_container(dirs, name, args.time) {
            Ok(StopOutcome::Killed { signal, timeout }) => {
                eprintln!(
                    "WARN[0{timeout}] StopSignal {signal} failed to stop container {name} in {timeout} seconds, resorting to SIGKILL"
                );
                Ok(Some(name.to_string()))
            }
            Ok(_) => Ok(Some(name.to_string())),
            Err(EngineError::State(StateError::NoSuchContainer { .. })) if args.ignore => Ok(None),
            Err(e) => Err(e),
        }
    }))
}

#[derive(Args)]
pub struct KillArgs {
    /// Signal every running container
    #[arg(short, long)]
    all: bool,
    /// Read the container ID from FILE (repeatable)
    #[arg(long, value_name = "FILE")]
    cidfile: Vec<PathBuf>,
    /// Signal the latest created container
    #[arg(short, long)]
    latest: bool,
    /// Signal to send (name or number)
    #[arg(short, long, default_value = "KILL")]
    signal: String,
    containers: Vec<String>,
}

pub fn kill(dirs: &StorageDirs, args: KillArgs) -> anyhow::Result<i32> {
    skiff::engine::signals::parse_signal(&args.signal)?;
    let selection = ContainerSelection {
        names: args.containers,
        cidfiles: args.cidfile,
        all: args.all,
        latest: args.latest,
        ..ContainerSelection::default()
    };
    let targets = selection.resolve(dirs, AllScope::Active)?;
    Ok(each(&targets, ENGINE_CODES, |target| {
        lifecycle::kill_container(dirs, &target.name, &args.signal)
            .map(|_| Some(target.name.clone()))
    }))
}

#[derive(Args)]
pub struct RestartArgs {
    /// Restart every container
    #[arg(short, long)]
    all: bool,
    /// Read the container ID from FILE (repeatable)
    #[arg(long, value_name = "FILE")]
    cidfile: Vec<PathBuf>,
    /// Restart the containers these select (same filters as `ps`)
    #[arg(short, long = "filter", value_name = "FILTER")]
    filter: Vec<String>,
    /// Restart the latest created container
    #[arg(short, long)]
    latest: bool,
    /// Restart only the running containers (every one, as podman)
    #[arg(long)]
    running: bool,
    /// Seconds to wait before killing the container
    #[arg(
        short,
        long = "time",
        visible_alias = "timeout",
        value_name = "SECONDS"
    )]
    time: Option<u32>,
    containers: Vec<String>,
}

pub fn restart(dirs: &StorageDirs, args: RestartArgs) -> anyhow::Result<i32> {
    let selection = ContainerSelection {
        names: args.containers,
        cidfiles: args.cidfile,
        all: args.all,
        latest: args.latest,
        filters: parse_filters(&args.filter)?,
        ignore_missing: false,
        running: args.running,
    };
    let targets = selection.resolve(dirs, AllScope::Every)?;
    Ok(each(&targets, ENGINE_CODES, |target| {
        lifecycle::restart_container(dirs, &target.name, args.time, &StderrReporter)
            .map(|_| Some(target.name.clone()))
    }))
}

#[derive(Args)]
pub struct WaitArgs {
    /// Condition to wait for: stopped (default), running, created, …
    #[arg(long)]
    condition: Vec<String>,
    containers: Vec<String>,
}

pub fn wait(dirs: &StorageDirs, args: WaitArgs) -> anyhow::Result<i32> {
    require_names(&args.containers, "wait")?;
    Ok(each(&args.containers, ENGINE_CODES, |name| {
        lifecycle::wait_container(dirs, name, &args.condition).map(|c| Some(c.to_string()))
    }))
}

#[derive(Args)]
pub struct RenameArgs {
    container: String,
    new_name: String,
}

pub fn rename(dirs: &StorageDirs, args: RenameArgs) -> anyhow::Result<i32> {
    lifecycle::rename_container(dirs, &args.container, &args.new_name)?;
    Ok(0)
}

#[derive(Args)]
pub struct PruneArgs {
    /// Do not ask for confirmation
    #[arg(short, long)]
    force: bool,
}

pub fn prune(dirs: &StorageDirs, args: PruneArgs) -> anyhow::Result<i32> {
    let _ = args.force; // skiff never prompts
    for id in lifecycle::prune_containers(dirs)? {
        println!("{id}");
    }
    Ok(0)
}

#[derive(Args)]
pub struct InspectArgs {
    /// Go template for each container
    #[arg(short, long, allow_hyphen_values = true)]
    format: Option<String>,
    /// Inspect the latest created container
    #[arg(short, long)]
    latest: bool,
    containers: Vec<String>,
}

pub fn inspect(dirs: &StorageDirs, args: InspectArgs) -> anyhow::Result<i32> {
    let store = ContainerStore::new(dirs);
    let mut names = args.containers;
    if args.latest
        && let Some(r) = list_containers(dirs)?.into_iter().next()
    {
        names.push(r.id);
    }
    if names.is_empty() {
        anyhow::bail!("inspect requires at least one container name or ID");
    }
    let mut docs = Vec::new();
    let mut code = 0;
    for name in &names {
        match find_container(&store, name) {
            Ok(record) => docs.push(container_json(dirs, &record)),
            // `skiff inspect NAME` also finds images, as podman's does.
            Err(e) => match skiff::engine::inspect_image(dirs, name) {
                Ok(image) => docs.push(image),
                Err(_) => {
                    eprintln!("Error: {e}");
                    code = 125;
                }
            },
        }
    }
    print_documents(&docs, args.format.as_deref())?;
    Ok(code)
}
