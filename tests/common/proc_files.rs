//! Reading what the kernel says: /proc/mounts, /proc/net/dev and
//! /proc/<pid>/status text a container printed, and host processes found by
//! their command line or state.

use std::collections::BTreeMap;
use std::fs;

use nix::unistd::Pid;

/// One line of /proc/mounts.
#[derive(Debug, Clone)]
pub struct MountEntry {
    pub source: String,
    pub target: String,
    pub fstype: String,
    pub options: Vec<String>,
}

impl MountEntry {
    pub fn has_option(&self, option: &str) -> bool {
        self.options.iter().any(|o| o == option)
    }
}

/// Parses /proc/mounts text.
pub fn parse_mounts(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            Some(MountEntry {
                source: fields.next()?.to_string(),
                target: unescape_mount_path(fields.next()?),
                fstype: fields.next()?.to_string(),
                options: fields.next()?.split(',').map(str::to_string).collect(),
            })
        })
        .collect()
}

/// The mount visible at `target`: the last (topmost) entry for it.
pub fn mount_at<'a>(mounts: &'a [MountEntry], target: &str) -> Option<&'a MountEntry> {
    mounts.iter().rev().find(|m| m.target == target)
}

fn unescape_mount_path(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// Interface names in /proc/net/dev text.
pub fn interfaces(proc_net_dev: &str) -> Vec<String> {
    let mut names: Vec<String> = proc_net_dev
        .lines()
        .skip(2)
        .filter_map(|l| l.split_once(':').map(|(name, _)| name.trim().to_string()))
        .collect();
    names.sort();
    names
}

/// `Key:\tvalue` lines of /proc/<pid>/status.
pub fn parse_status(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// Host pids whose argv is exactly `argv`.
pub fn pids_with_argv(argv: &[&str]) -> Vec<Pid> {
    let mut expected = Vec::new();
    for arg in argv {
        expected.extend_from_slice(arg.as_bytes());
        expected.push(0);
    }
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == expected))
        .map(Pid::from_raw)
        .collect()
}

/// The process is gone: no such pid, or only a zombie is left.
pub fn process_gone(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rfind(')')
            .and_then(|at| stat[at + 1..].split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
        Err(_) => true,
    }
}

/// Host processes whose command line contains `needle` anywhere (in any
/// argument).
pub fn pids_with_argv_containing(needle: &str) -> Vec<Pid> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.windows(needle.len()).any(|w| w == needle.as_bytes()))
        })
        .map(Pid::from_raw)
        .collect()
}

/// The process sleeps in `nanosleep` (its /proc/<pid>/wchan): a client that
/// polls (`skiff wait`) is between two looks at what it waits for.
pub fn asleep_in_nanosleep(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/wchan")).is_ok_and(|w| w.contains("nanosleep"))
}
