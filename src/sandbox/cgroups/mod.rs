//! A container's own cgroup: created before its PID 1 runs, given the
//! spec's resource limits, frozen by `pause`, read by `stats`, asked about
//! OOM kills after an exit, removed when the container ends.
//!
//! cgroup v2 where the host has a unified hierarchy with controllers; the
//! v1 controllers of a hybrid or legacy host otherwise (as root only:
//! v1 cannot be delegated). The decisions (which directory, which files)
//! are in `host.rs`, `v1.rs` and `v2.rs` as functions of directories, so
//! unit tests point them at a temp dir.

mod devices;
mod host;
mod limits;
mod v1;
mod v2;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use devices::{DeviceKind, DevicePolicy, DeviceRule, MKNOD, READ, WRITE};
pub use host::{CgroupHost, HostCgroups, unified_host};
pub use limits::Limits;

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Limits were asked for but this host (or user) has no cgroup to
    /// put them in.
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Unsupported(String),
    /// The device policy could not be put on the container's cgroup.
    #[error("cannot apply the device policy: {0}")]
    DevicePolicy(String),
    #[error("the cgroup {path} did not become {wanted} within {seconds} s")]
    Timeout {
        path: PathBuf,
        wanted: &'static str,
        seconds: u64,
    },
}

impl CgroupError {
    /// EACCES/EPERM: the cgroup exists but this caller may not act on it.
    pub fn is_permission_denied(&self) -> bool {
        matches!(self, CgroupError::Io { source, .. }
            if source.kind() == std::io::ErrorKind::PermissionDenied)
    }

    pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CgroupError + '_ {
        move |source| CgroupError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// How long a freeze or thaw may take before it counts as failed.
const FREEZE_DEADLINE: Duration = Duration::from_secs(5);
/// How long removal waits for the last processes to leave the cgroup.
const REMOVE_DEADLINE: Duration = Duration::from_secs(5);

/// One container's cgroup as it exists on the host. The container's state
/// keeps only its path (`path()`); `open` finds the directories again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cgroup {
    /// One directory in the unified hierarchy.
    V2 {
        dir: PathBuf,
        /// The path inside the hierarchy, e.g. `/skiff/<id>`.
        path: String,
    },
    /// One directory per mounted v1 hierarchy (`controller → dir`; the
    /// controllers of a co-mounted hierarchy share a directory).
    V1 {
        dirs: std::collections::BTreeMap<String, PathBuf>,
        /// The path inside each hierarchy, e.g. `/skiff/<id>`.
        path: String,
    },
}

/// What `stats` shows, read from the cgroup's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CgroupStats {
    pub cpu_usage: Duration,
    /// Memory in use minus the inactive page cache, as docker counts it.
    pub memory_usage: u64,
    /// `None` when unlimited.
    pub memory_limit: Option<u64>,
    pub pids: u64,
    pub io_read_bytes: u64,
    pub io_write_bytes: u64,
}

impl Cgroup {
    /// Creates the container's cgroup called `name` below the host's
    /// parent and applies `limits`. `Ok(None)` when the host has no cgroup
    /// for us and no limit was asked for (a limit is never dropped
    /// silently).
    /// `devices`, when given, is enforced on the new cgroup before anything
    /// runs in it (root only: an unprivileged caller may not set it, and
    /// needs none, see `devices.rs`).
    pub fn create(
        host: &HostCgroups,
        parent: Option<&str>,
        name: &str,
        limits: &Limits,
        devices: Option<&DevicePolicy>,
    ) -> Result<Option<Cgroup>, CgroupError> {
        let host = match host.usable() {
            Ok(host) => host,
            Err(_) if limits.is_empty() => return Ok(None),
            Err(reason) => {
                return Err(CgroupError::Unavailable(format!(
                    "cannot apply resource limits: {reason}"
                )));
            }
        };
        let cgroup = match host {
            CgroupHost::Unified {
                mount,
                parent: base,
            } => {
                let parent_dir = match parent {
                    Some(p) => mount.join(p.trim_start_matches('/')),
                    None => base.clone(),
                };
                let dir = v2::create(mount, &parent_dir, name, limits, devices)?;
                let path = format!("/{}", dir.strip_prefix(mount).unwrap_or(&dir).display());
                Cgroup::V2 { dir, path }
            }
            CgroupHost::Legacy { mounts } => {
                let path = format!("/{}/{name}", parent.unwrap_or("skiff").trim_matches('/'));
                Cgroup::V1 {
                    dirs: v1::create(mounts, &path, limits, devices)?,
                    path,
                }
            }
        };
        Ok(Some(cgroup))
    }

