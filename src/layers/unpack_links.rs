//! Hardlink entries of a layer being unpacked.

use std::ffi::OsStr;
use std::io::Read;
use std::os::fd::AsFd;

use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::sys::stat::SFlag;
use nix::unistd::linkat;

use super::super::LayerError;
use super::super::layer_fs::{self, lstat_at, remove_at, walk_dirs};
use super::{Unpacker, split_entry_path};

impl Unpacker<'_> {
    /// A hardlink entry: only to an earlier non-directory entry of this
    /// layer, reached without following symlinks.
    pub(super) fn hard_link<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        shown: &str,
        parts: &[&OsStr],
    ) -> Result<(), LayerError> {
        let raw_target = entry
            .link_name_bytes()
            .ok_or_else(|| self.bad_entry(shown, "hardlink without a target"))?
            .into_owned();
        let target_shown = String::from_utf8_lossy(&raw_target).into_owned();
        let target_parts = split_entry_path(&raw_target).ok_or_else(|| {
            self.unsafe_entry(
                shown,
                format!("links to {target_shown:?}, outside the layer root"),
            )
        })?;
        let Some((&target_name, target_parents)) = target_parts.split_last() else {
            return Err(self.unsafe_entry(shown, "links to the layer root".to_string()));
        };
        if target_parts == parts {
            return Ok(());
        }
        let target_dir =
            walk_dirs(self.root.as_fd(), target_parents, false).map_err(|e| {
                match self.walk_error(shown, target_parents, e) {
                    LayerError::UnsafeEntry { problem, .. } => self
                        .unsafe_entry(shown, format!("links to {target_shown:?}, which {problem}")),
                    other => other,
                }
            })?;
        match lstat_at(target_dir.as_fd(), target_name) {
            Ok(stat) if layer_fs::file_kind(&stat) == SFlag::S_IFDIR => {
                return Err(
                    self.unsafe_entry(shown, format!("links to the directory {target_shown:?}"))
                );
            }
            Ok(_) => {}
            Err(Errno::ENOENT) => {
                return Err(self.unsafe_entry(
                    shown,
                    format!("links to {target_shown:?}, which is not earlier in this layer"),
                ));
            }
            Err(e) => return Err(self.io("inspecting", &target_parts)(e.into())),
        }
        let (&name, parents) = parts.split_last().expect("a hardlink entry has a name");
        let dir = self.parent_dir(shown, parents)?;
        remove_at(dir.as_fd(), name, false).map_err(self.io("replacing", parts))?;
        // linkat without AT_SYMLINK_FOLLOW: a link to a symlink links the
        // symlink itself, never its target.
        linkat(
            target_dir.as_fd(),
            target_name,
            dir.as_fd(),
            name,
            AtFlags::empty(),
        )
        .map_err(|e| self.io("creating hardlink", parts)(e.into()))
    }
}
