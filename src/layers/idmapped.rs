//! Image layers re-owned for a container ID mapping other than the one
//! the store keeps them for (`--userns keep-id|nomap|auto`, `--uidmap`).
//!
//! Layout: `idmapped/<key>/<diff-id hex>/`, one directory per mapping
//! (`key`: a hash of the shift), so a container's lower layers still
//! share one parent (overlay gets bare names). A copy is made under
//! `tmp/` and renamed into place: it exists whole or not at all, and two
//! runs making the same copy at once keep the first rename's. The caller
//! runs this where every owner involved is representable (rootless:
//! inside the default user namespace). Garbage collection removes a copy
//! with its layer (`gc.rs`).

use std::collections::HashMap;
use std::fs::{self, DirBuilder};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt, lchown, symlink};
use std::path::{Path, PathBuf};

use nix::fcntl::AT_FDCWD;
use nix::sys::stat::{Mode, SFlag, UtimensatFlags, mknod, utimensat};
use nix::sys::time::TimeSpec;

use super::digest::Digest;
use super::store::{Store, TempGuard, is_dir_exists_error};
use super::{LayerError, io_error};

/// How owners change from the store's copy to the mapped one: ranges
/// `[from, to, size]` as the process making the copy sees the IDs. An ID
/// no range covers keeps its value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IdShift {
    pub uids: Vec<[u32; 3]>,
    pub gids: Vec<[u32; 3]>,
}

fn shift(ranges: &[[u32; 3]], id: u32) -> u32 {
    ranges
        .iter()
        .find(|[from, _, size]| id >= *from && id - from < *size)
        .map_or(id, |[from, to, _]| to + (id - from))
}

impl IdShift {
    pub fn uid(&self, id: u32) -> u32 {
        shift(&self.uids, id)
    }

    pub fn gid(&self, id: u32) -> u32 {
        shift(&self.gids, id)
    }

    /// The name of this shift's directory under `idmapped/`: the first
    /// 16 hex digits of a hash of its ranges.
    pub fn key(&self) -> String {
        let text = format!("v1 uids {:?} gids {:?}", self.uids, self.gids);
        Digest::of_bytes(text.as_bytes()).hex()[..16].to_string()
    }
}

const CAPABILITY_XATTR: &str = "security.capability";
const VFS_CAP_REVISION_2: u32 = 0x0200_0000;
const VFS_CAP_REVISION_3: u32 = 0x0300_0000;
const VFS_CAP_REVISION_MASK: u32 = 0xff00_0000;

/// A file capability xattr with its root ID moved through `shift`: the
/// capabilities apply in namespaces whose root is that ID. A v2 value
/// (as read here, its root is ours: 0) becomes v3 with the shifted 0.
fn shifted_capability(value: &[u8], shift: &IdShift) -> Option<Vec<u8>> {
    if value.len() < 20 {
        return None;
    }
    let magic = u32::from_le_bytes(value[0..4].try_into().ok()?);
    let rootid = match magic & VFS_CAP_REVISION_MASK {
        VFS_CAP_REVISION_2 => 0,
        VFS_CAP_REVISION_3 if value.len() >= 24 => {
            u32::from_le_bytes(value[20..24].try_into().ok()?)
        }
        _ => return None,
    };
    let new_root = shift.uid(rootid);
    let flags = magic & !VFS_CAP_REVISION_MASK;
    let mut out = Vec::with_capacity(24);
    out.extend_from_slice(&(VFS_CAP_REVISION_3 | flags).to_le_bytes());
    out.extend_from_slice(&value[4..20]);
    out.extend_from_slice(&new_root.to_le_bytes());
    Some(out)
}

struct Copier<'a> {
    shift: &'a IdShift,
    /// (dev, ino) of multiply-linked files already copied → their copy.
    links: HashMap<(u64, u64), PathBuf>,
}

