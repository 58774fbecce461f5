//! Applying one layer tar to an empty directory in the overlay format the
//! sandbox mounts (`userxattr` overlayfs): OCI whiteouts become 0/0
//! character devices, opaque markers become the `user.overlay.opaque`
//! xattr.
//!
//! Every entry is handled here, not by `tar::Entry::unpack*`. Path safety
//! (no `..`, never through a symlink, hardlinks only to earlier entries of
//! this layer) holds for every operation, deferred ones included: paths
//! are walked from the layer root's fd one component at a time and
//! metadata goes through fds (`layer_fs`). What one layer may cost is
//! bounded (`tar_limits`): header records, bytes written, sparse holes
//! kept as holes.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::{File, Metadata};
use std::io::{self, ErrorKind, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat};
use nix::sys::stat::{
    FchmodatFlags, Mode, SFlag, UtimensatFlags, fchmod, fchmodat, fstat, futimens, makedev,
    mkdirat, mknodat, utimensat,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid, fchown, fchownat, symlinkat};

use super::compression::decompressed;
use super::digest::{Digest, HashingReader};
use super::entry_meta::{EntryMeta, apply_xattrs, header_device, read_entry_meta};
use super::layer_fs::{self, WalkError, open_dir_at, remove_at, walk_dirs};
use super::tar_limits::{RecordLimit, WRITE_CAP_ENV, WriteBudget, write_cap_for};
use super::{LayerError, io_error};

/// The xattr that marks a directory opaque in `userxattr` overlayfs.
pub const OPAQUE_XATTR: &str = "user.overlay.opaque";
const WHITEOUT_PREFIX: &[u8] = b".wh.";
const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";
/// What each entry costs the write budget besides its data: its header.
const ENTRY_COST: u64 = 512;
const COPY_BUFFER: usize = 128 * 1024;

/// True for an unpacked whiteout: a character device 0/0.
pub fn is_whiteout(meta: &Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

/// What unpacking a layer did besides writing files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnpackStats {
    /// Sum of the sizes of the regular files written.
    pub size: u64,
    /// Device nodes not created because mknod was refused (rootless).
    pub skipped_devices: u64,
    /// Entries whose owner could not be set (single-id mapping, unmapped id).
    pub failed_chowns: u64,
}

impl UnpackStats {
    pub fn add(&mut self, other: &UnpackStats) {
        self.size += other.size;
        self.skipped_devices += other.skipped_devices;
        self.failed_chowns += other.failed_chowns;
    }
}

/// The result of `unpack_layer`.
#[derive(Debug, Clone)]
pub struct UnpackedLayer {
    /// sha256 of the uncompressed tar stream.
    pub diff_id: Digest,
    pub stats: UnpackStats,
}

/// Unpacks the (plain, gzip or zstd) layer tar `input` into the existing,
/// empty directory `dest`, and checks its diff-id against `expected` when
/// given. `label` names the layer in errors (`layer <label>: …`). The
/// bytes written are capped (see `tar_limits::write_cap_for`). On error
/// `dest` holds a partial layer: the caller discards it.
pub fn unpack_layer(
    input: &mut dyn Read,
    dest: &Path,
    label: &str,
    expected: Option<&Digest>,
) -> Result<UnpackedLayer, LayerError> {
    let cap =
        write_cap_for(dest).map_err(|problem| super::invalid(format!("layer {label}"), problem))?;
    unpack_layer_capped(input, dest, label, expected, cap)
}

