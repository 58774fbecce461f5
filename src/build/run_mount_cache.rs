//! Cache mounts with `uid=`, `gid=`, `mode=` or `sharing=private`. The
//! owner and mode apply when the directory is made (as BuildKit: a cache
//! that exists keeps its own). It is made as the store's owner (rootless:
//! in the mapped namespace, so `uid=1000` is the container's 1000) under
//! a temporary name, then renamed into place, so a concurrent build sees
//! either no directory or a finished one. `sharing=private` is always a
//! new empty directory in the store's `tmp/` for this step, removed after
//! it (decision: simpler than BuildKit's "a new one only while another
//! step holds the cache", and never shares).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::run_mount_from::Scratch;
use super::run_mounts::bind;
use crate::engine::build_support::as_store_owner;
use crate::engine::{EngineError, Reporter};
use crate::state::{MountSpec, StorageDirs};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheMount {
    /// The shared directory; `None` for `sharing=private`.
    pub dir: Option<PathBuf>,
    pub target: String,
    pub read_only: bool,
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
}

impl CacheMount {
    /// Makes the directory if needed; a private one is removed when the
    /// returned guard drops.
    pub fn prepare(
        &self,
        dirs: &StorageDirs,
        reporter: &dyn Reporter,
        tmp: &Path,
    ) -> Result<(Option<Scratch>, MountSpec), EngineError> {
        let unique = format!(
            "{}-{}",
            std::process::id(),
            crate::state::new_container_id()
        );
        let (dir, scratch) = match &self.dir {
            Some(dir) => (dir.clone(), None),
            None => {
                let dir = tmp.join(format!("cacheprivate-{unique}"));
                (dir.clone(), Some(Scratch(dir)))
            }
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
        Ok((scratch, bind(dir, self.target.clone(), self.read_only)))
    }
}

/// An I/O error as the engine's, naming what was being done.
pub(super) fn io_error(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> EngineError {
    let what = what.into();
    move |source| EngineError::Io { what, source }
}
