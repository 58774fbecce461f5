//! Is a recorded process still the one we started? A PID alone can be
//! reused after the process dies (or after a reboot), so a record keeps
//! the PID together with the process's start time from `/proc/<pid>/stat`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessIdentity {
    pub pid: i32,
    /// Field 22 of `/proc/<pid>/stat`: clock ticks after boot.
    pub start_ticks: u64,
}

impl ProcessIdentity {
    /// The identity of a process that exists now.
    pub fn of(pid: i32) -> Option<ProcessIdentity> {
        Some(ProcessIdentity {
            pid,
            start_ticks: start_ticks(pid)?,
        })
    }

    /// The calling process.
    pub fn current() -> ProcessIdentity {
        let pid = std::process::id() as i32;
        ProcessIdentity::of(pid).unwrap_or(ProcessIdentity {
            pid,
            start_ticks: 0,
        })
    }

    /// True while this very process exists and has not been reaped. A
    /// zombie counts as gone: it will never run again.
    pub fn is_alive(&self) -> bool {
        match read_stat(self.pid) {
            Some((state, ticks)) => ticks == self.start_ticks && state != 'Z' && state != 'X',
            None => false,
        }
    }
}

fn start_ticks(pid: i32) -> Option<u64> {
    read_stat(pid).map(|(_, ticks)| ticks)
}

/// (state letter, start time) from `/proc/<pid>/stat`. The command name
/// (field 2) may contain spaces and parentheses, so fields are counted
/// from the last `)`.
fn read_stat(pid: i32) -> Option<(char, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

fn parse_stat(text: &str) -> Option<(char, u64)> {
    let after_name = &text[text.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace();
    let state = fields.next()?.chars().next()?;
    // After the state (field 3) comes field 4; starttime is field 22.
    let ticks = fields.nth(18)?.parse().ok()?;
    Some((state, ticks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_name() {
        let line = "42 (a) b (c)) S 1 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 98765 1 1";
        assert_eq!(parse_stat(line), Some(('S', 98765)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn the_current_process_is_alive_and_a_changed_start_is_not() {
        let me = ProcessIdentity::current();
        assert!(me.is_alive());
        let impostor = ProcessIdentity {
            start_ticks: me.start_ticks + 1,
            ..me
        };
        assert!(!impostor.is_alive());
    }
}