/// `unpack_layer` with an explicit cap on the bytes written.
pub(crate) fn unpack_layer_capped(
    input: &mut dyn Read,
    dest: &Path,
    label: &str,
    expected: Option<&Digest>,
    cap: u64,
) -> Result<UnpackedLayer, LayerError> {
    let read_error = |e: io::Error| LayerError::Invalid {
        subject: format!("layer {label}"),
        problem: format!("reading tar: {e}"),
    };
    let decoded = decompressed(input).map_err(read_error)?;
    let mut hashing = HashingReader::new(decoded);
    let mut unpacker = Unpacker {
        root: layer_fs::open_root(dest).map_err(io_error("opening", dest))?,
        dest,
        label,
        stats: UnpackStats::default(),
        dirs: Vec::new(),
        budget: WriteBudget::new(cap),
        parent: None,
        buffer: vec![0; COPY_BUFFER],
    };
    {
        let mut limited = RecordLimit::new(&mut hashing);
        let mut archive = tar::Archive::new(&mut limited);
        for entry in archive.entries().map_err(read_error)? {
            unpacker.apply(entry.map_err(read_error)?)?;
        }
    }
    // The diff-id covers the whole stream, end-of-archive padding included.
    let (diff_id, _) = hashing.drain_and_finish().map_err(read_error)?;
    if let Some(expected) = expected
        && *expected != diff_id
    {
        return Err(LayerError::DigestMismatch {
            subject: format!("layer {label}"),
            expected: expected.clone(),
            actual: diff_id,
        });
    }
    unpacker.finish_dirs()?;
    Ok(UnpackedLayer {
        diff_id,
        stats: unpacker.stats,
    })
}

/// Directory metadata applied after all entries, so that writing children
/// neither bumps the mtime nor trips over a read-only mode. The directory
/// is found again by a fresh no-symlink walk and must still be the inode
/// this unpack made (`dev`, `ino`): holding an fd per directory until the
/// end would run a large layer out of descriptors.
struct DirMeta {
    parts: Vec<Vec<u8>>,
    dev: u64,
    ino: u64,
    mode: u32,
    mtime: TimeSpec,
}

struct Unpacker<'a> {
    root: OwnedFd,
    dest: &'a Path,
    label: &'a str,
    stats: UnpackStats,
    dirs: Vec<DirMeta>,
    budget: WriteBudget,
    /// The parent directory of the last entry, by components. Entries in
    /// one directory only ever change that directory's children, never the
    /// directory or its ancestors, so the fd stays right for the next entry
    /// with the same parent.
    parent: Option<(Vec<Vec<u8>>, OwnedFd)>,
    buffer: Vec<u8>,
}

/// Splits a tar path into components: leading `/` and `.` components are
/// dropped (as docker does), `..` is refused.
fn split_entry_path(raw: &[u8]) -> Option<Vec<&OsStr>> {
    let mut parts = Vec::new();
    for part in raw.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => return None,
            _ => parts.push(OsStr::from_bytes(part)),
        }
    }
    Some(parts)
}

fn owned_parts(parts: &[&OsStr]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.as_bytes().to_vec()).collect()
}

fn display_parts(parts: &[&OsStr]) -> String {
    parts
        .iter()
        .collect::<PathBuf>()
        .to_string_lossy()
        .into_owned()
}

