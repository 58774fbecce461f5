//! cgroup v2: one directory, controllers enabled from above through
//! `cgroup.subtree_control`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::devices::DevicePolicy;
use super::{
    CgroupError, CgroupStats, Limits, keyed_value, read_number, remove_dir, wait_for_freezer,
    write_file,
};

/// Controllers enabled for container cgroups when the parent offers them.
const WANTED: [&str; 5] = ["cpu", "memory", "pids", "io", "cpuset"];
/// docker's default CFS period.
const DEFAULT_CPU_PERIOD: u64 = 100_000;

/// Enables the wanted controllers on every level from the hierarchy's root
/// down to `parent`, so a child of `parent` gets them. Levels we may not
/// write (above a delegated subtree) are left as they are: what they did
/// not enable shows up as a missing controller below.
fn enable_controllers(mount: &Path, parent: &Path) {
    let mut levels = vec![parent.to_path_buf()];
    let mut dir = parent.to_path_buf();
    while dir.pop() && dir.starts_with(mount) {
        levels.push(dir.clone());
    }
    for level in levels.iter().rev() {
        let available =
            std::fs::read_to_string(level.join("cgroup.controllers")).unwrap_or_default();
        let enabled =
            std::fs::read_to_string(level.join("cgroup.subtree_control")).unwrap_or_default();
        for controller in WANTED {
            let has = |text: &str| text.split_whitespace().any(|c| c == controller);
            if has(&available) && !has(&enabled) {
                let _ = std::fs::write(
                    level.join("cgroup.subtree_control"),
                    format!("+{controller}"),
                );
            }
        }
    }
}

/// Creates `<parent>/<name>` (and `parent` if missing) and applies `limits`.
pub(super) fn create(
    mount: &Path,
    parent: &Path,
    name: &str,
    limits: &Limits,
    devices: Option<&DevicePolicy>,
) -> Result<PathBuf, CgroupError> {
    std::fs::create_dir_all(parent).map_err(CgroupError::io(parent))?;
    enable_controllers(mount, parent);
    let dir = parent.join(name);
    match std::fs::create_dir(&dir) {
        Ok(()) => {}
        // Left by a crash; the same container reuses it, never frozen.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let _ = std::fs::write(dir.join("cgroup.freeze"), "0");
        }
        Err(e) => return Err(CgroupError::io(&dir)(e)),
    }
    let available = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    for (controller, flag) in limits.needed_controllers() {
        if !available.split_whitespace().any(|c| c == controller) {
            let _ = std::fs::remove_dir(&dir);
            return Err(CgroupError::Unavailable(format!(
                "cannot apply {flag}: the {controller} controller is not available in {} (not enabled or not delegated)",
                parent.display()
            )));
        }
    }
    let applied = apply(&dir, limits).and_then(|()| match devices {
        Some(policy) => {
            let fd = std::fs::File::open(&dir)
                .map_err(|e| CgroupError::DevicePolicy(format!("{}: {e}", dir.display())))?;
            super::devices::attach_v2(std::os::fd::AsFd::as_fd(&fd), policy, &dir)
        }
        None => Ok(()),
    });
    if let Err(e) = applied {
        let _ = std::fs::remove_dir(&dir);
        return Err(e);
    }
    Ok(dir)
}

/// runc's mapping of v1 shares (2…262144) onto v2 weights (1…10000).
pub(super) fn cpu_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 100;
    }
    1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142
}

/// Writes the limit files of `dir`.
pub(super) fn apply(dir: &Path, limits: &Limits) -> Result<(), CgroupError> {
    let write = |file: &str, value: String| write_file(&dir.join(file), &value);
    if let Some(limit) = limits.memory {
        write("memory.max", limit.to_string())?;
    }
    if let Some(swap) = limits.memory_swap {
        // v2 limits swap alone; docker's flag is memory plus swap.
        let value = match (swap, limits.memory) {
            (s, _) if s < 0 => "max".to_string(),
            (s, Some(m)) => (s - m).max(0).to_string(),
            (s, None) => s.to_string(),
        };
        write("memory.swap.max", value)?;
    }
    if let Some(low) = limits.memory_reservation {
        write("memory.low", low.to_string())?;
    }
    if let Some(shares) = limits.cpu_shares {
        write("cpu.weight", cpu_weight(shares).to_string())?;
    }
    if limits.cpu_quota.is_some() || limits.cpu_period.is_some() {
        let period = limits.cpu_period.unwrap_or(DEFAULT_CPU_PERIOD);
        let quota = match limits.cpu_quota {
            Some(q) if q > 0 => q.to_string(),
            _ => "max".to_string(),
        };
        write("cpu.max", format!("{quota} {period}"))?;
    }
    if let Some(cpus) = &limits.cpuset_cpus {
        write("cpuset.cpus", cpus.clone())?;
    }
    if let Some(mems) = &limits.cpuset_mems {
        write("cpuset.mems", mems.clone())?;
    }
    if let Some(pids) = limits.pids {
        let value = if pids > 0 {
            pids.to_string()
        } else {
            "max".into()
        };
        write("pids.max", value)?;
    }
    Ok(())
}

pub(super) fn join(dir: &Path, pid: i32) -> Result<(), CgroupError> {
    write_file(&dir.join("cgroup.procs"), &pid.to_string())
}

pub(super) fn set_frozen(dir: &Path, frozen: bool) -> Result<(), CgroupError> {
    let events = dir.join("cgroup.events");
    if !dir.join("cgroup.freeze").exists() {
        return Err(CgroupError::Unsupported(
            "this kernel's cgroup v2 has no freezer (cgroup.freeze needs Linux 5.2)".into(),
        ));
    }
    write_file(&dir.join("cgroup.freeze"), if frozen { "1" } else { "0" })?;
    let wanted = u64::from(frozen);
    wait_for_freezer(dir, frozen, || {
        let text = std::fs::read_to_string(&events).map_err(CgroupError::io(&events))?;
        Ok(keyed_value(&text, "frozen") == Some(wanted))
    })
}

