//! cgroup v1: one directory per controller hierarchy, the same path in
//! each (`/skiff/<id>`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::devices::DevicePolicy;
use super::host::V1_CONTROLLERS;
use super::{
    CgroupError, CgroupStats, Limits, keyed_value, read_number, remove_dir, wait_for_freezer,
    write_file,
};

/// v1 reports "no limit" as a huge page-aligned number.
const UNLIMITED_ABOVE: u64 = 1 << 62;

/// Creates the container's directory in every hierarchy it uses and
/// applies `limits`. Returns `controller → directory`.
pub(super) fn create(
    mounts: &BTreeMap<String, PathBuf>,
    path: &str,
    limits: &Limits,
    devices: Option<&DevicePolicy>,
) -> Result<BTreeMap<String, PathBuf>, CgroupError> {
    let wants_cpuset = limits.cpuset_cpus.is_some() || limits.cpuset_mems.is_some();
    let mut controllers: Vec<&str> = V1_CONTROLLERS.to_vec();
    if wants_cpuset {
        controllers.push("cpuset");
    }
    if devices.is_some() {
        if !mounts.contains_key("devices") {
            return Err(CgroupError::DevicePolicy(
                "this host has no devices cgroup controller mounted".into(),
            ));
        }
        controllers.push("devices");
    }
    for (controller, flag) in limits.needed_controllers() {
        if !mounts.contains_key(controller) {
            return Err(CgroupError::Unavailable(format!(
                "cannot apply {flag}: this host has no {controller} cgroup controller mounted"
            )));
        }
    }
    let relative = path.trim_start_matches('/');
    let dirs: BTreeMap<String, PathBuf> = controllers
        .iter()
        .filter_map(|c| Some((c.to_string(), mounts.get(*c)?.join(relative))))
        .collect();
    let created = (|| {
        for (controller, dir) in &dirs {
            if controller == "cpuset" {
                create_cpuset_dirs(&mounts["cpuset"], dir)?;
            } else {
                std::fs::create_dir_all(dir).map_err(CgroupError::io(dir))?;
            }
        }
        apply(&dirs, limits)?;
        match (devices, dirs.get("devices")) {
            (Some(policy), Some(dir)) => super::devices::apply_v1(dir, policy),
            _ => Ok(()),
        }
    })();
    if let Err(e) = created {
        for dir in distinct(&dirs) {
            let _ = std::fs::remove_dir(dir);
        }
        return Err(e);
    }
    Ok(dirs)
}

/// A new cpuset directory has no CPUs or memory nodes and refuses tasks;
/// each level gets its parent's.
fn create_cpuset_dirs(mount: &Path, dir: &Path) -> Result<(), CgroupError> {
    let mut levels = Vec::new();
    let mut level = dir.to_path_buf();
    while level.starts_with(mount) && level != mount {
        levels.push(level.clone());
        level.pop();
    }
    for level in levels.iter().rev() {
        if level.exists() {
            continue;
        }
        std::fs::create_dir(level).map_err(CgroupError::io(level))?;
        let parent = level.parent().unwrap_or(mount);
        for file in ["cpuset.cpus", "cpuset.mems"] {
            let value = std::fs::read_to_string(parent.join(file)).unwrap_or_default();
            write_file(&level.join(file), value.trim())?;
        }
    }
    Ok(())
}

/// Each directory once (co-mounted controllers share one).
fn distinct(dirs: &BTreeMap<String, PathBuf>) -> BTreeSet<&PathBuf> {
    dirs.values().collect()
}

