//! `skiff top`, `stats`, `pause`, `unpause`, `port`, `cp`, `diff`, `export`.

use std::os::fd::AsFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use skiff::engine::lookup::{find_container, list_containers};
use skiff::engine::pause::set_paused;
use skiff::engine::processes::{ContainerProcess, container_processes};
use skiff::engine::selection::{AllScope, ContainerSelection};
use skiff::engine::stats::{UsageSample, idle_sample, sample_usage, stats_targets};
use skiff::engine::{EngineError, OutputWatch, write_output};
use skiff::state::{ContainerStore, StorageDirs};

use super::containers::{ENGINE_CODES, each, parse_filters};
use super::format::{Table, human_size};
use super::report::StderrReporter;

#[derive(Args)]
pub struct TopArgs {
    container: String,
    /// Columns (podman's descriptors): user huser pid ppid hpid pcpu etime
    /// time tty args comm state nice vsz rss; `-o LIST` is accepted too
    #[arg(allow_hyphen_values = true)]
    descriptors: Vec<String>,
}

/// One `top` column: header and cell of a process.
type TopColumn = (&'static str, fn(&TopRow<'_>) -> String);

/// What a `top` cell is made from.
struct TopRow<'a> {
    process: &'a ContainerProcess,
    user: String,
}

const TOP_DEFAULT: [&str; 8] = [
    "user", "pid", "ppid", "pcpu", "etime", "tty", "time", "args",
];

fn top_column(descriptor: &str) -> Option<TopColumn> {
    Some(match descriptor {
        "user" => ("USER", |r| r.user.clone()),
        "huser" => ("HUSER", |r| r.process.host_uid.to_string()),
        "pid" => ("PID", |r| r.process.pid.to_string()),
        "ppid" => ("PPID", |r| r.process.ppid.to_string()),
        "hpid" => ("HPID", |r| r.process.host_pid.to_string()),
        "pcpu" => ("%CPU", |r| {
            let p = r.process;
            format!(
                "{:.3}",
                100.0 * p.cpu_time.as_secs_f64() / p.elapsed.as_secs_f64().max(0.001)
            )
        }),
        "etime" => ("ELAPSED", |r| go_duration(r.process.elapsed)),
        "time" => ("TIME", |r| go_duration(r.process.cpu_time)),
        "tty" => ("TTY", |r| r.process.tty.clone()),
        "args" => ("COMMAND", |r| r.process.command.clone()),
        "comm" => ("COMMAND", |r| r.process.name.clone()),
        "state" => ("STATE", |r| r.process.state.to_string()),
        "nice" => ("NI", |r| r.process.nice.to_string()),
        "vsz" => ("VSZ", |r| (r.process.vsz_bytes / 1024).to_string()),
        "rss" => ("RSS", |r| (r.process.rss_bytes / 1024).to_string()),
        _ => return None,
    })
}

/// The columns `descriptors` ask for: words or comma lists, optionally
/// after ps's `-o`/`-eo`. docker users' `-ef` and `aux` (which docker
/// passes to ps) give the default columns.
fn top_columns(descriptors: &[String]) -> anyhow::Result<Vec<TopColumn>> {
    let mut words = Vec::new();
    for arg in descriptors {
        match arg.as_str() {
            "-o" | "-eo" | "-e" | "-A" | "-f" | "-ef" | "aux" | "-aux" => continue,
            flag if flag.starts_with('-') => anyhow::bail!(
                "ps option {flag:?} is not supported: give descriptors ({})",
                TOP_DESCRIPTORS
            ),
            list => words.extend(list.split(',').filter(|w| !w.is_empty())),
        }
    }
    if words.is_empty() {
        words.extend(TOP_DEFAULT);
    }
    words
        .into_iter()
        .map(|w| {
            top_column(w).ok_or_else(|| {
                anyhow::anyhow!("unknown descriptor {w:?}: supported are {TOP_DESCRIPTORS}")
            })
        })
        .collect()
}

