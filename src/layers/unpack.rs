//! Applying one layer tar to an empty directory in the overlay format the
//! sandbox mounts (`userxattr` overlayfs): OCI whiteouts become 0/0
//! character devices, opaque markers become the `user.overlay.opaque`
//! xattr.
//!
//! Every entry is handled here, not by `tar::Entry::unpack*`: path safety
//! (no `..`, never write through a symlink, hardlinks only to earlier
//! entries of this layer) is checked against the directory being written,
//! which only this function writes to.

use std::collections::HashSet;
use std::ffi::{CString, OsStr};
use std::fs::{self, DirBuilder, Metadata, OpenOptions};
use std::io::{self, ErrorKind, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::stat::{Mode, SFlag, UtimensatFlags, makedev, mknod, utimensat};
use nix::sys::time::TimeSpec;

use super::digest::{Digest, HashingReader};
use super::{LayerError, io_error};

/// The xattr that marks a directory opaque in `userxattr` overlayfs.
pub const OPAQUE_XATTR: &str = "user.overlay.opaque";
const WHITEOUT_PREFIX: &[u8] = b".wh.";
const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";
/// Overlay's own xattrs are never taken from a layer: a layer could
/// otherwise mark directories opaque or set redirects behind our back.
const RESERVED_XATTR_PREFIXES: [&str; 2] = ["user.overlay.", "trusted.overlay."];

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

/// How a layer blob is compressed, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// Detects gzip and zstd by magic bytes; anything else is taken as a
    /// plain tar (which the tar reader validates).
    pub fn detect(magic: &[u8]) -> Compression {
        if magic.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    /// The OCI layer media type for a blob with this compression.
    pub fn layer_media_type(self) -> &'static str {
        match self {
            Compression::None => "application/vnd.oci.image.layer.v1.tar",
            Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        }
    }
}