/// Writes the limit files into the controllers' directories.
pub(super) fn apply(dirs: &BTreeMap<String, PathBuf>, limits: &Limits) -> Result<(), CgroupError> {
    let write = |controller: &str, file: &str, value: String| match dirs.get(controller) {
        Some(dir) => write_file(&dir.join(file), &value),
        None => Err(CgroupError::Unavailable(format!(
            "this host has no {controller} cgroup controller mounted"
        ))),
    };
    if let Some(limit) = limits.memory {
        write("memory", "memory.limit_in_bytes", limit.to_string())?;
    }
    if let Some(swap) = limits.memory_swap {
        // memsw exists only with swap accounting; without it docker warns
        // and drops the limit, we refuse it.
        let file = "memory.memsw.limit_in_bytes";
        if dirs.get("memory").is_some_and(|d| !d.join(file).exists()) {
            return Err(CgroupError::Unavailable(
                "cannot apply --memory-swap: this kernel does not account swap in cgroup v1 (memory.memsw.limit_in_bytes is missing)".into(),
            ));
        }
        write("memory", file, swap.to_string())?;
    }
    if let Some(low) = limits.memory_reservation {
        write("memory", "memory.soft_limit_in_bytes", low.to_string())?;
    }
    if let Some(shares) = limits.cpu_shares {
        write("cpu", "cpu.shares", shares.to_string())?;
    }
    if let Some(period) = limits.cpu_period {
        write("cpu", "cpu.cfs_period_us", period.to_string())?;
    }
    if let Some(quota) = limits.cpu_quota {
        write("cpu", "cpu.cfs_quota_us", quota.to_string())?;
    }
    if let Some(cpus) = &limits.cpuset_cpus {
        write("cpuset", "cpuset.cpus", cpus.clone())?;
    }
    if let Some(mems) = &limits.cpuset_mems {
        write("cpuset", "cpuset.mems", mems.clone())?;
    }
    if let Some(pids) = limits.pids {
        let value = if pids > 0 {
            pids.to_string()
        } else {
            "max".into()
        };
        write("pids", "pids.max", value)?;
    }
    Ok(())
}

pub(super) fn join(dirs: &BTreeMap<String, PathBuf>, pid: i32) -> Result<(), CgroupError> {
    for dir in distinct(dirs) {
        write_file(&dir.join("cgroup.procs"), &pid.to_string())?;
    }
    Ok(())
}

pub(super) fn set_frozen(
    dirs: &BTreeMap<String, PathBuf>,
    frozen: bool,
) -> Result<(), CgroupError> {
    let Some(dir) = dirs.get("freezer") else {
        return Err(CgroupError::Unsupported(
            "this host has no freezer cgroup controller mounted".into(),
        ));
    };
    let state = dir.join("freezer.state");
    let wanted = if frozen { "FROZEN" } else { "THAWED" };
    wait_for_freezer(dir, frozen, || {
        // Writing again is how v1 retries a freeze stuck in FREEZING.
        write_file(&state, wanted)?;
        let now = std::fs::read_to_string(&state).map_err(CgroupError::io(&state))?;
        Ok(now.trim() == wanted)
    })
}

pub(super) fn stats(dirs: &BTreeMap<String, PathBuf>) -> Result<CgroupStats, CgroupError> {
    let file = |controller: &str, name: &str| dirs.get(controller).map(|d| d.join(name));
    let number =
        |controller: &str, name: &str| file(controller, name).and_then(|p| read_number(&p));
    let text = |controller: &str, name: &str| {
        file(controller, name)
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    };
    if let Some(dir) = dirs.values().next()
        && !dirs.values().any(|d| d.join("cgroup.procs").exists())
    {
        return Err(CgroupError::io(dir)(std::io::ErrorKind::NotFound.into()));
    }
    let usage = number("memory", "memory.usage_in_bytes").unwrap_or(0);
    let inactive = keyed_value(&text("memory", "memory.stat"), "total_inactive_file").unwrap_or(0);
    let (mut io_read, mut io_write) = (0, 0);
    for line in text("blkio", "blkio.throttle.io_service_bytes_recursive").lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if let [_device, op, value] = fields[..] {
            let value: u64 = value.parse().unwrap_or(0);
            match op {
                "Read" => io_read += value,
                "Write" => io_write += value,
                _ => {}
            }
        }
    }
    Ok(CgroupStats {
        cpu_usage: Duration::from_nanos(number("cpuacct", "cpuacct.usage").unwrap_or(0)),
        memory_usage: usage.saturating_sub(inactive),
        memory_limit: number("memory", "memory.limit_in_bytes").filter(|l| *l < UNLIMITED_ABOVE),
        pids: number("pids", "pids.current").unwrap_or(0),
        io_read_bytes: io_read,
        io_write_bytes: io_write,
    })
}

