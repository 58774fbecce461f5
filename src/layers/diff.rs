//! A container's overlay upper directory read back as a layer: the tar
//! `commit` stores (`write_layer_tar`) and the change list `diff` prints
//! (`list_changes`). Both come from one walk, so overlay's on-disk format
//! is translated in one place: a whiteout (0/0 character device `x`) is
//! the deletion `.wh.x`, a directory with `user.overlay.opaque=y` hides
//! everything below it (`.wh..wh..opq`), and skiff's own mount points
//! (empty files and directories it made to mount over) are not changes.
//!
//! The container may still be running and rearranging its files while
//! the walk reads them, so nothing here resolves a path as a string:
//! every directory is opened from its parent's fd with `O_NOFOLLOW`
//! (`layer_fs`), every file is opened the same way and must be the inode
//! that was listed. An entry replaced mid-walk (a directory swapped for a
//! symlink to a host directory, say) ends the walk with an error; no
//! symlink is ever followed.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::sys::stat::{FileStat, SFlag, fstat};

use super::layer_fs::{file_kind, lstat_at, open_dir_at, open_read_at, open_root};
use super::{LayerError, OPAQUE_XATTR, io_error};

const OPAQUE_MARKER: &str = ".wh..wh..opq";
const WHITEOUT_PREFIX: &str = ".wh.";

/// What kind of change `diff` reports for a path.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum ChangeKind {
    Added,
    Changed,
    Deleted,
}

impl std::fmt::Display for ChangeKind {
    /// docker's letters: `A`, `C`, `D`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ChangeKind::Added => "A",
            ChangeKind::Changed => "C",
            ChangeKind::Deleted => "D",
        })
    }
}

/// One line of `diff`: a path as the container sees it (`/etc/passwd`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Change {
    pub path: String,
    pub kind: ChangeKind,
}

/// What the walk found at one name of the upper directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EntryKind {
    /// Overlay's whiteout: the path was deleted.
    Whiteout,
    Directory {
        opaque: bool,
    },
    File,
    Symlink,
    /// Devices, fifos, sockets.
    Special,
}

/// One entry of the upper directory, reached without following symlinks.
struct UpperEntry<'a> {
    /// Relative to the upper directory: `etc/passwd`.
    path: &'a Path,
    name: &'a OsStr,
    parent: BorrowedFd<'a>,
    kind: EntryKind,
    stat: FileStat,
}

impl UpperEntry<'_> {
    /// The regular file, opened for reading; the very inode that was
    /// listed (the container may have replaced it since).
    fn open_file(&self) -> io::Result<File> {
        let fd = open_read_at(self.parent, self.name)?;
        let now = fstat(&fd)?;
        if !same_inode(&now, &self.stat) {
            return Err(changed_while_read());
        }
        Ok(File::from(fd))
    }

    /// A symlink's target, read from the link itself (never followed).
    fn link_target(&self) -> io::Result<PathBuf> {
        Ok(nix::fcntl::readlinkat(self.parent, self.name)?.into())
    }

    /// Whether this is a mount point skiff made (an empty file or a
    /// directory at one of `mount_points`), not the container's change.
    fn is_mount_point(&self, mount_points: &[PathBuf]) -> bool {
        let empty = self.stat.st_size == 0 || matches!(self.kind, EntryKind::Directory { .. });
        empty
            && mount_points
                .iter()
                .any(|m| m.strip_prefix("/").unwrap_or(m) == self.path)
    }
}

fn same_inode(a: &FileStat, b: &FileStat) -> bool {
    a.st_dev == b.st_dev && a.st_ino == b.st_ino && file_kind(a) == file_kind(b)
}

fn changed_while_read() -> io::Error {
    io::Error::other("it changed while skiff read it")
}

