//! Removing a container's files. Rootless, some are owned by subordinate
//! IDs (whatever the container's non-root users wrote), which only the
//! container's user namespace may delete.

use std::fs;
use std::os::fd::OwnedFd;
use std::path::Path;

use super::{EngineError, is_rootless};
use crate::sandbox::userns::{caller_mappings, run_in_new_userns, run_in_userns};

/// Sets mode 0700 on `path` if it is a directory, never through a symlink
/// (the fd is opened with O_NOFOLLOW and changed with fchmod).
fn open_up_directory(path: &Path) {
    use nix::fcntl::OFlag;
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    if let Ok(fd) = nix::fcntl::open(path, flags, nix::sys::stat::Mode::empty()) {
        let _ = nix::sys::stat::fchmod(&fd, nix::sys::stat::Mode::from_bits_truncate(0o700));
    }
}

/// Removes `dir` and everything below it. `user_namespace` is the
/// container's, if still held; otherwise a fresh mapped one is made when
/// plain removal is refused.
pub fn remove_tree(dir: &Path, user_namespace: Option<&OwnedFd>) -> Result<(), EngineError> {
    if !dir.exists() {
        return Ok(());
    }
    // overlayfs leaves `work/work` with mode 000; as its owner we may open
    // it up, which saves the namespace round trip in the common case.
    // Opened without following a symlink: in a tree a container wrote (a
    // build's cache mount) `work/work` may be one, pointing anywhere.
    open_up_directory(&dir.join("work/work"));
    let first = match fs::remove_dir_all(dir) {
        Ok(()) => return Ok(()),
        Err(e) => e,
    };
    if !is_rootless() {
        return Err(EngineError::io(format!("removing {}", dir.display()))(
            first,
        ));
    }
    let remove = || fs::remove_dir_all(dir).map_err(|e| format!("removing {}: {e}", dir.display()));
    match user_namespace {
        // The container's namespace may not map the caller (`nomap`,
        // `auto`): then the default one, which maps every ID skiff uses.
        Some(ns) => {
            run_in_userns(ns, remove).or_else(|_| run_in_new_userns(&caller_mappings(), remove))?
        }
        None => run_in_new_userns(&caller_mappings(), remove)?,
    };
    Ok(())
}