impl Copier<'_> {
    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LayerError + '_ {
        io_error("copying a layer for an ID mapping", path)
    }

    fn copy_dir(&mut self, src: &Path, dest: &Path) -> Result<(), LayerError> {
        let mut entries: Vec<_> = fs::read_dir(src)
            .map_err(Self::io(src))?
            .collect::<Result<_, _>>()
            .map_err(Self::io(src))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let from = entry.path();
            let to = dest.join(entry.file_name());
            self.copy_entry(&from, &to)?;
        }
        Ok(())
    }

    fn copy_entry(&mut self, from: &Path, to: &Path) -> Result<(), LayerError> {
        let meta = fs::symlink_metadata(from).map_err(Self::io(from))?;
        let kind = meta.file_type();
        if kind.is_dir() {
            DirBuilder::new()
                .mode(0o700)
                .create(to)
                .map_err(Self::io(to))?;
            self.copy_dir(from, to)?;
        } else if kind.is_symlink() {
            symlink(fs::read_link(from).map_err(Self::io(from))?, to).map_err(Self::io(to))?;
        } else if kind.is_file() {
            if meta.nlink() > 1 {
                if let Some(first) = self.links.get(&(meta.dev(), meta.ino())) {
                    // Ownership is per inode: the link shares the copy's.
                    return fs::hard_link(first, to).map_err(Self::io(to));
                }
                self.links
                    .insert((meta.dev(), meta.ino()), to.to_path_buf());
            }
            fs::copy(from, to).map_err(Self::io(to))?;
        } else {
            // Whiteouts (0/0 character devices), other nodes, fifos. A
            // device node mknod refuses (rootless) is skipped, as unpack
            // skipped it.
            let node = SFlag::from_bits_truncate(meta.mode() & libc::S_IFMT);
            let mode = Mode::from_bits_truncate(meta.mode() & 0o7777);
            match mknod(to, node, mode, meta.rdev()) {
                Ok(()) => {}
                Err(nix::Error::EPERM) if meta.rdev() != 0 => return Ok(()),
                Err(e) => return Err(Self::io(to)(e.into())),
            }
        }
        self.apply_metadata(from, to, &meta)
    }

    /// Owner, then mode (chown clears set-ID bits), then xattrs (chown
    /// clears file capabilities too), then times.
    fn apply_metadata(
        &self,
        from: &Path,
        to: &Path,
        meta: &fs::Metadata,
    ) -> Result<(), LayerError> {
        let symlink = meta.file_type().is_symlink();
        lchown(
            to,
            Some(self.shift.uid(meta.uid())),
            Some(self.shift.gid(meta.gid())),
        )
        .map_err(Self::io(to))?;
        if !symlink {
            fs::set_permissions(to, fs::Permissions::from_mode(meta.mode() & 0o7777))
                .map_err(Self::io(to))?;
            for name in crate::xattr::list_path(from).map_err(Self::io(from))? {
                let Some(value) = crate::xattr::get_path(from, &name).map_err(Self::io(from))?
                else {
                    continue;
                };
                let value = if name == CAPABILITY_XATTR {
                    match shifted_capability(&value, self.shift) {
                        Some(v) => v,
                        None => continue,
                    }
                } else {
                    value
                };
                crate::xattr::set_path(to, &name, &value).map_err(Self::io(to))?;
            }
        }
        let time = |secs, nanos| TimeSpec::new(secs, nanos);
        utimensat(
            AT_FDCWD,
            to,
            &time(meta.atime(), meta.atime_nsec()),
            &time(meta.mtime(), meta.mtime_nsec()),
            UtimensatFlags::NoFollowSymlink,
        )
        .map_err(|e| Self::io(to)(e.into()))
    }
}

/// Copies the layer tree `src` to `dest` (which must not exist) with
/// every owner moved through `shift`; modes, set-ID bits, xattrs (file
/// capabilities with their root ID shifted too), symlinks, hard links
/// within the tree, whiteouts and times are kept.
pub fn copy_shifted(src: &Path, dest: &Path, shift: &IdShift) -> Result<(), LayerError> {
    let mut copier = Copier {
        shift,
        links: HashMap::new(),
    };
    let meta = fs::symlink_metadata(src).map_err(Copier::io(src))?;
    DirBuilder::new()
        .mode(0o700)
        .create(dest)
        .map_err(Copier::io(dest))?;
    copier.copy_dir(src, dest)?;
    copier.apply_metadata(src, dest, &meta)
}