impl Unpacker<'_> {
    fn unsafe_entry(&self, entry: &str, problem: String) -> LayerError {
        LayerError::UnsafeEntry {
            layer: self.label.to_string(),
            entry: entry.to_string(),
            problem,
        }
    }

    fn bad_entry(&self, entry: &str, e: impl std::fmt::Display) -> LayerError {
        LayerError::Invalid {
            subject: format!("layer {}: entry {entry:?}", self.label),
            problem: e.to_string(),
        }
    }

    fn too_large(&self) -> LayerError {
        LayerError::TooLarge {
            layer: self.label.to_string(),
            cap: self.budget.cap,
            setting: WRITE_CAP_ENV,
        }
    }

    fn io(
        &self,
        op: &'static str,
        parts: &[&OsStr],
    ) -> impl FnOnce(io::Error) -> LayerError + use<> {
        io_error(op, &self.dest.join(parts.iter().collect::<PathBuf>()))
    }

    /// Turns a failed walk over `parts` into the entry's error.
    fn walk_error(&self, entry: &str, parts: &[&OsStr], e: WalkError) -> LayerError {
        let shown = |at: usize| display_parts(&parts[..at]);
        match e {
            WalkError::Symlink { at } => {
                self.unsafe_entry(entry, format!("goes through the symlink {:?}", shown(at)))
            }
            WalkError::NotDirectory { at } => self.unsafe_entry(
                entry,
                format!("has a parent {:?} that is not a directory", shown(at)),
            ),
            WalkError::Missing { at } => self.unsafe_entry(
                entry,
                format!("has a parent {:?} that is not in this layer", shown(at)),
            ),
            WalkError::Io { at, error } => self.io("opening", &parts[..at])(error),
        }
    }

    /// The directory `parents` (created as needed), as an fd of its own.
    fn parent_dir(&mut self, entry: &str, parents: &[&OsStr]) -> Result<OwnedFd, LayerError> {
        if let Some((cached, fd)) = &self.parent
            && cached
                .iter()
                .map(Vec::as_slice)
                .eq(parents.iter().map(|p| p.as_bytes()))
        {
            return fd.try_clone().map_err(self.io("opening", parents));
        }
        let fd = walk_dirs(self.root.as_fd(), parents, true)
            .map_err(|e| self.walk_error(entry, parents, e))?;
        let copy = fd.try_clone().map_err(self.io("opening", parents))?;
        self.parent = Some((owned_parts(parents), fd));
        Ok(copy)
    }

    fn apply<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<(), LayerError> {
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() {
            return Ok(());
        }
        if !self.budget.take(ENTRY_COST) {
            return Err(self.too_large());
        }
        let raw_path = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw_path).into_owned();
        let parts = split_entry_path(&raw_path)
            .ok_or_else(|| self.unsafe_entry(&shown, "escapes the layer root".to_string()))?;

        let Some((&name, parents)) = parts.split_last() else {
            // The layer root itself (`./`): only a directory makes sense.
            if !kind.is_dir() {
                return Err(self.bad_entry(&shown, "the layer root must be a directory"));
            }
            let meta = read_entry_meta(&mut entry).map_err(|e| self.bad_entry(&shown, e))?;
            let root = self
                .root
                .try_clone()
                .map_err(io_error("opening", self.dest))?;
            return self.finish_dir(root, Vec::new(), &meta, &[]);
        };
        let name_bytes = name.as_bytes();
        if name_bytes == OPAQUE_MARKER {
            let dir = self.parent_dir(&shown, parents)?;
            return crate::xattr::set_fd(dir.as_fd(), OPAQUE_XATTR, b"y")
                .map_err(self.io("marking opaque", parents));
        }
        if name_bytes.starts_with(b".wh..wh.") {
            // aufs bookkeeping (`.wh..wh.plnk`, …), meaningless here.
            return Ok(());
        }
        if let Some(hidden) = name_bytes.strip_prefix(WHITEOUT_PREFIX) {
            if hidden.is_empty() || hidden == b"." || hidden == b".." {
                return Err(self.unsafe_entry(&shown, "is not a valid whiteout".to_string()));
            }
            let hidden = OsStr::from_bytes(hidden);
            let dir = self.parent_dir(&shown, parents)?;
            remove_at(dir.as_fd(), hidden, false).map_err(self.io("replacing", &parts))?;
            return mknodat(
                dir.as_fd(),
                hidden,
                SFlag::S_IFCHR,
                Mode::empty(),
                makedev(0, 0),
            )
            .map_err(|e| self.io("creating whiteout", &parts)(e.into()));
        }

        let meta = read_entry_meta(&mut entry).map_err(|e| self.bad_entry(&shown, e))?;
        if kind.is_hard_link() {
            return self.hard_link(&mut entry, &shown, &parts);
        }
        let dir = self.parent_dir(&shown, parents)?;
        let dir = dir.as_fd();
        remove_at(dir, name, kind.is_dir()).map_err(self.io("replacing", &parts))?;

        match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                let file: File = openat(
                    dir,
                    name,
                    OFlag::O_WRONLY
                        | OFlag::O_CREAT
                        | OFlag::O_EXCL
                        | OFlag::O_NOFOLLOW
                        | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(0o600),
                )
                .map_err(|e| self.io("creating", &parts)(e.into()))?
                .into();
                let sparse = kind == tar::EntryType::GNUSparse;
                let copied = self.write_data(&mut entry, &file, &shown, &parts, sparse)?;
                // A stream cut short inside a file ends the entry early
                // without an error from the tar reader.
                if copied != entry.size() && !sparse {
                    return Err(self.bad_entry(&shown, "truncated file data"));
                }
                self.stats.size += copied;
                self.set_owner_fd(file.as_fd(), meta.owner, &parts)?;
                fchmod(file.as_fd(), Mode::from_bits_truncate(meta.mode))
                    .map_err(|e| self.io("setting the mode of", &parts)(e.into()))?;
                apply_xattrs(file.as_fd(), &meta.xattrs);
                futimens(file.as_fd(), &meta.mtime, &meta.mtime)
                    .map_err(|e| self.io("setting the mtime of", &parts)(e.into()))
            }
            tar::EntryType::Directory => {
                // `remove_at` left a real directory or nothing.
                match mkdirat(dir, name, Mode::from_bits_truncate(0o755)) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(self.io("creating", &parts)(e.into())),
                }
                let fd =
                    open_dir_at(dir, name).map_err(|e| self.io("opening", &parts)(e.into()))?;
                self.finish_dir(fd, owned_parts(&parts), &meta, &parts)
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| self.bad_entry(&shown, "symlink without a target"))?;
                symlinkat(OsStr::from_bytes(&target), dir, name)
                    .map_err(|e| self.io("creating symlink", &parts)(e.into()))?;
                // Symlinks and nodes take no xattrs here: they cannot be
                // opened safely, and overlay ignores them on them.
                self.finish_node(dir, name, &meta, &parts, false)
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                let flag = match kind {
                    tar::EntryType::Char => SFlag::S_IFCHR,
                    tar::EntryType::Block => SFlag::S_IFBLK,
                    _ => SFlag::S_IFIFO,
                };
                let major = header_device(entry.header().device_major());
                let minor = header_device(entry.header().device_minor());
                let dev = makedev(u64::from(major), u64::from(minor));
                match mknodat(dir, name, flag, Mode::from_bits_truncate(0o600), dev) {
                    Ok(()) => self.finish_node(dir, name, &meta, &parts, true),
                    Err(Errno::EPERM) if flag != SFlag::S_IFIFO => {
                        self.stats.skipped_devices += 1;
                        Ok(())
                    }
                    Err(e) => Err(self.io("creating", &parts)(e.into())),
                }
            }
            other => Err(self.bad_entry(&shown, format!("unsupported entry type {other:?}"))),
        }
    }

    /// A directory this unpack created or merged into: owner and xattrs now,
    /// mode and mtime at the end (`finish_dirs`).
    fn finish_dir(
        &mut self,
        fd: OwnedFd,
        parts: Vec<Vec<u8>>,
        meta: &EntryMeta,
        shown_parts: &[&OsStr],
    ) -> Result<(), LayerError> {
        self.set_owner_fd(fd.as_fd(), meta.owner, shown_parts)?;
        apply_xattrs(fd.as_fd(), &meta.xattrs);
        let stat = fstat(fd.as_fd()).map_err(|e| self.io("inspecting", shown_parts)(e.into()))?;
        self.dirs.push(DirMeta {
            parts,
            dev: stat.st_dev,
            ino: stat.st_ino,
            mode: meta.mode,
            mtime: meta.mtime,
        });
        Ok(())
    }

    /// A symlink or node just made as `name` in `dir`: owner, mode (not for
    /// symlinks, which have none), mtime, all by name without following.
    /// The name cannot have changed since: nothing else writes here.
    fn finish_node(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        meta: &EntryMeta,
        parts: &[&OsStr],
        with_mode: bool,
    ) -> Result<(), LayerError> {
        if let Some((uid, gid)) = meta.owner {
            match fchownat(
                dir,
                name,
                Some(uid),
                Some(gid),
                AtFlags::AT_SYMLINK_NOFOLLOW,
            ) {
                Ok(()) => {}
                Err(Errno::EINVAL | Errno::EPERM) => self.stats.failed_chowns += 1,
                Err(e) => return Err(self.io("changing the owner of", parts)(e.into())),
            }
        } else {
            self.stats.failed_chowns += 1;
        }
        if with_mode {
            // Chmod follows a symlink, but this name is the node mknodat
            // just created.
            fchmodat(
                dir,
                name,
                Mode::from_bits_truncate(meta.mode),
                FchmodatFlags::FollowSymlink,
            )
            .map_err(|e| self.io("setting the mode of", parts)(e.into()))?;
        }
        utimensat(
            dir,
            name,
            &meta.mtime,
            &meta.mtime,
            UtimensatFlags::NoFollowSymlink,
        )
        .map_err(|e| self.io("setting the mtime of", parts)(e.into()))
    }

    /// Owner first, before the mode: chown clears setuid/setgid and file
    /// capabilities. An id the namespace cannot map is counted, not fatal.
    fn set_owner_fd(
        &mut self,
        fd: BorrowedFd<'_>,
        owner: Option<(Uid, Gid)>,
        parts: &[&OsStr],
    ) -> Result<(), LayerError> {
        let Some((uid, gid)) = owner else {
            self.stats.failed_chowns += 1;
            return Ok(());
        };
        match fchown(fd, Some(uid), Some(gid)) {
            Ok(()) => Ok(()),
            Err(Errno::EINVAL | Errno::EPERM) => {
                self.stats.failed_chowns += 1;
                Ok(())
            }
            Err(e) => Err(self.io("changing the owner of", parts)(e.into())),
        }
    }

    /// Copies an entry's data into `file`, within the write budget. Sparse
    /// entries keep their holes: all-zero chunks are skipped, not written.
    fn write_data(
        &mut self,
        entry: &mut dyn Read,
        file: &File,
        shown: &str,
        parts: &[&OsStr],
        sparse: bool,
    ) -> Result<u64, LayerError> {
        let mut total = 0u64;
        loop {
            let n = match entry.read(&mut self.buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(LayerError::Invalid {
                        subject: format!("layer {}", self.label),
                        problem: format!("reading tar: entry {shown:?}: {e}"),
                    });
                }
            };
            if !self.budget.take(n as u64) {
                return Err(self.too_large());
            }
            let chunk = &self.buffer[..n];
            if !(sparse && chunk.iter().all(|&b| b == 0)) {
                file.write_all_at(chunk, total).map_err(io_error(
                    "writing",
                    &self.dest.join(parts.iter().collect::<PathBuf>()),
                ))?;
            }
            total += n as u64;
        }
        if sparse {
            file.set_len(total).map_err(self.io("writing", parts))?;
        }
        Ok(total)
    }

    /// Applies directory modes and mtimes, children before parents, the
    /// last entry for a directory winning. A directory a later entry
    /// replaced or removed keeps what it has: its path may now lead
    /// elsewhere, and the walk refuses symlinks on the way.
    fn finish_dirs(&mut self) -> Result<(), LayerError> {
        let mut seen = HashSet::new();
        for dir in self.dirs.iter().rev() {
            if !seen.insert((dir.dev, dir.ino)) {
                continue;
            }
            let parts: Vec<&OsStr> = dir.parts.iter().map(|p| OsStr::from_bytes(p)).collect();
            let Ok(fd) = walk_dirs(self.root.as_fd(), &parts, false) else {
                continue;
            };
            let stat = fstat(fd.as_fd()).map_err(|e| self.io("inspecting", &parts)(e.into()))?;
            if (stat.st_dev, stat.st_ino) != (dir.dev, dir.ino) {
                continue;
            }
            fchmod(fd.as_fd(), Mode::from_bits_truncate(dir.mode))
                .map_err(|e| self.io("setting the mode of", &parts)(e.into()))?;
            futimens(fd.as_fd(), &dir.mtime, &dir.mtime)
                .map_err(|e| self.io("setting the mtime of", &parts)(e.into()))?;
        }
        Ok(())
    }
}

#[path = "unpack_links.rs"]
mod links;

#[cfg(test)]
#[path = "unpack_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "unpack_bounds_tests.rs"]
mod bounds_tests;

#[cfg(test)]
fn get_xattr_for_tests(path: &Path, name: &str) -> Option<Vec<u8>> {
    tests::get_xattr(path, name)
}
