//! Getting images into the local store (load, import) and listing them.
//! Rootless, the unpacking runs inside a user namespace mapped with the
//! caller's subordinate IDs, so files keep their owners from the image.

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Mutex, OnceLock};

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use super::image_filter::{filter_images, parse_image_filters};
use super::report::{Quiet, Reporter};
use super::{EngineError, is_rootless};
use crate::layers::{ArchiveFormat, CommitOptions, ImageSummary, Store};
use crate::sandbox::userns::{caller_mappings, hold_new_userns, run_in_userns};
use crate::sandbox::userns_pending::PendingUserns;
use crate::state::StorageDirs;

/// Runs `work`, which adds content, against the store: under the shared
/// GC lock (see `Store::lock_for_writing`), as the store's owner. What a
/// refused `work` stored is removed afterwards.
pub(super) fn with_store_as_owner<T>(
    dirs: &StorageDirs,
    reporter: &dyn Reporter,
    work: impl FnOnce(&Store) -> Result<T, EngineError>,
) -> Result<T, EngineError>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let store = Store::open(&dirs.root)?;
    let gc_guard = store.lock_for_writing()?;
    let result = as_store_owner(dirs, reporter, work);
    drop(gc_guard);
    if result.is_err() {
        discard_refused_content(dirs);
    }
    result
}

/// After a refused load, import, commit or pull: the blobs it stored that
/// no image uses go now, unless another writer is at work (it may be about
/// to index them); then the next collection takes them. Best effort: the
/// refusal is what the user hears about.
pub(super) fn discard_refused_content(dirs: &StorageDirs) {
    // The mapping warning, if any, was given with the refused work.
    let _ = as_store_owner(dirs, &Quiet, |store| {
        store.collect_garbage_if_idle()?;
        Ok(())
    });
}

/// Runs `work` against the store, inside a mapped user namespace when
/// rootless (layer files belong to subordinate IDs). Returns what `work`
/// produced; rootless, it and any error (text and exit code) cross back
/// from the helper process as JSON. What killed writers left under `tmp/`
/// is removed first (rootless it belongs to subordinate IDs too).
pub(super) fn as_store_owner<T>(
    dirs: &StorageDirs,
    reporter: &dyn Reporter,
    work: impl FnOnce(&Store) -> Result<T, EngineError>,
) -> Result<T, EngineError>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    if !is_rootless() {
        let store = Store::open(&dirs.root)?;
        store.sweep_stale_temp();
        return work(&store);
    }
    let output = run_in_userns(owner_userns(reporter)?, || -> Result<T, EngineError> {
        let store = Store::open(&dirs.root)?;
        store.sweep_stale_temp();
        work(&store)
    })?;
    Ok(output)
}

static HELD: OnceLock<OwnedFd> = OnceLock::new();
static PENDING: Mutex<Option<PendingUserns>> = Mutex::new(None);

/// Rootless: starts making the store owner's user namespace in the
/// background (its `newuidmap`/`newgidmap` run while the caller goes on),
/// for a caller that will soon need it (a build about to run steps).
/// Nothing when root, when it is held or on its way, or when it cannot
/// start (`owner_userns` then makes it, and says why it cannot).
pub(super) fn begin_owner_userns(reporter: &dyn Reporter) {
    if !is_rootless() || HELD.get().is_some() {
        return;
    }
    let Ok(mut pending) = PENDING.lock() else {
        return;
    };
    if pending.is_some() {
        return;
    }
    let maps = caller_mappings();
    if let Some(warning) = &maps.warning {
        reporter.warning(warning);
    }
    *pending = PendingUserns::begin(&maps).ok();
}

/// The store owner's user namespace (the caller's default mapping), made
/// once per process and held by its fd: a build stores a layer per step,
/// and each helper then only forks and joins it.
fn owner_userns(reporter: &dyn Reporter) -> Result<&'static OwnedFd, EngineError> {
    if let Some(fd) = HELD.get() {
        return Ok(fd);
    }
    let pending = PENDING.lock().ok().and_then(|mut p| p.take());
    // A failed background start is tried again here, with its error.
    if let Some(Ok(fd)) = pending.map(PendingUserns::finish) {
        return Ok(HELD.get_or_init(|| fd));
    }
    let maps = caller_mappings();
    if let Some(warning) = &maps.warning {
        reporter.warning(warning);
    }
    let fd = hold_new_userns(&maps)?;
    // A racing thread's namespace would be as good; keep the first.
    Ok(HELD.get_or_init(|| fd))
}

