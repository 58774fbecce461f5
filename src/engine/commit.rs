//! `skiff commit`: a container's upper layer becomes a new image layer on
//! top of its image. Overlay's whiteouts are turned back into the image
//! format's `.wh.` entries; skiff's own mount points are left out.

use std::io::{Seek, SeekFrom};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use super::EngineError;
use super::images::with_store_as_owner;
use super::lookup::find_container;
use crate::layers::{CommitOptions, Digest, OPAQUE_XATTR};
use crate::state::{ContainerStore, StorageDirs};

fn empty_entry(name: &Path) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_size(0);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    let _ = header.set_path(name);
    header.set_cksum();
    header
}

/// Adds `upper/rel` and below to the layer tar.
fn add_tree(
    builder: &mut tar::Builder<&mut std::fs::File>,
    upper: &Path,
    rel: &Path,
    skip: &[&str],
) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(upper.join(rel))?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let child = rel.join(entry.file_name());
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path)?;
        if skip.iter().any(|s| Path::new(s) == child) && (meta.len() == 0 || meta.is_dir()) {
            continue;
        }
        if meta.file_type().is_char_device() && meta.rdev() == 0 {
            let name = format!(".wh.{}", entry.file_name().to_string_lossy());
            let header = empty_entry(&rel.join(name));
            builder.append(&header, std::io::empty())?;
            continue;
        }
        builder.append_path_with_name(&path, &child)?;
        if meta.is_dir() {
            if super::changes::xattr_set(&path, OPAQUE_XATTR) {
                let header = empty_entry(&child.join(".wh..wh..opq"));
                builder.append(&header, std::io::empty())?;
            }
            add_tree(builder, upper, &child, skip)?;
        }
    }
    Ok(())
}

/// Commits the container's changes as a new image; returns its ID.
pub fn commit_container(
    dirs: &StorageDirs,
    name: &str,
    options: &CommitOptions,
) -> Result<Digest, EngineError> {
    let containers = ContainerStore::new(dirs);
    let record = find_container(&containers, name)?;
    let upper = containers.paths(&record.id).dir.join("upper");
    let mut skip: Vec<String> = ["etc/hosts", "etc/hostname", "etc/resolv.conf"]
        .map(String::from)
        .to_vec();
    skip.extend(
        record
            .config
            .mounts
            .iter()
            .map(|m| m.destination.trim_start_matches('/').to_string()),
    );
    let mut tar = super::copy::temp_file()?;
    // Rootless, the container's files belong to subordinate IDs: they are
    // read (owners recorded as the container sees them) and the new layer
    // unpacked from inside a mapped user namespace.
    let ids = with_store_as_owner(dirs, |store| {
        let skip: Vec<&str> = skip.iter().map(String::as_str).collect();
        let mut builder = tar::Builder::new(&mut tar);
        builder.follow_symlinks(false);
        add_tree(&mut builder, &upper, Path::new(""), &skip)
            .and_then(|()| builder.finish())
            .map_err(EngineError::io("archiving the container's changes"))?;
        drop(builder);
        tar.seek(SeekFrom::Start(0))
            .map_err(EngineError::io("rewinding the layer"))?;
        let id = store.commit_image(&record.image_id, &mut tar, options)?;
        Ok(vec![id.to_string()])
    })?;
    let id = ids
        .first()
        .ok_or_else(|| EngineError::Invalid("commit produced no image".into()))?;
    Ok(Digest::parse(id)?)
}
