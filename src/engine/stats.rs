//! `skiff stats`: one sample of a running container's usage, from its
//! cgroup's counters when it has one, else summed over its processes in
//! /proc (without block I/O, which only the cgroup counts).

use std::time::Duration;

use super::EngineError;
use super::cgroup::missing_cgroup_reason;
use super::lookup::find_container;
use super::processes::container_processes;
use crate::sandbox::cgroups::Cgroup;
use crate::state::{ContainerStore, StorageDirs};

/// One container's counters at one moment.
#[derive(Debug, Clone)]
pub struct UsageSample {
    pub id: String,
    pub name: String,
    /// CPU time used so far.
    pub cpu: Duration,
    pub memory_usage: u64,
    /// The container's memory limit, else the host's memory.
    pub memory_limit: u64,
    pub pids: u64,
    pub net_rx_bytes: u64,
    pub net_tx_bytes: u64,
    /// `None` when not measured (no cgroup).
    pub block_io: Option<(u64, u64)>,
    /// Why the numbers come from /proc instead of a cgroup.
    pub without_cgroup: Option<String>,
}

pub fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// Received and sent bytes over the interfaces of `pid`'s network
/// namespace, loopback excluded (as docker counts them).
fn network_bytes(pid: i32) -> (u64, u64) {
    sum_net_dev(&std::fs::read_to_string(format!("/proc/{pid}/net/dev")).unwrap_or_default())
}

fn sum_net_dev(text: &str) -> (u64, u64) {
    let mut totals = (0, 0);
    for line in text.lines().skip(2) {
        let Some((name, counters)) = line.split_once(':') else {
            continue;
        };
        if name.trim() == "lo" {
            continue;
        }
        let fields: Vec<u64> = counters
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        if fields.len() >= 9 {
            totals.0 += fields[0];
            totals.1 += fields[8];
        }
    }
    totals
}

/// Samples one running container.
pub fn sample_usage(dirs: &StorageDirs, name: &str) -> Result<UsageSample, EngineError> {
    let (record, processes) = container_processes(dirs, name)?;
    let pid1 = record.state.pid.map_or(0, |p| p.pid);
    // A joined network is counted as its own, as docker shows it.
    let private = record.config.network.is_private() || record.config.network.container().is_some();
    let (net_rx_bytes, net_tx_bytes) = if private { network_bytes(pid1) } else { (0, 0) };
    let mut sample = UsageSample {
        id: record.id.clone(),
        name: record.name.clone(),
        cpu: processes.iter().map(|p| p.cpu_time).sum(),
        memory_usage: processes.iter().map(|p| p.rss_bytes).sum(),
        memory_limit: host_memory(),
        pids: processes.len() as u64,
        net_rx_bytes,
        net_tx_bytes,
        block_io: None,
        without_cgroup: None,
    };
    let cgroup = record.state.cgroup_path.as_deref().and_then(Cgroup::open);
    match cgroup.map(|c| c.stats()) {
        Some(Ok(stats)) => {
            sample.cpu = stats.cpu_usage;
            sample.memory_usage = stats.memory_usage;
            if let Some(limit) = stats.memory_limit {
                sample.memory_limit = limit.min(sample.memory_limit.max(1));
            }
            sample.pids = stats.pids;
            sample.block_io = Some((stats.io_read_bytes, stats.io_write_bytes));
        }
        Some(Err(e)) => sample.without_cgroup = Some(e.to_string()),
        None => sample.without_cgroup = Some(missing_cgroup_reason(&record)),
    }
    Ok(sample)
}

/// The containers `stats` shows by default: the running ones (every one
/// with `all`).
pub fn stats_targets(dirs: &StorageDirs, all: bool) -> Result<Vec<String>, EngineError> {
    if !all {
        return super::lookup::active_container_ids(dirs);
    }
    Ok(super::lookup::list_containers(dirs)?
        .into_iter()
        .map(|r| r.id)
        .collect())
}

/// A zero sample for a container that does not run (`stats -a`).
pub fn idle_sample(dirs: &StorageDirs, name: &str) -> Result<UsageSample, EngineError> {
    let record = find_container(&ContainerStore::new(dirs), name)?;
    Ok(UsageSample {
        id: record.id,
        name: record.name,
        cpu: Duration::ZERO,
        memory_usage: 0,
        memory_limit: 0,
        pids: 0,
        net_rx_bytes: 0,
        net_tx_bytes: 0,
        block_io: Some((0, 0)),
        without_cgroup: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_counters_skip_loopback() {
        let text = "Inter-|   Receive |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     500       5    0    0    0     0          0         0      500       5    0    0    0     0       0          0
  eth0:    1200      10    0    0    0     0          0         0      340       3    0    0    0     0       0          0
";
        assert_eq!(sum_net_dev(text), (1200, 340));
        assert_eq!(network_bytes(-1), (0, 0));
    }
}