impl Store {
    /// Where the copies for the shift with `key` live.
    pub fn idmapped_dir(&self, key: &str) -> PathBuf {
        self.root().join("idmapped").join(key)
    }

    /// The copies of `layer_dirs` (store layers) for the shift `key`,
    /// whether made yet or not: one `stat` each tells.
    pub fn idmapped_layer_dirs(&self, key: &str, layer_dirs: &[PathBuf]) -> Vec<PathBuf> {
        let dir = self.idmapped_dir(key);
        layer_dirs
            .iter()
            .map(|l| dir.join(l.file_name().unwrap_or_default()))
            .collect()
    }

    /// Makes the missing copies of `layer_dirs` for `shift`; returns the
    /// copies' directories, bottom layer first as given. Holds the GC lock
    /// shared while it writes, so a collection never sees half a copy.
    pub fn ensure_idmapped_layers(
        &self,
        shift: &IdShift,
        layer_dirs: &[PathBuf],
    ) -> Result<Vec<PathBuf>, LayerError> {
        let key = shift.key();
        let targets = self.idmapped_layer_dirs(&key, layer_dirs);
        if targets.iter().all(|t| t.is_dir()) {
            return Ok(targets);
        }
        let _lock = self.lock_for_writing()?;
        let parent = self.idmapped_dir(&key);
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&parent)
            .map_err(io_error("creating", &parent))?;
        for (src, target) in layer_dirs.iter().zip(&targets) {
            if target.is_dir() {
                continue;
            }
            let tmp = TempGuard::new(self.temp_path("idmap"));
            copy_shifted(src, tmp.path(), shift)?;
            match fs::rename(tmp.path(), target) {
                Ok(()) => tmp.keep(),
                // Another run made the same copy first: use theirs.
                Err(e) if target.is_dir() && is_dir_exists_error(&e) => {}
                Err(e) => return Err(io_error("renaming into", target)(e)),
            }
        }
        Ok(targets)
    }

    /// Removes the copies of layers not in `keep` (diff-id hex) and the
    /// mapping directories left empty; returns (copies, bytes) removed.
    pub(super) fn collect_idmapped(
        &self,
        keep: &std::collections::HashSet<String>,
    ) -> (usize, u64) {
        let (mut count, mut bytes) = (0, 0);
        let Ok(mappings) = fs::read_dir(self.root().join("idmapped")) else {
            return (0, 0);
        };
        for mapping in mappings.flatten() {
            let Ok(layers) = fs::read_dir(mapping.path()) else {
                continue;
            };
            for layer in layers.flatten() {
                if keep.contains(&layer.file_name().to_string_lossy().into_owned()) {
                    continue;
                }
                let path = layer.path();
                let size = super::store::tree_size(&path);
                super::store::remove_tree(&path);
                if fs::symlink_metadata(&path).is_err() {
                    count += 1;
                    bytes += size;
                }
            }
            // Fails while copies remain: fine.
            let _ = fs::remove_dir(mapping.path());
        }
        (count, bytes)
    }

    /// Every copy under `idmapped/`: the layer it copies (as its
    /// `layers/` directory) and its size (`system df`).
    pub fn idmapped_copies(&self) -> Vec<(PathBuf, u64)> {
        let Ok(mappings) = fs::read_dir(self.root().join("idmapped")) else {
            return Vec::new();
        };
        mappings
            .flatten()
            .flat_map(|m| fs::read_dir(m.path()).into_iter().flatten().flatten())
            .map(|copy| {
                let layer = self.root().join("layers").join(copy.file_name());
                (layer, super::store::tree_size(&copy.path()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_outside_every_range_keep_their_value() {
        let s = IdShift {
            uids: vec![[0, 1, 1000], [1000, 0, 1]],
            gids: vec![],
        };
        assert_eq!(s.uid(0), 1);
        assert_eq!(s.uid(999), 1000);
        assert_eq!(s.uid(1000), 0);
        assert_eq!(s.uid(5000), 5000);
        assert_eq!(s.gid(7), 7);
        assert_ne!(s.key(), IdShift::default().key());
    }

    #[test]
    fn capability_root_ids_are_shifted() {
        let s = IdShift {
            uids: vec![[0, 5, 10]],
            gids: vec![],
        };
        let mut v2 = (VFS_CAP_REVISION_2 | 1).to_le_bytes().to_vec();
        v2.extend_from_slice(&[0xaa; 16]);
        let out = shifted_capability(&v2, &s).unwrap();
        assert_eq!(out.len(), 24);
        assert_eq!(
            u32::from_le_bytes(out[0..4].try_into().unwrap()),
            VFS_CAP_REVISION_3 | 1
        );
        assert_eq!(&out[4..20], &[0xaa; 16]);
        assert_eq!(u32::from_le_bytes(out[20..24].try_into().unwrap()), 5);
    }

    #[test]
    fn file_capabilities_follow_the_new_root() {
        // Setting security.capability and chowning to other IDs needs
        // root; unprivileged runs check the byte layout above only.
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let (src, dest) = (tmp.path().join("src"), tmp.path().join("dest"));
        fs::create_dir(&src).unwrap();
        fs::write(src.join("ping"), "x").unwrap();
        fs::set_permissions(src.join("ping"), fs::Permissions::from_mode(0o4711)).unwrap();
        // v2, effective, cap_net_raw (13) permitted.
        let mut v2 = (VFS_CAP_REVISION_2 | 1).to_le_bytes().to_vec();
        v2.extend_from_slice(&(1u32 << 13).to_le_bytes());
        v2.extend_from_slice(&[0; 12]);
        crate::xattr::set_path(&src.join("ping"), CAPABILITY_XATTR, &v2).unwrap();
        let s = IdShift {
            uids: vec![[0, 5000, 100]],
            gids: vec![[0, 6000, 100]],
        };
        copy_shifted(&src, &dest, &s).unwrap();
        let meta = fs::symlink_metadata(dest.join("ping")).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (5000, 6000));
        assert_eq!(
            meta.mode() & 0o7777,
            0o4711,
            "chown must not cost the setuid bit"
        );
        let caps = crate::xattr::get_path(&dest.join("ping"), CAPABILITY_XATTR)
            .unwrap()
            .unwrap();
        assert_eq!(caps.len(), 24);
        assert_eq!(&caps[4..8], &(1u32 << 13).to_le_bytes());
        assert_eq!(u32::from_le_bytes(caps[20..24].try_into().unwrap()), 5000);
    }

    #[test]
    fn a_copy_keeps_modes_links_times_and_xattrs() {
        let tmp = tempfile::tempdir().unwrap();
        let (src, dest) = (tmp.path().join("src"), tmp.path().join("dest"));
        fs::create_dir_all(src.join("d")).unwrap();
        fs::write(src.join("d/f"), "data").unwrap();
        fs::set_permissions(src.join("d/f"), fs::Permissions::from_mode(0o4755)).unwrap();
        fs::hard_link(src.join("d/f"), src.join("link")).unwrap();
        symlink("d/f", src.join("sym")).unwrap();
        crate::xattr::set_path(&src.join("d"), "user.overlay.opaque", b"y").unwrap();
        let uid = nix::unistd::getuid().as_raw();
        let gid = nix::unistd::getgid().as_raw();
        // A shift onto our own IDs: allowed unprivileged.
        let s = IdShift {
            uids: vec![[uid, uid, 1]],
            gids: vec![[gid, gid, 1]],
        };
        copy_shifted(&src, &dest, &s).unwrap();
        let f = fs::metadata(dest.join("d/f")).unwrap();
        assert_eq!(f.mode() & 0o7777, 0o4755);
        assert_eq!(f.ino(), fs::metadata(dest.join("link")).unwrap().ino());
        assert_eq!(f.mtime(), fs::metadata(src.join("d/f")).unwrap().mtime());
        assert_eq!(fs::read_link(dest.join("sym")).unwrap(), Path::new("d/f"));
        assert_eq!(
            crate::xattr::get_path(&dest.join("d"), "user.overlay.opaque").unwrap(),
            Some(b"y".to_vec())
        );
    }
}