const TOP_DESCRIPTORS: &str =
    "user, huser, pid, ppid, hpid, pcpu, etime, time, tty, args, comm, state, nice, vsz, rss";

/// `1h2m3s`-style, as podman prints ELAPSED and TIME.
fn go_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, d.as_secs_f64() % 60.0);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&format!("{}s", (s * 1000.0).round() / 1000.0));
    out
}

fn user_names(pid1: Option<i32>) -> impl Fn(u32) -> String {
    let passwd = pid1
        .and_then(|p| std::fs::read_to_string(format!("/proc/{p}/root/etc/passwd")).ok())
        .unwrap_or_default();
    move |uid| {
        passwd
            .lines()
            .find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 2 && f[2] == uid.to_string()).then(|| f[0].to_string())
            })
            .unwrap_or_else(|| uid.to_string())
    }
}

pub fn top(dirs: &StorageDirs, args: TopArgs) -> anyhow::Result<i32> {
    let columns = top_columns(&args.descriptors)?;
    let (record, processes) = container_processes(dirs, &args.container)?;
    let name = user_names(record.state.pid.map(|p| p.pid));
    let headers: Vec<&str> = columns.iter().map(|(h, _)| *h).collect();
    let mut table = Table::new(&headers);
    for process in &processes {
        let row = TopRow {
            process,
            user: name(process.uid),
        };
        table.row(columns.iter().map(|(_, cell)| cell(&row)).collect());
    }
    print!("{table}");
    Ok(0)
}

#[derive(Args)]
pub struct StatsArgs {
    /// Print one sample and exit
    #[arg(long = "no-stream")]
    no_stream: bool,
    /// Show every container (default: running)
    #[arg(short, long)]
    all: bool,
    containers: Vec<String>,
}