/// Reads the first bytes of `input` and returns the compression and a reader
/// that still yields the whole stream.
fn sniff_compression<'a>(input: &'a mut dyn Read) -> io::Result<(Compression, impl Read + 'a)> {
    let mut magic = [0u8; 4];
    let mut n = 0;
    while n < magic.len() {
        match input.read(&mut magic[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let compression = Compression::detect(&magic[..n]);
    Ok((
        compression,
        io::Cursor::new(magic[..n].to_vec()).chain(input),
    ))
}

/// Unpacks the (plain, gzip or zstd) layer tar `input` into the existing,
/// empty directory `dest`, and checks its diff-id against `expected` when
/// given. `label` names the layer in errors (`layer <label>: …`). On error
/// `dest` holds a partial layer: the caller discards it.
pub fn unpack_layer(
    input: &mut dyn Read,
    dest: &Path,
    label: &str,
    expected: Option<&Digest>,
) -> Result<UnpackedLayer, LayerError> {
    let read_error = |e: io::Error| LayerError::Invalid {
        subject: format!("layer {label}"),
        problem: format!("reading tar: {e}"),
    };
    let (compression, raw) = sniff_compression(input).map_err(read_error)?;
    let decoded: Box<dyn Read + '_> = match compression {
        Compression::None => Box::new(raw),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(raw)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(raw).map_err(read_error)?),
    };
    let mut hashing = HashingReader::new(decoded);
    let mut unpacker = Unpacker {
        dest,
        label,
        stats: UnpackStats::default(),
        dirs: Vec::new(),
    };
    {
        let mut archive = tar::Archive::new(&mut hashing);
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
/// neither bumps the mtime nor trips over a read-only mode.
struct DirMeta {
    path: PathBuf,
    mode: u32,
    mtime: TimeSpec,
}

struct Unpacker<'a> {
    dest: &'a Path,
    label: &'a str,
    stats: UnpackStats,
    dirs: Vec<DirMeta>,
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

    /// Walks the parents of `parts` below `dest`, creating missing ones
    /// (0755) when `create`, refusing symlinks and non-directories.
    fn check_parents(&self, entry: &str, parts: &[&OsStr], create: bool) -> Result<(), LayerError> {
        let mut path = self.dest.to_path_buf();
        for (i, part) in parts.iter().enumerate() {
            path.push(part);
            let shown = || display_parts(&parts[..=i]);
            match fs::symlink_metadata(&path) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(
                        self.unsafe_entry(entry, format!("goes through the symlink {:?}", shown()))
                    );
                }
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(self.unsafe_entry(
                        entry,
                        format!("has a parent {:?} that is not a directory", shown()),
                    ));
                }
                Err(e) if e.kind() == ErrorKind::NotFound && create => {
                    DirBuilder::new()
                        .mode(0o755)
                        .create(&path)
                        .map_err(io_error("creating", &path))?;
                }
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    return Err(self.unsafe_entry(
                        entry,
                        format!("has a parent {:?} that is not in this layer", shown()),
                    ));
                }
                Err(e) => return Err(io_error("inspecting", &path)(e)),
            }
        }
        Ok(())
    }

    fn apply<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<(), LayerError> {
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() {
            return Ok(());
        }
        let raw_path = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw_path).into_owned();
        let parts = split_entry_path(&raw_path)
            .ok_or_else(|| self.unsafe_entry(&shown, "escapes the layer root".to_string()))?;

        if let Some((last, parents)) = parts.split_last() {
            let name = last.as_bytes();
            if name == OPAQUE_MARKER {
                self.check_parents(&shown, parents, true)?;
                let dir = self.dest.join(parents.iter().collect::<PathBuf>());
                return set_xattr(&dir, OPAQUE_XATTR, b"y")
                    .map_err(io_error("marking opaque", &dir));
            }
            if name.starts_with(b".wh..wh.") {
                // aufs bookkeeping (`.wh..wh.plnk`, …), meaningless here.
                return Ok(());
            }
            if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
                if hidden.is_empty() || hidden == b"." || hidden == b".." {
                    return Err(self.unsafe_entry(&shown, "is not a valid whiteout".to_string()));
                }
                self.check_parents(&shown, parents, true)?;
                let path = self
                    .dest
                    .join(parents.iter().collect::<PathBuf>())
                    .join(OsStr::from_bytes(hidden));
                remove_existing(&path, false)?;
                return mknod(&path, SFlag::S_IFCHR, Mode::empty(), makedev(0, 0))
                    .map_err(|e| io_error("creating whiteout", &path)(e.into()));
            }
        }

        let header = entry.header();
        let mode = header.mode().map_err(|e| self.bad_entry(&shown, e))? & 0o7777;
        let uid = header.uid().map_err(|e| self.bad_entry(&shown, e))?;
        let gid = header.gid().map_err(|e| self.bad_entry(&shown, e))?;
        let (xattrs, pax_mtime) = read_pax(&mut entry);
        let mtime = match pax_mtime {
            Some(t) => t,
            None => {
                let secs = entry
                    .header()
                    .mtime()
                    .map_err(|e| self.bad_entry(&shown, e))?;
                TimeSpec::new(i64::try_from(secs).unwrap_or(i64::MAX), 0)
            }
        };
        let path = self.dest.join(parts.iter().collect::<PathBuf>());

        if parts.is_empty() {
            // The layer root itself (`./`): only a directory makes sense.
            if !kind.is_dir() {
                return Err(self.bad_entry(&shown, "the layer root must be a directory"));
            }
            self.chown(&path, uid, gid)?;
            self.dirs.push(DirMeta { path, mode, mtime });
            return Ok(());
        }
        let parents = &parts[..parts.len() - 1];

        if kind.is_hard_link() {
            return self.hard_link(&mut entry, &shown, &parts, &path);
        }
        self.check_parents(&shown, parents, true)?;
        remove_existing(&path, kind.is_dir())?;

        match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                let mut file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&path)
                    .map_err(io_error("creating", &path))?;
                let copied = io::copy(&mut entry, &mut file).map_err(|e| LayerError::Invalid {
                    subject: format!("layer {}", self.label),
                    problem: format!("reading tar: entry {shown:?}: {e}"),
                })?;
                // A stream cut short inside a file ends the entry early
                // without an error from the tar reader.
                if copied != entry.size() && kind != tar::EntryType::GNUSparse {
                    return Err(self.bad_entry(&shown, "truncated file data"));
                }
                self.stats.size += copied;
            }
            tar::EntryType::Directory => {
                // `remove_existing` left a real directory or nothing.
                if fs::symlink_metadata(&path).is_err() {
                    DirBuilder::new()
                        .mode(0o755)
                        .create(&path)
                        .map_err(io_error("creating", &path))?;
                }
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| self.bad_entry(&shown, "symlink without a target"))?;
                std::os::unix::fs::symlink(OsStr::from_bytes(&target), &path)
                    .map_err(io_error("creating symlink", &path))?;
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
                match mknod(&path, flag, Mode::from_bits_truncate(0o600), dev) {
                    Ok(()) => {}
                    Err(Errno::EPERM) if flag != SFlag::S_IFIFO => {
                        self.stats.skipped_devices += 1;
                        return Ok(());
                    }
                    Err(e) => return Err(io_error("creating", &path)(e.into())),
                }
            }
            other => {
                return Err(self.bad_entry(&shown, format!("unsupported entry type {other:?}")));
            }
        }

        // Owner first: chown clears setuid/setgid and file capabilities.
        self.chown(&path, uid, gid)?;
        if kind.is_dir() {
            self.dirs.push(DirMeta { path, mode, mtime });
            apply_xattrs(&self.dest.join(parts.iter().collect::<PathBuf>()), &xattrs);
            return Ok(());
        }
        if !kind.is_symlink() {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode))
                .map_err(io_error("setting the mode of", &path))?;
        }
        apply_xattrs(&path, &xattrs);
        set_mtime(&path, mtime)
    }

    fn hard_link<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        shown: &str,
        parts: &[&OsStr],
        path: &Path,
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
        let Some((_, target_parents)) = target_parts.split_last() else {
            return Err(self.unsafe_entry(shown, "links to the layer root".to_string()));
        };
        if target_parts == parts {
            return Ok(());
        }
        self.check_parents(shown, target_parents, false)
            .map_err(|e| match e {
                LayerError::UnsafeEntry { problem, .. } => {
                    self.unsafe_entry(shown, format!("links to {target_shown:?}, which {problem}"))
                }
                other => other,
            })?;
        let target = self.dest.join(target_parts.iter().collect::<PathBuf>());
        match fs::symlink_metadata(&target) {
            Ok(m) if m.is_dir() => {
                return Err(
                    self.unsafe_entry(shown, format!("links to the directory {target_shown:?}"))
                );
            }
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(self.unsafe_entry(
                    shown,
                    format!("links to {target_shown:?}, which is not earlier in this layer"),
                ));
            }
            Err(e) => return Err(io_error("inspecting", &target)(e)),
        }
        self.check_parents(shown, &parts[..parts.len() - 1], true)?;
        remove_existing(path, false)?;
        // linkat without AT_SYMLINK_FOLLOW: a link to a symlink links the
        // symlink itself, never its target.
        fs::hard_link(&target, path).map_err(io_error("creating hardlink", path))
    }

    fn chown(&mut self, path: &Path, uid: u64, gid: u64) -> Result<(), LayerError> {
        let (Ok(uid), Ok(gid)) = (u32::try_from(uid), u32::try_from(gid)) else {
            self.stats.failed_chowns += 1;
            return Ok(());
        };
        match std::os::unix::fs::lchown(path, Some(uid), Some(gid)) {
            Ok(()) => Ok(()),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::EPERM)) => {
                self.stats.failed_chowns += 1;
                Ok(())
            }
            Err(e) => Err(io_error("changing the owner of", path)(e)),
        }
    }

    /// Applies directory modes and mtimes, children before parents, the
    /// last entry for a path winning.
    fn finish_dirs(&mut self) -> Result<(), LayerError> {
        let mut seen = HashSet::new();
        for dir in self.dirs.iter().rev() {
            if !seen.insert(dir.path.as_path()) {
                continue;
            }
            // A later entry may have replaced the directory (even by a
            // symlink): chmod must not follow it.
            match fs::symlink_metadata(&dir.path) {
                Ok(m) if m.is_dir() => {}
                _ => continue,
            }
            fs::set_permissions(&dir.path, fs::Permissions::from_mode(dir.mode))
                .map_err(io_error("setting the mode of", &dir.path))?;
            set_mtime(&dir.path, dir.mtime)?;
        }
        Ok(())
    }
}

