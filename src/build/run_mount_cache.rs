//! Cache mounts with `uid=`, `gid=`, `mode=` or `sharing=private`. The
//! owner and mode apply when the directory is made (as BuildKit: a cache
//! that exists keeps its own). It is made as the store's owner (rootless:
//! in the mapped namespace, so `uid=1000` is the container's 1000) under
//! a temporary name, then renamed into place, so a concurrent build sees
//! either no directory or a finished one.
//!
//! Sharing, as BuildKit: every step that uses a cache holds a flock on
//! its `<dir>.lock` while it runs: `shared` a shared one (it waits while
//! a `locked` or owning `private` step has it), `locked` an exclusive one
//! (it waits; a step takes its waiting locks first, ordered by path, so
//! two builds never wait on each other in a circle), `private`
//! an exclusive one when it can have it at once; when another step is
//! using the cache, a `private` step gets a new empty directory in the
//! store's `tmp/` instead, removed after it (BuildKit keeps such a copy
//! as another instance of the cache; skiff keeps one per id).

use std::fs::{File, TryLockError};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::run_mount_from::Scratch;
use super::run_mounts::bind;
use crate::engine::build_support::as_store_owner;
use crate::engine::{EngineError, Reporter};
use crate::state::{MountSpec, StorageDirs};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheMount {
    /// The cache's directory under the store.
    pub dir: PathBuf,
    /// `sharing=private`: the directory only while no other step uses
    /// it, else a new one.
    pub private: bool,
    pub target: String,
    pub read_only: bool,
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
}

impl CacheMount {
    /// Makes the directory if needed. A private step's own directory is
    /// removed when the returned scratch guard drops; the returned lock
    /// (a private step's hold on the cache) is to be kept until the step
    /// is done.
    pub fn prepare(
        &self,
        dirs: &StorageDirs,
        reporter: &dyn Reporter,
        tmp: &Path,
    ) -> Result<(Option<Scratch>, Option<File>, MountSpec), EngineError> {
        let unique = format!(
            "{}-{}",
            std::process::id(),
            crate::state::new_container_id()
        );
        let held = if self.private {
            lock_cache(&self.dir, Hold::ExclusiveIfFree)?
        } else {
            None
        };
        let (dir, scratch) = match (&held, self.private) {
            (None, true) => {
                let dir = tmp.join(format!("cacheprivate-{unique}"));
                (dir.clone(), Some(Scratch(dir)))
            }
            _ => (self.dir.clone(), None),
        };
        if !dir.is_dir() {
            let parent = dir.parent().unwrap_or(tmp).to_path_buf();
            std::fs::create_dir_all(&parent)
                .map_err(io_error(format!("creating {}", parent.display())))?;
            let fresh = tmp.join(format!("cachenew-{unique}"));
            let (uid, gid, mode) = (self.uid, self.gid, self.mode);
            let into = dir.clone();
            as_store_owner(dirs, reporter, move |_store| {
                let made = std::fs::create_dir(&fresh)
                    .and_then(|()| std::os::unix::fs::chown(&fresh, Some(uid), Some(gid)))
                    .and_then(|()| {
                        std::fs::set_permissions(&fresh, std::fs::Permissions::from_mode(mode))
                    });
                if let Err(e) = made {
                    let _ = std::fs::remove_dir(&fresh);
                    return Err(io_error(format!(
                        "creating the cache mount {}",
                        into.display()
                    ))(e));
                }
                // Another build may have made it meanwhile: its stays.
                if std::fs::rename(&fresh, &into).is_err() {
                    let _ = std::fs::remove_dir(&fresh);
                }
                Ok(())
            })?;
        }
        Ok((
            scratch,
            held,
            bind(dir, self.target.clone(), self.read_only),
        ))
    }
}

/// How a step holds a cache's lock file.
pub enum Hold {
    /// `sharing=locked`: exclusive, waiting for it.
    Exclusive,
    /// `sharing=private`: exclusive, only if no one else holds it.
    ExclusiveIfFree,
    /// `sharing=shared`: shared, waiting while a `locked` step (or a
    /// `private` one that owns the cache) holds it.
    Shared,
}

/// Locks `<dir>.lock` as `hold` says; `None` when an `…IfFree` lock is
/// held by another step.
pub fn lock_cache(dir: &Path, hold: Hold) -> Result<Option<File>, EngineError> {
    let path = dir.with_extension("lock");
    let what = || format!("locking {}", path.display());
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io_error(what()))?;
    }
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_error(what()))?;
    let attempt = match hold {
        Hold::Exclusive => return file.lock().map(|()| Some(file)).map_err(io_error(what())),
        Hold::ExclusiveIfFree => file.try_lock(),
        Hold::Shared => {
            return file
                .lock_shared()
                .map(|()| Some(file))
                .map_err(io_error(what()));
        }
    };
    match attempt {
        Ok(()) => Ok(Some(file)),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(e)) => Err(io_error(what())(e)),
    }
}

/// An I/O error as the engine's, naming what was being done.
pub(super) fn io_error(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> EngineError {
    let what = what.into();
    move |source| EngineError::Io { what, source }
}