fn sample_all(dirs: &StorageDirs, names: &[String], all: bool) -> anyhow::Result<Vec<UsageSample>> {
    let mut rows = Vec::new();
    for name in names {
        match sample_usage(dirs, name) {
            Ok(sample) => rows.push(sample),
            Err(_) if all => rows.push(idle_sample(dirs, name)?),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(rows)
}

fn stats_table(before: &[UsageSample], after: &[UsageSample], wall: f64) -> Table {
    let mut table = Table::new(&[
        "ID",
        "NAME",
        "CPU %",
        "MEM USAGE / LIMIT",
        "MEM %",
        "NET IO",
        "BLOCK IO",
        "PIDS",
    ]);
    for (old, new) in before.iter().zip(after) {
        let cpu = 100.0 * new.cpu.saturating_sub(old.cpu).as_secs_f64() / wall;
        let mem_pct = 100.0 * new.memory_usage as f64 / new.memory_limit.max(1) as f64;
        let block_io = match new.block_io {
            Some((read, write)) => format!("{} / {}", human_size(read), human_size(write)),
            None => "--".into(),
        };
        table.row(vec![
            new.id[..12.min(new.id.len())].to_string(),
            new.name.clone(),
            format!("{cpu:.2}%"),
            format!(
                "{} / {}",
                human_size(new.memory_usage),
                human_size(new.memory_limit)
            ),
            format!("{mem_pct:.2}%"),
            format!(
                "{} / {}",
                human_size(new.net_rx_bytes),
                human_size(new.net_tx_bytes)
            ),
            block_io,
            new.pids.to_string(),
        ]);
    }
    table
}

pub fn stats(dirs: &StorageDirs, args: StatsArgs) -> anyhow::Result<i32> {
    let names: Vec<String> = if args.containers.is_empty() {
        stats_targets(dirs, args.all)?
    } else {
        args.containers.clone()
    };
    let mut noted = false;
    let output = OutputWatch::stdio();
    loop {
        let before = sample_all(dirs, &names, args.all)?;
        let started = Instant::now();
        // The sampling interval, cut short when the output's reader goes.
        if output.wait(Duration::from_millis(500)) {
            return Err(EngineError::output_gone().into());
        }
        let after = sample_all(dirs, &names, args.all)?;
        if !noted {
            for sample in after.iter().filter(|s| s.without_cgroup.is_some()) {
                eprintln!(
                    "note: {} has no cgroup of its own, so its CPU, memory and PIDs are summed from /proc and BLOCK IO is not measured: {}",
                    &sample.id[..12.min(sample.id.len())],
                    sample.without_cgroup.as_deref().unwrap_or_default()
                );
            }
            noted = true;
        }
        let table = stats_table(&before, &after, started.elapsed().as_secs_f64());
        let mut screen = String::new();
        if !args.no_stream {
            screen.push_str("\x1b[2J\x1b[H");
        }
        screen.push_str(&table.to_string());
        write_output(std::io::stdout().as_fd(), screen.as_bytes())
            .map_err(|_| EngineError::output_gone())?;
        if args.no_stream {
            return Ok(0);
        }
    }
}

#[derive(Args)]
pub struct PauseArgs {
    /// Pause (or unpause) every running (or paused) container
    #[arg(short, long)]
    all: bool,
    /// Read the container ID from FILE (repeatable)
    #[arg(long, value_name = "FILE")]
    cidfile: Vec<PathBuf>,
    /// Act on the containers these select (same filters as `ps`)
    #[arg(short, long = "filter", value_name = "FILTER")]
    filter: Vec<String>,
    /// Act on the latest created container
    #[arg(short, long)]
    latest: bool,
    containers: Vec<String>,
}

/// Freezes or thaws each container selected; prints each one done, like
/// podman, and reports the others' errors.
pub fn pause(dirs: &StorageDirs, args: PauseArgs, paused: bool) -> anyhow::Result<i32> {
    let selection = ContainerSelection {
        names: args.containers,
        cidfiles: args.cidfile,
        all: args.all,
        latest: args.latest,
        filters: parse_filters(&args.filter)?,
        ..ContainerSelection::default()
    };
    let scope = if paused {
        AllScope::Running
    } else {
        AllScope::Paused
    };
    let targets = selection.resolve(dirs, scope)?;
    Ok(each(&targets, ENGINE_CODES, |target| {
        set_paused(dirs, &target.name, paused).map(|_| Some(target.name.clone()))
    }))
}

#[derive(Args)]
pub struct PortArgs {
    /// Every running container's mappings, each after its full ID
    #[arg(short, long)]
    all: bool,
    /// The most recently created container
    #[arg(short, long)]
    latest: bool,
    /// CONTAINER [PORT[/PROTO]]
    #[arg(value_name = "CONTAINER [PORT]")]
    args: Vec<String>,
}

fn mapping_line(p: &skiff::net::PortMapping) -> String {
    format!(
        "{} -> {}:{}",
        p.container_key(),
        p.host_ip_text(),
        p.host_port
    )
}

/// podman's `port`: `80/tcp -> 0.0.0.0:8080` per published port, or the
/// host addresses of one container port; `-a`: every running container's,
/// each after its ID.
pub fn port(dirs: &StorageDirs, args: PortArgs) -> anyhow::Result<i32> {
    if args.all {
        if args.latest || !args.args.is_empty() {
            anyhow::bail!("--all cannot be used with --latest, a container or a port");
        }
        for record in list_containers(dirs)?
            .iter()
            .filter(|r| r.status().is_active() && !r.config.net.ports.is_empty())
        {
            println!("{}", record.id);
            record
                .config
                .net
                .ports
                .iter()
                .for_each(|p| println!("{}", mapping_line(p)));
        }
        return Ok(0);
    }
    let store = ContainerStore::new(dirs);
    let (record, port) = match (args.latest, args.args.as_slice()) {
        (true, port) if port.len() <= 1 => {
            let latest = list_containers(dirs)?
                .into_iter()
                .next()
                .ok_or_else(|| anyhow::anyhow!("no containers to choose the latest from"))?;
            (latest, port.first().cloned())
        }
        (false, [name]) => (find_container(&store, name)?, None),
        (false, [name, port]) => (find_container(&store, name)?, Some(port.clone())),
        (false, []) => anyhow::bail!("port needs a container name, --latest or --all"),
        _ => anyhow::bail!("port takes a container and at most one PORT[/PROTO]"),
    };
    let ports = &record.config.net.ports;
    match port {
        None => ports.iter().for_each(|p| println!("{}", mapping_line(p))),
        Some(port) => {
            let key = if port.contains('/') {
                port
            } else {
                format!("{port}/tcp")
            };
            let found: Vec<_> = ports.iter().filter(|p| p.container_key() == key).collect();
            if found.is_empty() {
                anyhow::bail!("failed to find published port \"{key}\"");
            }
            for p in found {
                println!("{}:{}", p.host_ip_text(), p.host_port);
            }
        }
    }
    Ok(0)
}

#[derive(Args)]
pub struct CpArgs {
    /// CONTAINER:PATH, a host path, or - for a tar stream on stdin
    source: String,
    /// CONTAINER:PATH, a host path, or - for a tar stream on stdout
    destination: String,
}

pub fn cp(dirs: &StorageDirs, args: CpArgs) -> anyhow::Result<i32> {
    skiff::engine::copy(dirs, &args.source, &args.destination)?;
    Ok(0)
}

#[derive(Args)]
pub struct DiffArgs {
    container: String,
}

pub fn diff(dirs: &StorageDirs, args: DiffArgs) -> anyhow::Result<i32> {
    for change in skiff::engine::changes::container_changes(dirs, &args.container)? {
        println!("{} {}", change.kind, change.path);
    }
    Ok(0)
}

#[derive(Args)]
pub struct ExportArgs {
    /// Write to a file instead of standard output
    #[arg(short, long)]
    output: Option<std::path::PathBuf>,
    container: String,
}

pub fn export(dirs: &StorageDirs, args: ExportArgs) -> anyhow::Result<i32> {
    use std::io::IsTerminal;
    match &args.output {
        Some(path) => {
            let mut file = std::fs::File::create(path)
                .map_err(|e| anyhow::anyhow!("creating {}: {e}", path.display()))?;
            skiff::engine::changes::export_container(dirs, &args.container, &mut file)?;
        }
        None => {
            if std::io::stdout().is_terminal() {
                anyhow::bail!(
                    "refusing to write a tar archive to a terminal: use -o FILE or redirect the output"
                );
            }
            skiff::engine::changes::export_container(
                dirs,
                &args.container,
                &mut std::io::stdout().lock(),
            )?;
        }
    }
    Ok(0)
}

#[derive(Args)]
pub struct CommitArgs {
    /// Author recorded in the image
    #[arg(short, long, allow_hyphen_values = true)]
    author: Option<String>,
    /// Commit message, recorded in the image's history
    #[arg(short, long, allow_hyphen_values = true)]
    message: Option<String>,
    /// Apply a Dockerfile instruction to the image config (CMD, ENV, …)
    #[arg(short, long, allow_hyphen_values = true)]
    change: Vec<String>,
    /// Print only the image ID
    #[arg(short, long)]
    quiet: bool,
    container: String,
    /// Name for the new image
    image: Option<String>,
}

pub fn commit(dirs: &StorageDirs, args: CommitArgs) -> anyhow::Result<i32> {
    let options = skiff::layers::CommitOptions {
        reference: args.image,
        author: args.author,
        message: args.message,
        changes: args.change,
        created_by: format!("skiff commit {}", args.container),
    };
    let id = skiff::engine::commit_container(dirs, &args.container, &options, &StderrReporter)?;
    let _ = args.quiet; // the ID is all commit prints either way
    println!("{}", id.hex());
    Ok(0)
}
