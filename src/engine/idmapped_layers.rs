//! The lower layers of a container with its own ID mapping: the image's
//! layers re-owned for that mapping (`layers/idmapped.rs`), made on first
//! need inside the caller's default user namespace, where every owner of
//! the new mapping is representable, so an unprivileged caller can chown
//! to them. Containers with the default mapping never come here.

use std::path::PathBuf;

use super::EngineError;
use crate::layers::{IdShift, Store};
use crate::sandbox::userns::{caller_mappings, run_in_new_userns};
use crate::state::{StorageDirs, UsernsRecord};

/// How the store's owners move for `userns`: as seen in the default
/// namespace, an image's ID is its container ID, and the copy's owner is
/// what that container ID maps to (an intermediate ID).
fn shift_for(userns: &UsernsRecord) -> IdShift {
    IdShift {
        uids: userns.uid_map.clone(),
        gids: userns.gid_map.clone(),
    }
}

/// The directories to stack for a container: `layer_dirs` as they are
/// without a mapping of its own, else their re-owned copies (made when
/// missing: one `stat` per layer when they exist).
pub fn container_layer_dirs(
    dirs: &StorageDirs,
    userns: Option<&UsernsRecord>,
    layer_dirs: Vec<PathBuf>,
) -> Result<Vec<PathBuf>, EngineError> {
    let Some(userns) = userns else {
        return Ok(layer_dirs);
    };
    let shift = shift_for(userns);
    let store = Store::open(&dirs.root)?;
    let copies = store.idmapped_layer_dirs(&shift.key(), &layer_dirs);
    if copies.iter().all(|c| c.is_dir()) {
        return Ok(copies);
    }
    let make = || -> Result<Vec<PathBuf>, EngineError> {
        Ok(Store::open(&dirs.root)?.ensure_idmapped_layers(&shift, &layer_dirs)?)
    };
    if super::is_rootless() {
        Ok(run_in_new_userns(&caller_mappings(), make)?)
    } else {
        make()
    }
}

/// Gives the container's upper and work directories (made by `create` as
/// the caller) to its root, as its mapping has it: the root directory of
/// its file system is its root's, and overlay, working as that root,
/// writes into them even when the caller's own ID is not mapped
/// (`nomap`, `auto`, most `--uidmap`s). Done in the default namespace,
/// where that owner is representable.
pub fn give_to_container_root(
    userns: &UsernsRecord,
    container_dirs: &[PathBuf],
) -> Result<(), EngineError> {
    let shift = shift_for(userns);
    let (uid, gid) = (shift.uid(0), shift.gid(0));
    let chown = || -> Result<(), EngineError> {
        for dir in container_dirs {
            std::os::unix::fs::lchown(dir, Some(uid), Some(gid)).map_err(EngineError::io(
                format!("giving {} to the container", dir.display()),
            ))?;
        }
        Ok(())
    };
    if super::is_rootless() {
        Ok(run_in_new_userns(&caller_mappings(), chown)?)
    } else {
        chown()
    }
}
