//! The store's `RUN --mount=type=cache` directories
//! (`<store>/build-mounts/cache/<sha256 of id>`, each with its `.lock`
//! file): what `system df` counts as Build Cache, and what `builder
//! prune` and `image prune --build-cache` remove (`builder prune -a`: the
//! step cache too, its entries and intermediate images). A build holds
//! the store's GC lock (shared) from start to end, so the removal runs
//! only under that lock taken exclusively: never below a running step.

use std::fs;
use std::path::{Path, PathBuf};

use super::request::BuildError;
use crate::engine::build_support::remove_scratch_tree;
use crate::engine::{Reporter, UsageLine, prune_build_cache_images};
use crate::layers::{Store, tree_size};
use crate::state::StorageDirs;

/// Where the cache mounts of the store at `root` live.
pub fn cache_mounts_dir(root: &Path) -> PathBuf {
    root.join("build-mounts/cache")
}

/// The cache directories (not their lock files).
fn cache_dirs(dirs: &StorageDirs) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(cache_mounts_dir(&dirs.root)) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    found.sort();
    found
}

/// `system df`'s Build Cache line: every cache mount; none is active
/// once its build has ended, so all of it is reclaimable.
pub fn cache_mount_usage(dirs: &StorageDirs) -> UsageLine {
    let found = cache_dirs(dirs);
    let size = found.iter().map(|d| tree_size(d)).sum();
    UsageLine {
        total: found.len(),
        active: 0,
        size,
        reclaimable: size,
    }
}

/// What a prune of the build cache removed.
#[derive(Debug, Default)]
pub struct BuildCachePrune {
    /// Cache mounts' directory names (the SHA-256 of each mount's id),
    /// then the intermediate images' IDs.
    pub removed: Vec<String>,
    pub bytes: u64,
}

/// Removes every cache mount and, with `all`, the step cache: every
/// entry (so each step runs again, even one whose image is tagged) and
/// the intermediate images no container uses. Nothing while a build is
/// running (it holds the store's GC lock): the error says why.
pub fn prune_build_cache(
    dirs: &StorageDirs,
    all: bool,
    reporter: &dyn Reporter,
) -> Result<BuildCachePrune, BuildError> {
    let mut pruned = prune_cache_mounts(dirs, all)?;
    if all {
        let (images, report) = prune_build_cache_images(dirs, reporter)?;
        pruned
            .removed
            .extend(images.iter().map(|d| d.hex().to_string()));
        pruned.bytes += report.bytes;
    }
    Ok(pruned)
}

fn prune_cache_mounts(dirs: &StorageDirs, entries: bool) -> Result<BuildCachePrune, BuildError> {
    let store = Store::open(&dirs.root)?;
    let Some(_lock) = store.try_lock_for_gc()? else {
        return Err(BuildError::Invalid(
            "the build cache mounts were not removed: a build or another writer is using the store; try again when it has finished".into(),
        ));
    };
    if entries && let Ok(found) = fs::read_dir(dirs.root.join("build-cache")) {
        // The caller's own small files.
        for entry in found.flatten() {
            let _ = fs::remove_file(entry.path());
        }
    }
    let mut pruned = BuildCachePrune::default();
    for dir in cache_dirs(dirs) {
        let bytes = tree_size(&dir);
        // Rootless, what a step wrote there may belong to subordinate
        // IDs: removed in the mapped namespace when plain removal fails.
        remove_scratch_tree(&dir)?;
        let _ = fs::remove_file(dir.with_extension("lock"));
        pruned.bytes += bytes;
        if let Some(name) = dir.file_name() {
            pruned.removed.push(name.to_string_lossy().into_owned());
        }
    }
    Ok(pruned)
}
