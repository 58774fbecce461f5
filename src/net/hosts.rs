//! Name resolution without a daemon: a member of a user-defined network
//! finds its peers in its own /etc/hosts, whose part below
//! `PEERS_MARKER` skiff rewrites in place (the file is bind-mounted into
//! the container, so its inode must stay) whenever a member joins or
//! leaves. The part above is written once per run.

use std::fs;
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::Path;

/// Whether `name` may stand in a hosts file and be resolved by peers:
/// dot-separated labels of letters, digits, `-` and `_` (container names
/// allow `_`), none empty or starting with `-`, at most 253 characters.
/// Anything else (a space, a `#`, a newline) would cut or add lines in
/// every peer's /etc/hosts.
pub fn is_valid_host_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

/// The line after which the network's peers are listed.
pub const PEERS_MARKER: &str = "# skiff: peers on the container's networks";

/// The peers' lines: `ADDRESS name short-id alias…`.
pub fn network_hosts_section<'a>(peers: impl Iterator<Item = (Ipv4Addr, &'a [String])>) -> String {
    let mut lines: Vec<String> = peers
        .map(|(address, names)| format!("{address}\t{}", names.join(" ")))
        .collect();
    lines.sort();
    lines.dedup();
    lines.into_iter().map(|l| l + "\n").collect()
}

/// `base` (the run's own lines) with `section` below the marker.
pub fn with_peers(base: &str, section: &str) -> String {
    let own = match base.find(PEERS_MARKER) {
        Some(at) => &base[..at],
        None => base,
    };
    let mut text = own.to_string();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(PEERS_MARKER);
    text.push('\n');
    text.push_str(section);
    text
}

/// Replaces the peers of the hosts file at `path`, in place.
pub fn rewrite_peers(path: &Path, section: &str) -> std::io::Result<()> {
    let base = fs::read_to_string(path)?;
    let text = with_peers(&base, section);
    if text == base {
        return Ok(());
    }
    // Truncate and write the same inode: a rename would leave the
    // container's bind mount on the old file.
    let mut file = fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_are_replaced_below_the_marker() {
        let names = ["app1".to_string(), "0123456789ab".to_string()];
        let section =
            network_hosts_section([("10.89.0.2".parse().unwrap(), &names[..])].into_iter());
        assert_eq!(section, "10.89.0.2\tapp1 0123456789ab\n");
        let base = "127.0.0.1\tlocalhost\n";
        let once = with_peers(base, &section);
        assert_eq!(once, format!("{base}{PEERS_MARKER}\n{section}"));
        let twice = with_peers(&once, "");
        assert_eq!(twice, format!("{base}{PEERS_MARKER}\n"));
    }

    #[test]
    fn host_names_that_would_break_a_hosts_file_are_invalid() {
        for good in ["app1", "web.internal", "db_1", "a-b", "x"] {
            assert!(is_valid_host_name(good), "{good}");
        }
        for bad in [
            "",
            "a b",
            "a\n10.0.0.1 bank",
            "x#y",
            "-x",
            "a..b",
            ".a",
            &"l".repeat(64),
        ] {
            assert!(!is_valid_host_name(bad), "{bad:?}");
        }
    }
}