fn display_parts(parts: &[&OsStr]) -> String {
    parts
        .iter()
        .collect::<PathBuf>()
        .to_string_lossy()
        .into_owned()
}

fn header_device(value: io::Result<Option<u32>>) -> u32 {
    value.ok().flatten().unwrap_or(0)
}

/// Removes what is at `path` unless it is a directory and `keep_dir`
/// (a directory entry over a directory merges).
fn remove_existing(path: &Path, keep_dir: bool) -> Result<(), LayerError> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => {
            if keep_dir {
                Ok(())
            } else {
                fs::remove_dir_all(path).map_err(io_error("replacing", path))
            }
        }
        Ok(_) => fs::remove_file(path).map_err(io_error("replacing", path)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error("inspecting", path)(e)),
    }
}

/// PAX `SCHILY.xattr.*` records and a PAX `mtime` (fractional seconds).
fn read_pax<R: Read>(entry: &mut tar::Entry<'_, R>) -> (Vec<(String, Vec<u8>)>, Option<TimeSpec>) {
    let mut xattrs = Vec::new();
    let mut mtime = None;
    let Ok(Some(extensions)) = entry.pax_extensions() else {
        return (xattrs, mtime);
    };
    for ext in extensions.flatten() {
        let Ok(key) = ext.key() else { continue };
        if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
            xattrs.push((name.to_string(), ext.value_bytes().to_vec()));
        } else if key == "mtime" {
            mtime = ext.value().ok().and_then(parse_pax_time);
        }
    }
    (xattrs, mtime)
}