/// What the walk reports each entry to. `Below` is carried down into
/// each directory: whatever the visitor needs to know at that depth.
trait UpperVisitor {
    type Below;
    /// Called for every entry, a directory before what it holds. For a
    /// directory, returns what to carry into it, or `None` to skip it.
    fn visit(
        &mut self,
        entry: &UpperEntry<'_>,
        below: &Self::Below,
    ) -> io::Result<Option<Self::Below>>;
}

/// Walks the upper directory `upper`, names in byte order.
fn walk_upper<V: UpperVisitor>(
    upper: &Path,
    visitor: &mut V,
    top: V::Below,
) -> Result<(), LayerError> {
    let root = open_root(upper).map_err(io_error("opening", upper))?;
    walk_dir(root.as_fd(), upper, Path::new(""), visitor, &top)
}

/// One directory of the walk. Depth costs one fd per level (names are
/// read and the listing closed before descending).
fn walk_dir<V: UpperVisitor>(
    dir: BorrowedFd<'_>,
    upper: &Path,
    rel: &Path,
    visitor: &mut V,
    below: &V::Below,
) -> Result<(), LayerError> {
    let here = upper.join(rel);
    for name in sorted_names(dir).map_err(io_error("reading", &here))? {
        let path = rel.join(&name);
        let failed = |op| io_error(op, &upper.join(&path));
        let stat = lstat_at(dir, &name).map_err(|e| failed("reading")(e.into()))?;
        let (kind, opened_dir, stat) = match file_kind(&stat) {
            SFlag::S_IFCHR if stat.st_rdev == 0 => (EntryKind::Whiteout, None, stat),
            SFlag::S_IFDIR => {
                // O_NOFOLLOW|O_DIRECTORY: a directory swapped for a symlink
                // since the stat fails here instead of being entered.
                let fd = open_dir_at(dir, &name).map_err(|e| failed("opening")(e.into()))?;
                let now = fstat(&fd).map_err(|e| failed("reading")(e.into()))?;
                if !same_inode(&now, &stat) {
                    return Err(failed("reading")(changed_while_read()));
                }
                let opaque = crate::xattr::get_fd(fd.as_fd(), OPAQUE_XATTR)
                    .map_err(failed("reading attributes of"))?
                    .is_some_and(|v| v == b"y");
                (EntryKind::Directory { opaque }, Some(fd), now)
            }
            SFlag::S_IFREG => (EntryKind::File, None, stat),
            SFlag::S_IFLNK => (EntryKind::Symlink, None, stat),
            _ => (EntryKind::Special, None, stat),
        };
        let entry = UpperEntry {
            path: &path,
            name: &name,
            parent: dir,
            kind,
            stat,
        };
        let descend = visitor.visit(&entry, below).map_err(failed("reading"))?;
        if let (Some(fd), Some(inner)) = (opened_dir, descend) {
            walk_dir(fd.as_fd(), upper, &path, visitor, &inner)?;
        }
    }
    Ok(())
}

fn sorted_names(dir: BorrowedFd<'_>) -> io::Result<Vec<OsString>> {
    let mut listing = nix::dir::Dir::from_fd(dir.try_clone_to_owned()?)?;
    let mut names = Vec::new();
    for entry in listing.iter() {
        let name = entry?.file_name().to_bytes().to_vec();
        if name != b"." && name != b".." {
            names.push(OsString::from(OsStr::from_bytes(&name)));
        }
    }
    names.sort();
    Ok(names)
}

/// Writes the upper directory `upper` as a layer tar to `out`: owners,
/// modes and times as the walking process sees them, whiteouts as `.wh.`
/// entries, opaque directories followed by `.wh..wh..opq`. Whatever is
/// at `mount_points` (container paths, `/etc/hosts`) and empty is left
/// out, with what is below it, and so is a directory above a mount
/// point with nothing else written below it: overlay copied it up only
/// because skiff made the mount target (`etc/`, `run/secrets/`).
pub fn write_layer_tar(
    upper: &Path,
    mount_points: &[PathBuf],
    out: &mut dyn Write,
) -> Result<(), LayerError> {
    let mut writer = LayerTarWriter {
        builder: tar::Builder::new(out),
        mount_points,
        held: Vec::new(),
    };
    walk_upper(upper, &mut writer, ())?;
    writer
        .builder
        .finish()
        .map_err(io_error("writing the layer of", upper))
}