    /// The existing cgroup at `path` (as `path()` gave it) on this host.
    pub fn open(path: &str) -> Option<Cgroup> {
        let mounts = host::current_mounts();
        let relative = path.trim_start_matches('/');
        if let Some(mount) = &mounts.unified {
            let dir = mount.join(relative);
            if !relative.is_empty() && dir.join("cgroup.procs").exists() {
                return Some(Cgroup::V2 {
                    dir,
                    path: path.to_string(),
                });
            }
        }
        let dirs: std::collections::BTreeMap<String, PathBuf> = mounts
            .v1
            .iter()
            .map(|(c, m)| (c.clone(), m.join(relative)))
            .filter(|(_, d)| d.join("cgroup.procs").exists())
            .collect();
        (!dirs.is_empty() && !relative.is_empty()).then(|| Cgroup::V1 {
            dirs,
            path: path.to_string(),
        })
    }

    /// The path inside the hierarchy, as `inspect` shows it.
    pub fn path(&self) -> String {
        match self {
            Cgroup::V2 { path, .. } | Cgroup::V1 { path, .. } => path.clone(),
        }
    }

    /// v2: the cgroup's directory, for starting a child inside it
    /// (`CLONE_INTO_CGROUP`); v1 has no such thing.
    pub fn directory_fd(&self) -> Option<std::os::fd::OwnedFd> {
        match self {
            Cgroup::V2 { dir, .. } => std::fs::File::open(dir).ok().map(Into::into),
            Cgroup::V1 { .. } => None,
        }
    }

    /// Moves process `pid` (0: the caller) into the cgroup.
    pub fn join(&self, pid: i32) -> Result<(), CgroupError> {
        match self {
            Cgroup::V2 { dir, .. } => v2::join(dir, pid),
            Cgroup::V1 { dirs, .. } => v1::join(dirs, pid),
        }
    }

    /// Freezes (`true`) or thaws every process in the cgroup; returns once
    /// the kernel reports it done.
    pub fn set_frozen(&self, frozen: bool) -> Result<(), CgroupError> {
        match self {
            Cgroup::V2 { dir, .. } => v2::set_frozen(dir, frozen),
            Cgroup::V1 { dirs, .. } => v1::set_frozen(dirs, frozen),
        }
    }

    pub fn stats(&self) -> Result<CgroupStats, CgroupError> {
        match self {
            Cgroup::V2 { dir, .. } => v2::stats(dir),
            Cgroup::V1 { dirs, .. } => v1::stats(dirs),
        }
    }

    /// How many processes the kernel's OOM killer ended in this cgroup.
    pub fn oom_kills(&self) -> u64 {
        match self {
            Cgroup::V2 { dir, .. } => v2::oom_kills(dir),
            Cgroup::V1 { dirs, .. } => v1::oom_kills(dirs),
        }
    }

    /// Kills what is left in the cgroup and removes it. Processes that
    /// linger past the deadline keep their cgroup (reported as an error).
    pub fn remove(&self) -> Result<(), CgroupError> {
        let deadline = Instant::now() + REMOVE_DEADLINE;
        match self {
            Cgroup::V2 { dir, .. } => v2::remove(dir, deadline),
            Cgroup::V1 { dirs, .. } => v1::remove(dirs, deadline),
        }
    }
}

/// Reads a counter file; `None` when missing or malformed.
fn read_number(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The value of `key` in a flat-keyed file (`memory.stat`, `cpu.stat`, …).
fn keyed_value(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// Runs `reached` every 2 ms until the freezer of `dir` reports the state
/// asked for, or `FREEZE_DEADLINE` passes.
fn wait_for_freezer(
    dir: &Path,
    frozen: bool,
    mut reached: impl FnMut() -> Result<bool, CgroupError>,
) -> Result<(), CgroupError> {
    let deadline = Instant::now() + FREEZE_DEADLINE;
    while !reached()? {
        if Instant::now() >= deadline {
            return Err(CgroupError::Timeout {
                path: dir.to_path_buf(),
                wanted: if frozen { "frozen" } else { "thawed" },
                seconds: FREEZE_DEADLINE.as_secs(),
            });
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}

fn write_file(path: &Path, value: &str) -> Result<(), CgroupError> {
    std::fs::write(path, value).map_err(CgroupError::io(path))
}

/// Removes one cgroup directory, waiting while processes still leave it
/// (`EBUSY`); a directory already gone counts as removed.
fn remove_dir(dir: &Path, deadline: Instant) -> Result<(), CgroupError> {
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(CgroupError::io(dir)(e)),
        }
    }
}

/// Kills every process listed in `procs_file` with SIGKILL.
fn kill_listed(procs_file: &Path) {
    let Ok(text) = std::fs::read_to_string(procs_file) else {
        return;
    };
    for pid in text.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
        // SAFETY: kill(2) has no memory effects; a stale PID only fails.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_files_parse() {
        let text = "anon 4096\ninactive_file 8192\nfile 100\n";
        assert_eq!(keyed_value(text, "inactive_file"), Some(8192));
        assert_eq!(keyed_value(text, "file"), Some(100));
        assert_eq!(keyed_value(text, "missing"), None);
    }
}
