//! `skiff logs`.

use std::io::Write;
use std::os::fd::AsFd;
use std::time::{Duration, SystemTime};

use clap::Args;
use skiff::engine::lookup::{find_container, refresh};
use skiff::engine::{EngineError, OutputWatch, write_output};
use skiff::state::log::{
    LogEntry, LogFilter, LogFollower, Stream, apply_filter, format_timestamp, parse_time_bound,
    read_log,
};
use skiff::state::{ContainerStore, StorageDirs};

/// How often `logs -f` looks for new lines.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(100);

#[derive(Args)]
pub struct LogsArgs {
    /// Follow the log until the container stops
    #[arg(short, long)]
    follow: bool,
    /// Show only the last N lines
    #[arg(short = 'n', long)]
    tail: Option<String>,
    /// Show lines since a time (RFC 3339, Unix time, or a duration like 10m)
    #[arg(long)]
    since: Option<String>,
    /// Show lines before a time
    #[arg(long)]
    until: Option<String>,
    /// Show timestamps
    #[arg(short, long)]
    timestamps: bool,
    containers: Vec<String>,
}

/// Prints entries, keeping stdout and stderr apart. `line_start` tracks,
/// per stream, whether the next byte begins a line (for prefixes).
struct Printer {
    prefix: Option<String>,
    timestamps: bool,
    line_start: [bool; 2],
}

impl Printer {
    /// Prints entries; an error means the output's reader went away.
    fn print(&mut self, entries: &[LogEntry]) -> Result<(), EngineError> {
        let mut out = Vec::new();
        let mut err = Vec::new();
        for e in entries {
            let at_start = &mut self.line_start[e.stream as usize];
            let sink = match e.stream {
                Stream::Stdout => &mut out,
                Stream::Stderr => &mut err,
            };
            if *at_start {
                if let Some(p) = &self.prefix {
                    let _ = write!(sink, "{p} ");
                }
                if self.timestamps {
                    let _ = write!(sink, "{} ", format_timestamp(e.time));
                }
            }
            sink.extend_from_slice(&e.bytes);
            if !e.partial {
                sink.push(b'\n');
            }
            *at_start = !e.partial;
        }
        write_output(std::io::stdout().as_fd(), &out)
            .and_then(|()| write_output(std::io::stderr().as_fd(), &err))
            .map_err(|_| EngineError::output_gone())
    }
}

pub fn logs(dirs: &StorageDirs, args: LogsArgs) -> anyhow::Result<i32> {
    if args.containers.is_empty() {
        anyhow::bail!("logs requires at least one container name or ID");
    }
    let now = SystemTime::now();
    let tail = match args.tail.as_deref() {
        None | Some("all") => None,
        Some(n) => Some(n.parse::<i64>().map_err(|_| {
            anyhow::anyhow!("invalid --tail \"{n}\": give a number of lines or \"all\"")
        })?)
        .filter(|n| *n >= 0)
        .map(|n| n as usize),
    };
    let filter = LogFilter {
        since: args
            .since
            .as_deref()
            .map(|s| parse_time_bound(s, now))
            .transpose()?,
        until: args
            .until
            .as_deref()
            .map(|s| parse_time_bound(s, now))
            .transpose()?,
        tail,
    };
    let store = ContainerStore::new(dirs);
    let records = args
        .containers
        .iter()
        .map(|name| find_container(&store, name))
        .collect::<Result<Vec<_>, _>>()?;
    let several = records.len() > 1;
    if args.follow && several {
        anyhow::bail!("--follow follows one container at a time");
    }
    for record in &records {
        let mut printer = Printer {
            prefix: several.then(|| record.short_id().to_string()),
            timestamps: args.timestamps,
            line_start: [true, true],
        };
        let path = store.paths(&record.id).log_file();
        if !args.follow {
            printer.print(&apply_filter(read_log(&path)?, &filter))?;
            continue;
        }
        let mut follower = LogFollower::open(&path)?;
        let output = OutputWatch::stdio();
        printer.print(&apply_filter(follower.poll()?, &filter))?;
        let streaming = LogFilter {
            tail: None,
            ..filter.clone()
        };
        loop {
            // Read the state before the log: a line written just before the
            // container ended is then still picked up by the last poll.
            let running = refresh(&store, &record.id)
                .map(|r| r.status().is_active() || r.state.monitor.is_some())
                .unwrap_or(false);
            printer.print(&apply_filter(follower.poll()?, &streaming))?;
            if !running {
                break;
            }
            // Sleeps, unless the output's reader goes away meanwhile.
            if output.wait(FOLLOW_INTERVAL) {
                return Err(EngineError::output_gone().into());
            }
        }
    }
    Ok(0)
}
