//! Helpers for the container-lifecycle stories (`tests/ps_and_names.rs`,
//! `tests/lifecycle.rs`, `tests/logs_attach.rs`, `tests/exec.rs`, …):
//! reading what `ps`, `inspect` and `logs` say about a container, and
//! waiting for a container to reach a state.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Ctx, assert_success, wait_for};

/// How long a container may take to reach a state a test waits for.
pub const STATE_TIMEOUT: Duration = Duration::from_secs(30);

/// `s` is `len` lowercase hex digits (a container ID or its short form).
pub fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// A shell script for a container's PID 1 that traps `signal`, prints
/// `ready` once the trap is installed, and on the signal prints `bye` and
/// exits with `code`.
pub fn trapping(signal: &str, code: i32) -> String {
    format!("trap 'echo bye; exit {code}' {signal}; echo ready; while true; do sleep 0.1; done")
}

/// Non-empty lines of `text`, trimmed.
pub fn nonempty_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

impl Ctx {
    /// `skiff run -d ARGS…`: asserts it printed one full 64-hex ID and
    /// returns it.
    pub fn run_detached(&self, args: &[&str]) -> String {
        let mut full = vec!["run", "-d"];
        full.extend_from_slice(args);
        let out = self.run_ok(&full);
        let id = out.trim().to_string();
        assert!(
            is_hex(&id, 64) && out == format!("{id}\n"),
            "{}: `run -d` should print the full container ID and nothing else, got {out:?}",
            self.user
        );
        id
    }

    /// `skiff inspect --format FORMAT CONTAINER`, trimmed.
    pub fn inspect_format(&self, container: &str, format: &str) -> String {
        self.run_ok(&["inspect", "--format", format, container])
            .trim()
            .to_string()
    }

    /// `.State.Status`: created, running, exited, …
    pub fn status_of(&self, container: &str) -> String {
        self.inspect_format(container, "{{.State.Status}}")
    }

    /// `skiff logs CONTAINER`: (stdout, stderr).
    pub fn logs_of(&self, container: &str) -> (String, String) {
        let out = self.run_status(&["logs", container]);
        let stdout = assert_success(&out, &format!("logs {container}"));
        (stdout, String::from_utf8_lossy(&out.stderr).into_owned())
    }

    /// How many stdout lines of the container's log are exactly `line`.
    pub fn log_count(&self, container: &str, line: &str) -> usize {
        self.logs_of(container)
            .0
            .lines()
            .filter(|l| *l == line)
            .count()
    }

    /// Waits until the container's log holds `count` lines equal to `line`
    /// (containers print a line once their signal traps are installed).
    pub fn wait_for_log_lines(&self, container: &str, line: &str, count: usize) {
        wait_for(
            &format!("{count} line(s) {line:?} in the log of {container}"),
            STATE_TIMEOUT,
            || self.log_count(container, line) >= count,
        );
    }

    /// Waits until `.State.Status` is `status`.
    pub fn wait_for_status(&self, container: &str, status: &str) {
        wait_for(
            &format!("{container} to be {status}"),
            STATE_TIMEOUT,
            || self.status_of(container) == status,
        );
    }

    /// `skiff ps ARGS… --format {{.Names}}`, one name per element.
    pub fn ps_names(&self, args: &[&str]) -> Vec<String> {
        let mut full = vec!["ps"];
        full.extend_from_slice(args);
        full.extend(["--format", "{{.Names}}"]);
        nonempty_lines(&self.run_ok(&full))
    }

    /// `skiff ps -aq`: the short IDs of every container.
    pub fn all_short_ids(&self) -> Vec<String> {
        nonempty_lines(&self.run_ok(&["ps", "-aq"]))
    }
}

/// A `skiff ps` table as rows of column → value. Columns are found by
/// their position in the header line (values contain single spaces, e.g.
/// `Up 2 seconds`, and PORTS is usually empty).
pub fn ps_table(output: &str) -> Vec<BTreeMap<String, String>> {
    let mut lines = output.lines().filter(|l| !l.trim().is_empty());
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let columns = [
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ];
    let mut starts: Vec<(usize, &str)> = columns
        .iter()
        .map(|c| {
            let at = header
                .find(c)
                .unwrap_or_else(|| panic!("no {c} column in the ps header {header:?}"));
            (at, *c)
        })
        .collect();
    starts.sort();
    lines
        .map(|line| {
            starts
                .iter()
                .enumerate()
                .map(|(i, &(start, name))| {
                    let end = starts.get(i + 1).map_or(line.len(), |&(next, _)| next);
                    let value = line.get(start.min(line.len())..end.min(line.len()));
                    (
                        name.to_string(),
                        value.unwrap_or_default().trim().to_string(),
                    )
                })
                .collect()
        })
        .collect()
}

/// `s` is an RFC 3339 timestamp: `2024-05-01T12:34:56[.frac](Z|±hh:mm)`.
pub fn is_rfc3339(s: &str) -> bool {
    rfc3339_nanos(s).is_some()
}

/// An RFC 3339 timestamp as nanoseconds since the Unix epoch, so two
/// timestamps compare correctly whatever their offsets and however many
/// fractional digits they carry (RFC3339Nano drops trailing zeros).
pub fn rfc3339_nanos(s: &str) -> Option<i128> {
    let b = s.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = b.get(range)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(digits).ok()?.parse().ok()
    };
    let separators = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if separators.iter().any(|&(at, c)| b.get(at) != Some(&c))
        || !matches!(b.get(10), Some(b'T' | b't'))
    {
        return None;
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &s[19..];
    let mut nanos: i128 = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        let padded = format!("{:0<9}", &frac[..n.min(9)]);
        nanos = padded.parse().ok()?;
        rest = &frac[n..];
    }
    let offset_seconds: i64 = match rest.as_bytes() {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), ..] if rest.len() == 6 && rest.as_bytes()[3] == b':' => {
            let hours: i64 = rest[1..3].parse().ok()?;
            let minutes: i64 = rest[4..6].parse().ok()?;
            let total = hours * 3600 + minutes * 60;
            if *sign == b'+' { total } else { -total }
        }
        _ => return None,
    };
    // Days from 1970-01-01 to the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds;
    Some(i128::from(seconds) * 1_000_000_000 + nanos)
}

/// Removes every container of the context (`rm -a -f`) when dropped, so a
/// failing story leaves no container processes behind (the context's drop
/// only removes files).
pub struct RemoveAllOnDrop<'a>(pub &'a Ctx);

impl Drop for RemoveAllOnDrop<'_> {
    fn drop(&mut self) {
        // Not `run_status`: that may panic, and this may run while a test
        // is already unwinding. `rm -f` kills at once; it does not wait.
        let mut cmd = self.0.skiff(&["rm", "--all", "--force"]);
        cmd.stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let _ = cmd.status();
    }
}
