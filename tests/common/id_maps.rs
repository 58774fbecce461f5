//! Reading ID mappings for the user namespace tests: the test user's
//! subordinate ranges, root's `auto` pool, uid_map lines, and the layer
//! copies a store holds for other mappings.

use std::fs;
use std::path::PathBuf;

use super::{Ctx, TEST_USER};

/// The test user's first subordinate range in `file` (/etc/subuid or
/// /etc/subgid): (start, count).
pub fn subordinate(ctx: &Ctx, file: &str) -> (u32, u32) {
    let text = fs::read_to_string(file).unwrap();
    text.lines()
        .find_map(|line| {
            let f: Vec<&str> = line.trim().split(':').collect();
            (f.len() == 3 && (f[0] == TEST_USER || f[0] == ctx.uid.to_string()))
                .then(|| (f[1].parse().unwrap(), f[2].parse().unwrap()))
        })
        .unwrap_or_else(|| panic!("no {file} entry for {TEST_USER}"))
}

/// Root's pool for `--userns auto`: the `containers` user's subordinate
/// uids, else 2^31 + 2^30 IDs.
pub fn root_auto_pool() -> (u32, u32) {
    let text = fs::read_to_string("/etc/subuid").unwrap_or_default();
    text.lines()
        .find_map(|line| {
            let f: Vec<&str> = line.trim().split(':').collect();
            (f.len() == 3 && f[0] == "containers")
                .then(|| (f[1].parse().unwrap(), f[2].parse().unwrap()))
        })
        .unwrap_or((1 << 31, 1 << 30))
}

/// The lines of a uid_map as (container, host, size).
pub fn map_lines(text: &str) -> Vec<(u32, u32, u32)> {
    text.lines()
        .map(|l| {
            let f: Vec<u32> = l.split_whitespace().map(|n| n.parse().unwrap()).collect();
            (f[0], f[1], f[2])
        })
        .collect()
}

/// Every layer copy the store holds for other mappings.
pub fn idmapped_copies(ctx: &Ctx) -> Vec<PathBuf> {
    let Ok(mappings) = fs::read_dir(ctx.root.join("idmapped")) else {
        return Vec::new();
    };
    let mut copies: Vec<PathBuf> = mappings
        .flatten()
        .flat_map(|m| fs::read_dir(m.path()).into_iter().flatten().flatten())
        .map(|e| e.path())
        .collect();
    copies.sort();
    copies
}

pub fn inspect_field(ctx: &Ctx, name: &str, template: &str) -> String {
    ctx.run_ok(&["inspect", "--format", template, name])
        .trim()
        .to_string()
}