pub(super) fn stats(dir: &Path) -> Result<CgroupStats, CgroupError> {
    let read = |file: &str| std::fs::read_to_string(dir.join(file)).unwrap_or_default();
    let procs = dir.join("cgroup.procs");
    if !procs.exists() {
        return Err(CgroupError::io(&procs)(std::io::ErrorKind::NotFound.into()));
    }
    let current = read_number(&dir.join("memory.current")).unwrap_or(0);
    let inactive = keyed_value(&read("memory.stat"), "inactive_file").unwrap_or(0);
    let (mut io_read, mut io_write) = (0, 0);
    for line in read("io.stat").lines() {
        for field in line.split_whitespace().skip(1) {
            match field.split_once('=') {
                Some(("rbytes", v)) => io_read += v.parse::<u64>().unwrap_or(0),
                Some(("wbytes", v)) => io_write += v.parse::<u64>().unwrap_or(0),
                _ => {}
            }
        }
    }
    Ok(CgroupStats {
        cpu_usage: Duration::from_micros(keyed_value(&read("cpu.stat"), "usage_usec").unwrap_or(0)),
        memory_usage: current.saturating_sub(inactive),
        memory_limit: read_number(&dir.join("memory.max")),
        pids: read_number(&dir.join("pids.current")).unwrap_or(0),
        io_read_bytes: io_read,
        io_write_bytes: io_write,
    })
}

pub(super) fn oom_kills(dir: &Path) -> u64 {
    std::fs::read_to_string(dir.join("memory.events"))
        .ok()
        .and_then(|t| keyed_value(&t, "oom_kill"))
        .unwrap_or(0)
}

pub(super) fn remove(dir: &Path, deadline: Instant) -> Result<(), CgroupError> {
    // cgroup.kill (Linux 5.14) kills atomically, also processes forking.
    if std::fs::write(dir.join("cgroup.kill"), "1").is_err() {
        super::kill_listed(&dir.join("cgroup.procs"));
    }
    remove_dir(dir, deadline)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(dir: &Path, file: &str) -> String {
        std::fs::read_to_string(dir.join(file)).unwrap()
    }

    #[test]
    fn limits_become_v2_files() {
        let tmp = tempfile::tempdir().unwrap();
        let limits = Limits {
            memory: Some(64 << 20),
            memory_swap: Some(96 << 20),
            memory_reservation: Some(32 << 20),
            cpu_shares: Some(1024),
            cpu_quota: Some(150_000),
            cpu_period: None,
            cpuset_cpus: Some("0".into()),
            cpuset_mems: None,
            pids: Some(20),
        };
        apply(tmp.path(), &limits).unwrap();
        assert_eq!(read(tmp.path(), "memory.max"), (64u64 << 20).to_string());
        assert_eq!(
            read(tmp.path(), "memory.swap.max"),
            (32u64 << 20).to_string()
        );
        assert_eq!(read(tmp.path(), "memory.low"), (32u64 << 20).to_string());
        assert_eq!(read(tmp.path(), "cpu.weight"), "39");
        assert_eq!(read(tmp.path(), "cpu.max"), "150000 100000");
        assert_eq!(read(tmp.path(), "cpuset.cpus"), "0");
        assert_eq!(read(tmp.path(), "pids.max"), "20");
        assert!(!tmp.path().join("cpuset.mems").exists());
    }

    #[test]
    fn unlimited_values_are_max() {
        let tmp = tempfile::tempdir().unwrap();
        let limits = Limits {
            memory: Some(1 << 30),
            memory_swap: Some(-1),
            cpu_period: Some(50_000),
            pids: Some(-1),
            ..Limits::default()
        };
        apply(tmp.path(), &limits).unwrap();
        assert_eq!(read(tmp.path(), "memory.swap.max"), "max");
        assert_eq!(read(tmp.path(), "cpu.max"), "max 50000");
        assert_eq!(read(tmp.path(), "pids.max"), "max");
    }

    #[test]
    fn shares_map_onto_weights_like_runc() {
        assert_eq!(cpu_weight(2), 1);
        assert_eq!(cpu_weight(262_144), 10000);
        assert_eq!(cpu_weight(1024), 39);
    }

    #[test]
    fn counters_are_read() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        std::fs::write(d.join("cgroup.procs"), "1\n").unwrap();
        std::fs::write(d.join("cpu.stat"), "usage_usec 2500000\nuser_usec 1\n").unwrap();
        std::fs::write(d.join("memory.current"), "10000\n").unwrap();
        std::fs::write(d.join("memory.stat"), "anon 1\ninactive_file 4000\n").unwrap();
        std::fs::write(d.join("memory.max"), "max\n").unwrap();
        std::fs::write(d.join("pids.current"), "3\n").unwrap();
        std::fs::write(
            d.join("io.stat"),
            "8:0 rbytes=100 wbytes=20 rios=1\n8:16 rbytes=1 wbytes=2\n",
        )
        .unwrap();
        std::fs::write(d.join("memory.events"), "oom 2\noom_kill 1\n").unwrap();
        let s = stats(d).unwrap();
        assert_eq!(s.cpu_usage, Duration::from_millis(2500));
        assert_eq!(s.memory_usage, 6000);
        assert_eq!(s.memory_limit, None);
        assert_eq!(s.pids, 3);
        assert_eq!((s.io_read_bytes, s.io_write_bytes), (101, 22));
        assert_eq!(oom_kills(d), 1);
    }
}
