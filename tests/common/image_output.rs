//! Reading what image commands print.

use std::path::Path;

/// `skiff images` rows split on runs of two or more spaces, as the columns
/// are laid out (values themselves contain single spaces: "2 years ago").
pub fn table(output: &str) -> Vec<Vec<String>> {
    output
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect()
        })
        .collect()
}

pub fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

pub fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}
