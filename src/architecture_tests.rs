//! The module map DESIGN.md draws, checked against the source: which
//! top-level modules may import which, and no import cycle between the
//! modules of `engine`. Reads `use` paths as text; a new dependency that
//! breaks the layering fails here before it grows roots.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Top-level module → the crate modules it may import (besides itself and
/// the leaf utilities `timestamp`, `units` and `xattr`). `build` sits above
/// `engine`, as will `compose`, `kube` and `systemd`; nothing below imports them.
const ALLOWED: [(&str, &[&str]); 6] = [
    // RUN steps are containers made through engine; layers and the cache
    // go through layers; build secrets and the cache dir through state.
    ("build", &["engine", "layers", "state"]),
    ("engine", &["sandbox", "layers", "net", "state"]),
    ("sandbox", &[]),
    ("layers", &[]),
    ("net", &[]),
    // A record stores a network mode; plain data, no behaviour.
    ("state", &["net"]),
];
const LEAVES: [&str; 3] = ["timestamp", "units", "xattr"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a source file below `src/` (`engine/monitor/mod.rs`
/// → `["engine", "monitor"]`).
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The source without its unit tests (they may reach anywhere).
fn code_of(file: &Path) -> String {
    let text = fs::read_to_string(file).unwrap();
    match text.find("#[cfg(test)]") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// Every `prefix::name` in `code`.
fn names_after(code: &str, prefix: &str) -> BTreeSet<String> {
    code.match_indices(prefix)
        .map(|(at, _)| {
            code[at + prefix.len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|name| !name.is_empty())
        .collect()
}

struct Source {
    module: Vec<String>,
    code: String,
}

fn sources() -> Vec<Source> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files
        .iter()
        .filter(|f| !f.to_string_lossy().ends_with("_tests.rs"))
        .map(|f| Source {
            module: module_of(&src, f),
            code: code_of(f),
        })
        .collect()
}

#[test]
fn top_level_modules_import_only_downwards() {
    let mut wrong = Vec::new();
    for source in sources() {
        let Some(top) = source.module.first() else {
            continue;
        };
        let Some((_, allowed)) = ALLOWED.iter().find(|(name, _)| name == top) else {
            continue;
        };
        for target in names_after(&source.code, "crate::") {
            let fine = &target == top
                || allowed.contains(&target.as_str())
                || LEAVES.contains(&target.as_str());
            if !fine {
                wrong.push(format!(
                    "{} imports crate::{target}",
                    source.module.join("::")
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against DESIGN.md's map: {wrong:#?}"
    );
}

#[test]
fn engine_modules_have_no_import_cycle() {
    let engine = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/engine");
    let is_module =
        |name: &str| engine.join(format!("{name}.rs")).exists() || engine.join(name).is_dir();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for source in sources() {
        if source.module.first().is_none_or(|m| m != "engine") || source.module.len() < 2 {
            continue;
        }
        let from = source.module[1].clone();
        let mut targets = names_after(&source.code, "crate::engine::");
        // `super::` names a sibling only in a file directly below engine/.
        if source.module.len() == 2 {
            targets.extend(names_after(&source.code, "super::"));
        }
        targets.retain(|t| *t != from && is_module(t));
        edges.entry(from).or_default().extend(targets);
    }
    assert!(edges.contains_key("lifecycle") && edges.contains_key("lookup"));

    // Depth-first search; a node met again on the current path is a cycle.
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if !done.insert(node.to_string()) {
            return None;
        }
        path.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        if let Some(cycle) = visit(node, &edges, &mut Vec::new(), &mut done) {
            panic!(
                "engine modules import each other in a cycle: {}",
                cycle.join(" -> ")
            );
        }
    }
}
