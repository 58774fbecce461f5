//! `skiff diff` (what the container changed, from its upper layer) and
//! `skiff export` (its whole filesystem as a tar).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::EngineError;
use super::lookup::find_container;
use crate::layers::list_changes;
pub use crate::layers::{Change, ChangeKind};
use crate::sandbox::userns::{caller_mappings, run_in_new_userns};
use crate::state::{ContainerRecord, ContainerStore, StorageDirs};

/// The mount points skiff itself puts in a container's root: the files it
/// generates in /etc and the destinations of the container's mounts. An
/// empty file or directory there is skiff's, not the container's change.
pub(crate) fn skiff_mount_points(record: &ContainerRecord) -> Vec<PathBuf> {
    ["/etc/hosts", "/etc/hostname", "/etc/resolv.conf"]
        .iter()
        .map(PathBuf::from)
        .chain(
            record
                .config
                .mounts
                .iter()
                .map(|m| PathBuf::from(&m.destination)),
        )
        .chain(
            record
                .config
                .secrets
                .iter()
                .filter(|s| s.kind == crate::state::SecretKind::Mount)
                .map(|s| PathBuf::from(&s.target)),
        )
        .collect()
}

/// The container's changes against its image, sorted by path.
pub fn container_changes(dirs: &StorageDirs, name: &str) -> Result<Vec<Change>, EngineError> {
    let store = ContainerStore::new(dirs);
    let record = find_container(&store, name)?;
    let upper = store.paths(&record.id).dir.join("upper");
    let image = crate::layers::Store::open(&dirs.root)?.resolve_image(&record.image_id)?;
    let mount_points = skiff_mount_points(&record);
    let walk = || list_changes(&upper, &image.layer_dirs, &mount_points).map_err(EngineError::from);
    // Rootless, directories the container's users made may be closed to
    // us outside its user namespace.
    if super::is_rootless() {
        Ok(run_in_new_userns(&caller_mappings(), walk)?)
    } else {
        walk()
    }
}

/// Adds the tree under `/` to `builder`, staying on the root's file
/// system: what is mounted over it (/proc, /sys, /dev, volumes, the
/// generated /etc files) is not part of the container's filesystem.
fn archive_tree(
    builder: &mut tar::Builder<&mut File>,
    dir: &Path,
    root_dev: u64,
    skip: &[PathBuf],
) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path)?;
        // Other file systems are mounts, not the container's; a secret's
        // file is skipped by name too, wherever its source lives.
        if meta.dev() != root_dev || skip.contains(&path) {
            continue;
        }
        let name = path.strip_prefix("/").unwrap_or(&path);
        if meta.is_dir() {
            builder.append_dir(name, &path)?;
            archive_tree(builder, &path, root_dev, skip)?;
        } else {
            builder.append_path_with_name(&path, name)?;
        }
    }
    Ok(())
}

/// `skiff export`: the container's filesystem as a tar, into `out`.
pub fn export_container(
    dirs: &StorageDirs,
    name: &str,
    out: &mut dyn std::io::Write,
) -> Result<(), EngineError> {
    let store = ContainerStore::new(dirs);
    let record = find_container(&store, name)?;
    let secrets: Vec<PathBuf> = record
        .config
        .secrets
        .iter()
        .filter(|s| s.kind == crate::state::SecretKind::Mount)
        .map(|s| Path::new(&s.target).components().collect())
        .collect();
    let mut tar = super::copy::temp_file()?;
    let mut writer = tar
        .try_clone()
        .map_err(EngineError::io("duplicating the temp file"))?;
    super::copy::in_container(dirs, &store, &record, move || {
        let root_dev = std::fs::metadata("/").map_err(|e| e.to_string())?.dev();
        let mut builder = tar::Builder::new(&mut writer);
        builder.follow_symlinks(false);
        archive_tree(&mut builder, Path::new("/"), root_dev, &secrets)
            .and_then(|()| builder.finish())
            .map_err(|e| format!("archiving the container's filesystem: {e}"))
    })?;
    tar.seek(SeekFrom::Start(0))
        .map_err(EngineError::io("rewinding"))?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = tar
            .read(&mut buf)
            .map_err(EngineError::io("reading the archive"))?;
        if n == 0 {
            return Ok(());
        }
        out.write_all(&buf[..n])
            .map_err(EngineError::io("writing the archive"))?;
    }
}
