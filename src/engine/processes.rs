//! The processes of a running container, read from /proc: for `top` and
//! `stats`. A process belongs to the container when it is in the
//! container's PID namespace.

use std::fs;
use std::time::{Duration, SystemTime};

use super::EngineError;
use super::lookup::find_container;
use crate::state::{ContainerRecord, ContainerStatus, ContainerStore, StorageDirs};

/// One process as `top` shows it.
#[derive(Debug, Clone)]
pub struct ContainerProcess {
    /// The container's view of its PID (innermost `NSpid`).
    pub pid: i32,
    /// The parent's PID in the container; 0 for a parent outside it.
    pub ppid: i32,
    pub host_pid: i32,
    /// The user ID inside the container.
    pub uid: u32,
    /// The user ID on the host (a subordinate ID when rootless).
    pub host_uid: u32,
    /// The short name (`/proc/PID/comm`).
    pub name: String,
    /// `R`, `S`, `Z`, … as ps shows it.
    pub state: char,
    pub nice: i64,
    pub vsz_bytes: u64,
    pub cpu_time: Duration,
    pub elapsed: Duration,
    pub rss_bytes: u64,
    pub tty: String,
    pub command: String,
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no memory effects.
    (unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).max(1) as f64
}

fn boot_time() -> Option<u64> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

fn status_field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key).map(str::trim))
}

/// Maps a host ID back into the container through its `uid_map`.
fn to_container_id(map: &str, host: u32) -> u32 {
    for line in map.lines() {
        let v: Vec<u64> = line
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if let [inside, outside, len] = v[..]
            && (outside..outside + len).contains(&u64::from(host))
        {
            return (inside + u64::from(host) - outside) as u32;
        }
    }
    host
}

fn tty_name(tty_nr: i64) -> String {
    if tty_nr == 0 {
        return "?".into();
    }
    let major = (tty_nr >> 8) & 0xfff;
    let minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
    match major {
        136..=143 => format!("pts/{}", (major - 136) * 256 + minor),
        _ => "?".into(),
    }
}

fn read_process(
    pid: i32,
    uid_map: &str,
    ticks: f64,
    boot: u64,
    now: SystemTime,
) -> Option<ContainerProcess> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields counted from 3 (state): ppid 4, tty_nr 7, utime 14, stime 15, starttime 22.
    let num = |i: usize| fields.get(i - 3).and_then(|v| v.parse::<i64>().ok());
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let ns_pid = status_field(&status, "NSpid:")?
        .split_whitespace()
        .last()?
        .parse()
        .ok()?;
    let ns_ppid = num(4)?;
    let host_uid: u32 = status_field(&status, "Uid:")?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let kb = |field: &str| -> u64 {
        status_field(&status, field)
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let name = stat[stat.find('(')? + 1..stat.rfind(')')?].to_string();
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let command = String::from_utf8_lossy(&cmdline)
        .split('\0')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let cpu = (num(14)? + num(15)?) as f64 / ticks;
    let started = boot as f64 + num(22)? as f64 / ticks;
    let now_secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()?
        .as_secs_f64();
    Some(ContainerProcess {
        pid: ns_pid,
        ppid: ns_ppid as i32,
        host_pid: pid,
        uid: to_container_id(uid_map, host_uid),
        host_uid,
        name,
        state: fields.first()?.chars().next()?,
        nice: num(19)?,
        vsz_bytes: kb("VmSize:") * 1024,
        cpu_time: Duration::from_secs_f64(cpu.max(0.0)),
        elapsed: Duration::from_secs_f64((now_secs - started).max(0.0)),
        rss_bytes: kb("VmRSS:") * 1024,
        tty: tty_name(num(7)?),
        command,
    })
}

/// The container's processes; it must be running.
pub fn container_processes(
    dirs: &StorageDirs,
    name: &str,
) -> Result<(ContainerRecord, Vec<ContainerProcess>), EngineError> {
    let store = ContainerStore::new(dirs);
    let record = find_container(&store, name)?;
    let pid1 = match (record.status(), record.state.pid) {
        (
            ContainerStatus::Running | ContainerStatus::Paused | ContainerStatus::Stopping,
            Some(p),
        ) if p.is_alive() => p.pid,
        _ => {
            return Err(EngineError::Invalid(format!(
                "container {} is not running: container state improper",
                record.short_id()
            )));
        }
    };
    let ns = fs::read_link(format!("/proc/{pid1}/ns/pid"))
        .map_err(EngineError::io("reading the container's PID namespace"))?;
    let uid_map = fs::read_to_string(format!("/proc/{pid1}/uid_map")).unwrap_or_default();
    let (ticks, boot, now) = (clock_ticks(), boot_time().unwrap_or(0), SystemTime::now());
    let mut processes: Vec<ContainerProcess> = fs::read_dir("/proc")
        .map_err(EngineError::io("reading /proc"))?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| fs::read_link(format!("/proc/{pid}/ns/pid")).is_ok_and(|n| n == ns))
        .filter_map(|pid| read_process(pid, &uid_map, ticks, boot, now))
        .collect();
    // /proc shows parents by host PID; translate, as the container sees them.
    let to_ns: std::collections::HashMap<i32, i32> =
        processes.iter().map(|p| (p.host_pid, p.pid)).collect();
    for p in &mut processes {
        p.ppid = to_ns.get(&p.ppid).copied().unwrap_or(0);
    }
    processes.sort_by_key(|p| p.pid);
    Ok((record, processes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_ids_map_back_into_the_container() {
        let map = "         0       1001          1\n         1     100000      65536\n";
        assert_eq!(to_container_id(map, 1001), 0);
        assert_eq!(to_container_id(map, 100999), 1000);
        assert_eq!(to_container_id("", 5), 5);
    }

    #[test]
    fn pseudo_terminals_are_named() {
        assert_eq!(tty_name(0), "?");
        assert_eq!(tty_name(136 << 8), "pts/0");
        assert_eq!(tty_name((136 << 8) | 3), "pts/3");
    }

    #[test]
    fn this_process_reads_back() {
        let me = std::process::id() as i32;
        let p = read_process(
            me,
            "",
            clock_ticks(),
            boot_time().unwrap(),
            SystemTime::now(),
        )
        .unwrap();
        assert_eq!(p.pid, me);
        assert!(p.rss_bytes > 0);
    }
}