/// `1700000000.25` → seconds and nanoseconds.
fn parse_pax_time(s: &str) -> Option<TimeSpec> {
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = secs.parse().ok()?;
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut nanos: i64 = 0;
    for i in 0..9 {
        nanos = nanos * 10 + frac.as_bytes().get(i).map_or(0, |b| i64::from(b - b'0'));
    }
    // A negative time with a fraction counts the fraction downwards.
    if secs < 0 && nanos > 0 {
        Some(TimeSpec::new(secs - 1, 1_000_000_000 - nanos))
    } else {
        Some(TimeSpec::new(secs, nanos))
    }
}

/// Best effort: file systems without xattr support, or a namespace
/// (`security.*`, `trusted.*`) we may not write, lose the attribute.
fn apply_xattrs(path: &Path, xattrs: &[(String, Vec<u8>)]) {
    for (name, value) in xattrs {
        if RESERVED_XATTR_PREFIXES.iter().any(|p| name.starts_with(p)) {
            continue;
        }
        let _ = set_xattr(path, name, value);
    }
}

/// `lsetxattr`: never follows a symlink at `path`.
fn set_xattr(path: &Path, name: &str, value: &[u8]) -> io::Result<()> {
    let c_path = CString::new(path.as_os_str().as_bytes())?;
    let c_name = CString::new(name)?;
    // SAFETY: both pointers are NUL-terminated C strings owned by this frame,
    // and `value` is a live slice whose length is passed alongside it; the
    // call does not retain any of them.
    let rc = unsafe {
        libc::lsetxattr(
            c_path.as_ptr(),
            c_name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn set_mtime(path: &Path, mtime: TimeSpec) -> Result<(), LayerError> {
    utimensat(
        nix::fcntl::AT_FDCWD,
        path,
        &mtime,
        &mtime,
        UtimensatFlags::NoFollowSymlink,
    )
    .map_err(|e| io_error("setting the mtime of", path)(e.into()))
}

#[cfg(test)]
#[path = "unpack_tests.rs"]
mod tests;
