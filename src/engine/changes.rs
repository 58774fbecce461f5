//! `skiff diff` (what the container changed, from its upper layer) and
//! `skiff export` (its whole filesystem as a tar).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::EngineError;
use super::lookup::find_container;
use crate::layers::OPAQUE_XATTR;
use crate::sandbox::userns::{caller_mappings, run_in_new_userns};
use crate::state::{ContainerStore, StorageDirs};

/// One line of `diff`: `A` added, `C` changed, `D` deleted.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Change {
    pub path: String,
    pub kind: char,
}

fn in_lower(lower: &[PathBuf], rel: &Path) -> bool {
    lower
        .iter()
        .any(|l| std::fs::symlink_metadata(l.join(rel)).is_ok())
}

fn walk_upper(
    upper: &Path,
    rel: &Path,
    lower: &[PathBuf],
    out: &mut Vec<Change>,
) -> std::io::Result<()> {
    for entry in std::fs::read_dir(upper.join(rel))? {
        let entry = entry?;
        let rel_child = rel.join(entry.file_name());
        let meta = entry.metadata()?;
        let shown = format!("/{}", rel_child.display());
        // overlay's whiteout: a 0/0 character device.
        if meta.file_type().is_char_device() && meta.rdev() == 0 {
            out.push(Change {
                path: shown,
                kind: 'D',
            });
            continue;
        }
        let existed = in_lower(lower, &rel_child);
        out.push(Change {
            path: shown,
            kind: if existed { 'C' } else { 'A' },
        });
        if meta.is_dir() {
            let opaque = xattr_set(&entry.path(), OPAQUE_XATTR);
            if !opaque || !existed {
                walk_upper(upper, &rel_child, lower, out)?;
            } else {
                walk_upper(upper, &rel_child, &[], out)?;
            }
        }
    }
    Ok(())
}

/// Whether `path` (not followed if a symlink) carries xattr `name`.
pub(super) fn xattr_set(path: &Path, name: &str) -> bool {
    let (Ok(p), Ok(n)) = (
        std::ffi::CString::new(path.as_os_str().as_encoded_bytes()),
        std::ffi::CString::new(name),
    ) else {
        return false;
    };
    // SAFETY: both strings are NUL-terminated; a null buffer with size 0
    // only asks for the value's length.
    unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), std::ptr::null_mut(), 0) >= 0 }
}

/// The container's changes against its image, sorted by path.
pub fn container_changes(dirs: &StorageDirs, name: &str) -> Result<Vec<Change>, EngineError> {
    let store = ContainerStore::new(dirs);
    let record = find_container(&store, name)?;
    let upper = store.paths(&record.id).dir.join("upper");
    let image = crate::layers::Store::open(&dirs.root)?.resolve_image(&record.image_id)?;
    let lower = image.layer_dirs;
    let walk = || {
        let mut changes = Vec::new();
        walk_upper(&upper, Path::new(""), &lower, &mut changes)
            .map_err(|e| format!("reading {}: {e}", upper.display()))?;
        serde_json::to_string(
            &changes
                .iter()
                .map(|c| (c.kind, c.path.clone()))
                .collect::<Vec<_>>(),
        )
        .map_err(|e| e.to_string())
    };
    // Rootless, directories the container's users made may be closed to
    // us outside its user namespace.
    let json = if super::is_rootless() {
        run_in_new_userns(&caller_mappings(), walk)?
    } else {
        walk().map_err(EngineError::Invalid)?
    };
    let pairs: Vec<(char, String)> =
        serde_json::from_str(&json).map_err(|e| EngineError::Invalid(e.to_string()))?;
    // Mount points skiff created for its own mounts are not the
    // container's changes (docker hides them too).
    let mut mount_points: Vec<String> = ["/etc/hosts", "/etc/hostname", "/etc/resolv.conf"]
        .map(String::from)
        .to_vec();
    mount_points.extend(record.config.mounts.iter().map(|m| m.destination.clone()));
    let mut changes: Vec<Change> = pairs
        .into_iter()
        .filter(|(kind, path)| {
            !(*kind == 'A'
                && mount_points.contains(path)
                && std::fs::symlink_metadata(upper.join(&path[1..]))
                    .is_ok_and(|m| m.len() == 0 || m.is_dir()))
        })
        .map(|(kind, path)| Change { path, kind })
        .collect();
    changes.sort();
    Ok(changes)
}

/// Adds the tree under `/` to `builder`, staying on the root's file
/// system: what is mounted over it (/proc, /sys, /dev, volumes, the
/// generated /etc files) is not part of the container's filesystem.
fn archive_tree(
    builder: &mut tar::Builder<&mut File>,
    dir: &Path,
    root_dev: u64,
) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path)?;
        if meta.dev() != root_dev {
            continue;
        }
        let name = path.strip_prefix("/").unwrap_or(&path);
        if meta.is_dir() {
            builder.append_dir(name, &path)?;
            archive_tree(builder, &path, root_dev)?;
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
    let mut tar = super::copy::temp_file()?;
    let mut writer = tar
        .try_clone()
        .map_err(EngineError::io("duplicating the temp file"))?;
    super::copy::in_container(dirs, &store, &record, move || {
        let root_dev = std::fs::metadata("/").map_err(|e| e.to_string())?.dev();
        let mut builder = tar::Builder::new(&mut writer);
        builder.follow_symlinks(false);
        archive_tree(&mut builder, Path::new("/"), root_dev)
            .and_then(|()| builder.finish())
            .map(|()| String::new())
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
