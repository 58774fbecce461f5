//! Getting images into the local store (load, import) and listing them.
//! Rootless, the unpacking runs inside a user namespace mapped with the
//! caller's subordinate IDs, so files keep their owners from the image.

use std::io::Read;

use super::{EngineError, is_rootless};
use crate::layers::{ImageSummary, Store};
use crate::sandbox::userns::{caller_mappings, run_in_new_userns};
use crate::state::StorageDirs;

/// Runs `work`, which adds content, against the store: under the shared
/// GC lock (see `Store::lock_for_writing`), as the store's owner.
pub(super) fn with_store_as_owner(
    dirs: &StorageDirs,
    work: impl FnOnce(&Store) -> Result<Vec<String>, EngineError>,
) -> Result<Vec<String>, EngineError> {
    let store = Store::open(&dirs.root)?;
    let _gc_guard = store.lock_for_writing()?;
    as_store_owner(dirs, work)
}

/// Runs `work` against the store, inside a mapped user namespace when
/// rootless (layer files belong to subordinate IDs). Returns what `work`
/// produced, one item per line.
pub(super) fn as_store_owner(
    dirs: &StorageDirs,
    work: impl FnOnce(&Store) -> Result<Vec<String>, EngineError>,
) -> Result<Vec<String>, EngineError> {
    if !is_rootless() {
        let store = Store::open(&dirs.root)?;
        return work(&store);
    }
    let maps = caller_mappings();
    if let Some(warning) = &maps.warning {
        eprintln!("warning: {warning}");
    }
    let output = run_in_new_userns(&maps, || {
        let store = Store::open(&dirs.root).map_err(|e| e.to_string())?;
        work(&store)
            .map(|lines| lines.join("\n"))
            .map_err(|e| e.to_string())
    })?;
    Ok(output.lines().map(String::from).collect())
}

/// `skiff load`: returns the loaded references (or IDs when untagged).
pub fn load_archive(
    dirs: &StorageDirs,
    archive: &mut dyn Read,
) -> Result<Vec<String>, EngineError> {
    with_store_as_owner(dirs, |store| Ok(store.load_archive(archive)?))
}

/// `skiff import`: returns the new image's ID.
pub fn import_rootfs(
    dirs: &StorageDirs,
    tarball: &mut dyn Read,
    reference: Option<&str>,
) -> Result<String, EngineError> {
    if let Some(r) = reference {
        // Refuse a bad name before reading a possibly large tarball.
        crate::layers::ImageReference::parse(r)?;
    }
    let lines = with_store_as_owner(dirs, |store| {
        let id = store.import_rootfs(tarball, reference)?;
        Ok(vec![id.hex().to_string()])
    })?;
    Ok(lines.into_iter().next().unwrap_or_default())
}

/// `skiff images`.
pub fn list_images(dirs: &StorageDirs) -> Result<Vec<ImageSummary>, EngineError> {
    Ok(Store::open(&dirs.root)?.list_images()?)
}