pub(super) fn oom_kills(dirs: &BTreeMap<String, PathBuf>) -> u64 {
    dirs.get("memory")
        .and_then(|d| std::fs::read_to_string(d.join("memory.oom_control")).ok())
        .and_then(|t| keyed_value(&t, "oom_kill"))
        .unwrap_or(0)
}

pub(super) fn remove(
    dirs: &BTreeMap<String, PathBuf>,
    deadline: Instant,
) -> Result<(), CgroupError> {
    if let Some(dir) = dirs.values().next() {
        super::kill_listed(&dir.join("cgroup.procs"));
    }
    // Frozen processes die only once thawed.
    if let Some(dir) = dirs.get("freezer") {
        let _ = std::fs::write(dir.join("freezer.state"), "THAWED");
    }
    let mut result = Ok(());
    for dir in distinct(dirs) {
        if let Err(e) = remove_dir(dir, deadline) {
            result = Err(e);
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirs_in(root: &Path) -> BTreeMap<String, PathBuf> {
        let mut dirs = BTreeMap::new();
        for c in ["memory", "cpu", "cpuacct", "pids"] {
            let dir = root.join(c);
            std::fs::create_dir_all(&dir).unwrap();
            dirs.insert(c.to_string(), dir);
        }
        dirs
    }

    #[test]
    fn limits_become_v1_files() {
        let tmp = tempfile::tempdir().unwrap();
        let dirs = dirs_in(tmp.path());
        std::fs::write(dirs["memory"].join("memory.memsw.limit_in_bytes"), "").unwrap();
        let limits = Limits {
            memory: Some(64 << 20),
            memory_swap: Some(128 << 20),
            cpu_shares: Some(512),
            cpu_quota: Some(50_000),
            cpu_period: Some(100_000),
            pids: Some(0),
            ..Limits::default()
        };
        apply(&dirs, &limits).unwrap();
        let read = |c: &str, f: &str| std::fs::read_to_string(dirs[c].join(f)).unwrap();
        assert_eq!(
            read("memory", "memory.limit_in_bytes"),
            (64u64 << 20).to_string()
        );
        assert_eq!(
            read("memory", "memory.memsw.limit_in_bytes"),
            (128u64 << 20).to_string()
        );
        assert_eq!(read("cpu", "cpu.shares"), "512");
        assert_eq!(read("cpu", "cpu.cfs_quota_us"), "50000");
        assert_eq!(read("cpu", "cpu.cfs_period_us"), "100000");
        assert_eq!(read("pids", "pids.max"), "max");
    }

    #[test]
    fn swap_without_accounting_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dirs = dirs_in(tmp.path());
        let limits = Limits {
            memory: Some(64 << 20),
            memory_swap: Some(128 << 20),
            ..Limits::default()
        };
        let err = apply(&dirs, &limits).unwrap_err().to_string();
        assert!(err.contains("--memory-swap"), "{err}");
    }

    #[test]
    fn counters_are_read() {
        let tmp = tempfile::tempdir().unwrap();
        let dirs = dirs_in(tmp.path());
        let put = |c: &str, f: &str, v: &str| std::fs::write(dirs[c].join(f), v).unwrap();
        put("memory", "cgroup.procs", "1\n");
        put("cpuacct", "cpuacct.usage", "1500000000\n");
        put("memory", "memory.usage_in_bytes", "9000\n");
        put(
            "memory",
            "memory.stat",
            "cache 1\ntotal_inactive_file 1000\n",
        );
        put("memory", "memory.limit_in_bytes", "9223372036854771712\n");
        put(
            "memory",
            "memory.oom_control",
            "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
        );
        put("pids", "pids.current", "4\n");
        let s = stats(&dirs).unwrap();
        assert_eq!(s.cpu_usage, Duration::from_millis(1500));
        assert_eq!(s.memory_usage, 8000);
        assert_eq!(s.memory_limit, None);
        assert_eq!(s.pids, 4);
        assert_eq!(oom_kills(&dirs), 2);
    }
}