struct LayerTarWriter<'a> {
    builder: tar::Builder<&'a mut dyn Write>,
    mount_points: &'a [PathBuf],
    /// Directories above mount points not written yet (outermost
    /// first): written when something below them is, dropped otherwise.
    held: Vec<(PathBuf, tar::Header)>,
}

impl LayerTarWriter<'_> {
    /// Whether `path` is a directory above a mount point.
    fn holds_mount_point(&self, path: &Path) -> bool {
        self.mount_points.iter().any(|m| {
            let m = m.strip_prefix("/").unwrap_or(m);
            m != path && m.starts_with(path)
        })
    }

    /// Before `path` is visited: held directories that are not its
    /// ancestors had nothing written below them and are dropped.
    fn drop_held_outside(&mut self, path: &Path) {
        while self
            .held
            .last()
            .is_some_and(|(dir, _)| !path.starts_with(dir))
        {
            self.held.pop();
        }
    }

    /// Before something is written: the held directories above it.
    fn write_held(&mut self) -> io::Result<()> {
        for (dir, mut header) in std::mem::take(&mut self.held) {
            self.builder.append_data(&mut header, dir, io::empty())?;
        }
        Ok(())
    }

    fn append_marker(&mut self, path: &Path) -> io::Result<()> {
        self.write_held()?;
        let mut header = tar::Header::new_gnu();
        header.set_size(0);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        self.builder.append_data(&mut header, path, io::empty())
    }
}

impl UpperVisitor for LayerTarWriter<'_> {
    type Below = ();

    fn visit(&mut self, entry: &UpperEntry<'_>, _below: &()) -> io::Result<Option<()>> {
        self.drop_held_outside(entry.path);
        if entry.is_mount_point(self.mount_points) {
            return Ok(None);
        }
        if entry.kind == EntryKind::Whiteout {
            let mut name = OsString::from(WHITEOUT_PREFIX);
            name.push(entry.name);
            self.append_marker(&entry.path.with_file_name(name))?;
            return Ok(None);
        }
        let mut header = tar_header(&entry.stat)?;
        if entry.kind == (EntryKind::Directory { opaque: false })
            && self.holds_mount_point(entry.path)
        {
            self.held.push((entry.path.to_path_buf(), header));
            return Ok(Some(()));
        }
        self.write_held()?;
        match entry.kind {
            EntryKind::File => {
                // Exactly the size the header promised, even if the file
                // grows or shrinks meanwhile: a short read is padded with
                // zeros, so the tar stays well formed.
                let size = header.size()?;
                let data = entry
                    .open_file()?
                    .take(size)
                    .chain(io::repeat(0))
                    .take(size);
                self.builder.append_data(&mut header, entry.path, data)?;
            }
            EntryKind::Symlink => {
                let target = entry.link_target()?;
                self.builder.append_link(&mut header, entry.path, target)?;
            }
            _ => self
                .builder
                .append_data(&mut header, entry.path, io::empty())?,
        }
        match entry.kind {
            EntryKind::Directory { opaque } => {
                if opaque {
                    self.append_marker(&entry.path.join(OPAQUE_MARKER))?;
                }
                Ok(Some(()))
            }
            _ => Ok(None),
        }
    }
}