/// `spec`, which would make a user namespace mapped as the caller's
/// default, enters the store owner's held one instead (the same mapping:
/// no `newuidmap`/`newgidmap` for it). The path names this process's fd,
/// so only a container this process starts and removes may use it (a
/// build's RUN). A spec that joins another namespace is left alone.
pub(super) fn enter_owner_userns(spec: &mut Spec) -> Result<(), EngineError> {
    let Some(linux) = spec.linux_mut() else {
        return Ok(());
    };
    let mut namespaces = linux.namespaces().clone().unwrap_or_default();
    let Some(user) = namespaces
        .iter_mut()
        .find(|ns| ns.typ() == LinuxNamespaceType::User && ns.path().is_none())
    else {
        return Ok(());
    };
    // `create` gave the mapping's warning, if any.
    let fd = owner_userns(&Quiet)?;
    user.set_path(Some(
        format!("/proc/{}/fd/{}", std::process::id(), fd.as_raw_fd()).into(),
    ));
    linux.set_namespaces(Some(namespaces));
    linux.set_uid_mappings(None);
    linux.set_gid_mappings(None);
    Ok(())
}

/// `skiff load`: returns the loaded references (or IDs when untagged).
pub fn load_archive(
    dirs: &StorageDirs,
    archive: &mut dyn Read,
    reporter: &dyn Reporter,
) -> Result<Vec<String>, EngineError> {
    with_store_as_owner(dirs, reporter, |store| Ok(store.load_archive(archive)?))
}

/// `skiff import`: returns the new image's ID.
pub fn import_rootfs(
    dirs: &StorageDirs,
    tarball: &mut dyn Read,
    options: &CommitOptions,
    reporter: &dyn Reporter,
) -> Result<String, EngineError> {
    if let Some(r) = &options.reference {
        // Refuse a bad name before reading a possibly large tarball.
        crate::layers::ImageReference::parse(r)?;
    }
    let id = with_store_as_owner(dirs, reporter, |store| {
        let (id, _) = store.import_rootfs_report(tarball, options)?;
        Ok(id)
    })?;
    Ok(id.hex().to_string())
}

/// `skiff images`, with `--filter` arguments (see `image_filter`).
pub fn list_images(
    dirs: &StorageDirs,
    filters: &[String],
) -> Result<Vec<ImageSummary>, EngineError> {
    let store = Store::open(&dirs.root)?;
    let rows = store.list_images()?;
    if filters.is_empty() {
        return Ok(rows);
    }
    let parsed = parse_image_filters(&store, filters)?;
    let labels = |row: &ImageSummary| {
        store
            .resolve_image(&row.id.to_string())
            .ok()
            .and_then(|image| image.config.config().clone())
            .and_then(|config| config.labels().clone())
            .map(|labels| labels.into_iter().collect())
            .unwrap_or_default()
    };
    Ok(filter_images(rows, &parsed, &labels))
}

/// `skiff load -i DIR`: an OCI layout directory (`save --format oci-dir`).
pub fn load_directory(
    dirs: &StorageDirs,
    dir: &std::path::Path,
    reporter: &dyn Reporter,
) -> Result<Vec<String>, EngineError> {
    let dir = dir.to_path_buf();
    with_store_as_owner(dirs, reporter, move |store| {
        Ok(store.load_directory(&dir)?.images)
    })
}

/// `skiff save`: `output` is a file (stdout when `None`) for the archive
/// formats, a directory for `oci-dir`. A file is written beside its final
/// name and renamed, so a failed save leaves no partial archive.
pub fn save_images(
    dirs: &StorageDirs,
    names: &[String],
    format: ArchiveFormat,
    output: Option<&std::path::Path>,
) -> Result<(), EngineError> {
    let store = Store::open(&dirs.root)?;
    match (format, output) {
        (ArchiveFormat::OciDir, Some(dir)) => Ok(store.save_directory(names, dir)?),
        (ArchiveFormat::OciDir, None) => Err(EngineError::Invalid(
            "--format oci-dir needs a directory: give it with -o".into(),
        )),
        (_, None) => {
            let mut stdout = std::io::stdout().lock();
            store.save_archive(names, format, &mut stdout)?;
            std::io::Write::flush(&mut stdout).map_err(EngineError::io("writing standard output"))
        }
        (_, Some(path)) => {
            let partial = path.with_file_name(format!(
                ".{}.skiff-partial-{}",
                path.file_name()
                    .map_or("archive".into(), |n| n.to_string_lossy()),
                std::process::id()
            ));
            let written = (|| -> Result<(), EngineError> {
                let file = std::fs::File::create(&partial)
                    .map_err(EngineError::io(format!("creating {}", partial.display())))?;
                let mut out = std::io::BufWriter::new(file);
                store.save_archive(names, format, &mut out)?;
                out.into_inner().map_err(|e| {
                    EngineError::io(format!("writing {}", partial.display()))(e.into_error())
                })?;
                std::fs::rename(&partial, path)
                    .map_err(EngineError::io(format!("renaming into {}", path.display())))
            })();
            if written.is_err() {
                let _ = std::fs::remove_file(&partial);
            }
            written
        }
    }
}
