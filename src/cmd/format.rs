//! Output formatting shared by every command: aligned tables, human
//! sizes and ages, the way podman prints them.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use skiff::layers::parse_rfc3339;

/// A table with a header; columns separated by at least two spaces.
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Prints the table, without its header line for `--noheading`.
    pub fn print(&self, noheading: bool) {
        let text = self.to_string();
        let body = if noheading {
            text.split_once('\n').map_or("", |(_, rest)| rest)
        } else {
            &text
        };
        print!("{body}");
    }
}

/// The output flags of an `ls` verb (`volume ls`, `secret ls`).
#[derive(clap::Args)]
pub struct ListFlags {
    /// Go template, `json`, or `table …`
    #[arg(long, allow_hyphen_values = true)]
    pub format: Option<String>,
    /// Print only the names (volume ls) or IDs (secret ls)
    #[arg(short, long)]
    pub quiet: bool,
    /// Omit the header
    #[arg(short, long)]
    pub noheading: bool,
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.len()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        for row in std::iter::once(&self.header).chain(&self.rows) {
            let last = row.len().saturating_sub(1);
            let mut line = String::new();
            for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
                if i == last {
                    line.push_str(cell);
                } else {
                    line.push_str(&format!("{cell:<width$}  ", width = w));
                }
            }
            writeln!(f, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

/// Sizes in SI units with three significant digits: `4.49 MB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    let digits = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    let rounded = format!("{value:.digits$}");
    let trimmed = if rounded.contains('.') {
        rounded
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    } else {
        rounded
    };
    format!("{trimmed} {}", UNITS[unit])
}

/// `3 days ago`, like podman's CREATED column.
pub fn human_age(created: &str) -> String {
    let Some((then, _)) = parse_rfc3339(created) else {
        return "unknown".into();
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let secs = (now - then).max(0);
    let (n, unit) = match secs {
        s if s < 1 => return "Less than a second ago".into(),
        s if s < 60 => (s, "second"),
        s if s < 3600 => (s / 60, "minute"),
        s if s < 86400 => (s / 3600, "hour"),
        s if s < 86400 * 7 => (s / 86400, "day"),
        s if s < 86400 * 30 => (s / (86400 * 7), "week"),
        s if s < 86400 * 365 => (s / (86400 * 30), "month"),
        s => (s / (86400 * 365), "year"),
    };
    match n {
        1 if unit == "hour" => "About an hour ago".into(),
        1 => format!("1 {unit} ago"),
        n => format!("{n} {unit}s ago"),
    }
}

/// docker's `HumanDuration`: `Less than a second`, `3 seconds`,
/// `About a minute`, `5 minutes`, `About an hour`, `7 hours`, `3 days`, …
pub fn human_duration(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    let (minutes, hours) = (secs / 60, secs / 3600);
    match secs {
        0 => "Less than a second".into(),
        1 => "1 second".into(),
        s if s < 60 => format!("{s} seconds"),
        _ if minutes == 1 => "About a minute".into(),
        _ if minutes < 60 => format!("{minutes} minutes"),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", hours / 24 / 365),
    }
}

/// docker's y/N question on stderr before removing data; anything but a
/// yes (no answer at all, as from /dev/null, too) is no.
pub fn confirm(what: &str) -> std::io::Result<bool> {
    use std::io::{BufRead, Write};
    eprint!("WARNING! {what}\nAre you sure you want to continue? [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_read_like_docker() {
        use std::time::Duration;
        assert_eq!(
            human_duration(Duration::from_millis(300)),
            "Less than a second"
        );
        assert_eq!(human_duration(Duration::from_secs(3)), "3 seconds");
        assert_eq!(human_duration(Duration::from_secs(61)), "About a minute");
        assert_eq!(human_duration(Duration::from_secs(600)), "10 minutes");
        assert_eq!(human_duration(Duration::from_secs(3 * 86400)), "3 days");
    }

    use super::*;

    #[test]
    fn sizes_read_like_podman() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(1_234), "1.23 kB");
        assert_eq!(human_size(4_490_000), "4.49 MB");
        assert_eq!(human_size(12_300_000), "12.3 MB");
    }

    #[test]
    fn tables_align_columns() {
        let mut t = Table::new(&["A", "LONGER"]);
        t.row(vec!["wide-cell".into(), "x".into()]);
        assert_eq!(t.to_string(), "A          LONGER\nwide-cell  x\n");
    }
}