/// The tar header of one entry, as the `tar` crate fills one from a
/// file's metadata (`HeaderMode::Complete`), from a stat taken without
/// following symlinks. Sockets have no tar form.
fn tar_header(stat: &FileStat) -> io::Result<tar::Header> {
    use tar::EntryType;
    let kind = file_kind(stat);
    let entry_type = match kind {
        SFlag::S_IFREG => EntryType::Regular,
        SFlag::S_IFDIR => EntryType::Directory,
        SFlag::S_IFLNK => EntryType::Symlink,
        SFlag::S_IFCHR => EntryType::Char,
        SFlag::S_IFBLK => EntryType::Block,
        SFlag::S_IFIFO => EntryType::Fifo,
        _ => {
            return Err(io::Error::other("a socket cannot be archived"));
        }
    };
    let mut header = tar::Header::new_gnu();
    header.set_mtime(stat.st_mtime as u64);
    header.set_uid(u64::from(stat.st_uid));
    header.set_gid(u64::from(stat.st_gid));
    header.set_mode(stat.st_mode);
    header.set_entry_type(entry_type);
    let size = match kind {
        SFlag::S_IFDIR | SFlag::S_IFLNK => 0,
        _ => stat.st_size as u64,
    };
    header.set_size(size);
    let (major, minor) = match kind {
        SFlag::S_IFCHR | SFlag::S_IFBLK => (
            nix::sys::stat::major(stat.st_rdev),
            nix::sys::stat::minor(stat.st_rdev),
        ),
        _ => (0, 0),
    };
    header.set_device_major(major as u32)?;
    header.set_device_minor(minor as u32)?;
    Ok(header)
}

/// `diff`: what the upper directory `upper` changed against the image's
/// layer directories `lower` (bottom first), sorted by path. A whiteout
/// is `Deleted`, a path some lower layer has `Changed`, the rest `Added`;
/// an added empty file or directory at one of `mount_points` is skiff's
/// mount point and not listed (what is below it is).
pub fn list_changes(
    upper: &Path,
    lower: &[PathBuf],
    mount_points: &[PathBuf],
) -> Result<Vec<Change>, LayerError> {
    // A layer directory that cannot be opened has nothing to compare
    // with, as before the walk went through fds.
    let roots: Vec<OwnedFd> = lower.iter().filter_map(|l| open_root(l).ok()).collect();
    let mut collector = ChangeCollector {
        changes: Vec::new(),
        mount_points,
    };
    walk_upper(upper, &mut collector, roots)?;
    let mut changes = collector.changes;
    changes.sort();
    Ok(changes)
}

struct ChangeCollector<'a> {
    changes: Vec<Change>,
    mount_points: &'a [PathBuf],
}

impl UpperVisitor for ChangeCollector<'_> {
    /// The lower layers' directories at the walk's depth: what an upper
    /// entry there may replace. Each is reached from its layer's root
    /// with `O_NOFOLLOW`, so a layer's symlink never leads the lookup
    /// out of it; a directory no lower layer has carries none.
    type Below = Vec<OwnedFd>;

    fn visit(
        &mut self,
        entry: &UpperEntry<'_>,
        lower: &Vec<OwnedFd>,
    ) -> io::Result<Option<Vec<OwnedFd>>> {
        let path = format!("/{}", entry.path.display());
        if entry.kind == EntryKind::Whiteout {
            self.changes.push(Change {
                path,
                kind: ChangeKind::Deleted,
            });
            return Ok(None);
        }
        let existed = lower
            .iter()
            .any(|dir| lstat_at(dir.as_fd(), entry.name).is_ok());
        if existed || !entry.is_mount_point(self.mount_points) {
            let kind = if existed {
                ChangeKind::Changed
            } else {
                ChangeKind::Added
            };
            self.changes.push(Change { path, kind });
        }
        match entry.kind {
            // Overlay shows nothing of the lower layers below an opaque
            // directory: all of it is the container's.
            EntryKind::Directory { opaque: true } => Ok(Some(Vec::new())),
            EntryKind::Directory { opaque: false } => Ok(Some(
                lower
                    .iter()
                    .filter_map(|dir| open_dir_at(dir.as_fd(), entry.name).ok())
                    .collect(),
            )),
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
#[path = "diff_tests.rs"]
mod tests;
