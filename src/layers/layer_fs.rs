//! File operations inside a directory being unpacked, relative to
//! directory fds and never following a symlink.
//!
//! A layer may replace any path it created earlier, a directory by a
//! symlink to a host directory included. So no operation here resolves a
//! path from the layer root as a string: every directory is reached by
//! opening one component at a time with `O_NOFOLLOW` (a symlink or a
//! non-directory on the way is refused, never entered), and every file is
//! then created and given its owner, mode, xattrs and times through its
//! own fd or, for nodes that cannot be opened safely (symlinks, devices,
//! fifos), by name in the parent fd right after this process created it.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat};
use nix::sys::stat::{FileStat, Mode, SFlag, fstatat, mkdirat};
use nix::unistd::{UnlinkatFlags, unlinkat};

/// Where and why a walk below the layer root stopped; `at` counts the
/// components up to and including the offending one.
#[derive(Debug)]
pub(super) enum WalkError {
    Symlink { at: usize },
    NotDirectory { at: usize },
    Missing { at: usize },
    Io { at: usize, error: io::Error },
}

/// Opens the directory `name` in `parent`: never a symlink, never a
/// non-directory, never a device or fifo (`O_DIRECTORY` fails first).
pub(super) fn open_dir_at(parent: BorrowedFd<'_>, name: &OsStr) -> nix::Result<OwnedFd> {
    openat(
        parent,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// Opens the file `name` in `parent` for reading: never through a
/// symlink, and without blocking should it be a fifo (the caller checks
/// what it opened is the regular file it listed).
pub(super) fn open_read_at(parent: BorrowedFd<'_>, name: &OsStr) -> nix::Result<OwnedFd> {
    openat(
        parent,
        name,
        OFlag::O_RDONLY
            | OFlag::O_NOFOLLOW
            | OFlag::O_NONBLOCK
            | OFlag::O_NOCTTY
            | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// What is at `name` in `parent`, without following a symlink.
pub(super) fn lstat_at(parent: BorrowedFd<'_>, name: &OsStr) -> nix::Result<FileStat> {
    fstatat(parent, name, AtFlags::AT_SYMLINK_NOFOLLOW)
}

pub(super) fn file_kind(stat: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(stat.st_mode & SFlag::S_IFMT.bits())
}

/// Opens the directory `parts` below `root`, one component at a time,
/// creating missing ones (mode 0755) when `create`.
pub(super) fn walk_dirs(
    root: BorrowedFd<'_>,
    parts: &[&OsStr],
    create: bool,
) -> Result<OwnedFd, WalkError> {
    let mut current = dup_fd(root).map_err(|error| WalkError::Io { at: 0, error })?;
    for (i, part) in parts.iter().enumerate() {
        let at = i + 1;
        let next = match open_dir_at(current.as_fd(), part) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) if create => {
                match mkdirat(current.as_fd(), *part, Mode::from_bits_truncate(0o755)) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => {
                        return Err(WalkError::Io {
                            at,
                            error: e.into(),
                        });
                    }
                }
                open_dir_at(current.as_fd(), part).map_err(|e| classify(&current, part, at, e))?
            }
            Err(e) => return Err(classify(&current, part, at, e)),
        };
        current = next;
    }
    Ok(current)
}

/// Why opening `part` as a directory failed.
fn classify(parent: &OwnedFd, part: &OsStr, at: usize, errno: Errno) -> WalkError {
    if errno == Errno::ENOENT {
        return WalkError::Missing { at };
    }
    match lstat_at(parent.as_fd(), part) {
        Ok(stat) if file_kind(&stat) == SFlag::S_IFLNK => WalkError::Symlink { at },
        Ok(stat) if file_kind(&stat) != SFlag::S_IFDIR => WalkError::NotDirectory { at },
        _ => WalkError::Io {
            at,
            error: errno.into(),
        },
    }
}

fn dup_fd(fd: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    fd.try_clone_to_owned()
}

/// Removes whatever is at `name` in `parent` (a directory with all it
/// holds), unless it is a directory and `keep_dir`. Nothing is followed:
/// a symlink is removed, not its target.
pub(super) fn remove_at(parent: BorrowedFd<'_>, name: &OsStr, keep_dir: bool) -> io::Result<()> {
    match lstat_at(parent, name) {
        Ok(stat) if file_kind(&stat) == SFlag::S_IFDIR => {
            if keep_dir {
                Ok(())
            } else {
                remove_tree_at(parent, name)
            }
        }
        Ok(_) => Ok(unlinkat(parent, name, UnlinkatFlags::NoRemoveDir)?),
        Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Empties and removes the directory `name` in `parent`. Depth costs one
/// fd per level; a tree deeper than the fd limit fails with EMFILE (an
/// error for the layer, never a partial escape).
fn remove_tree_at(parent: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    let dir_fd = open_dir_at(parent, name)?;
    let mut names = Vec::new();
    {
        let mut dir = nix::dir::Dir::from_fd(dir_fd.try_clone()?)?;
        for entry in dir.iter() {
            let entry = entry?;
            let child = entry.file_name().to_bytes();
            if child != b"." && child != b".." {
                names.push(child.to_vec());
            }
        }
    }
    for child in names {
        remove_at(dir_fd.as_fd(), OsStr::from_bytes(&child), false)?;
    }
    Ok(unlinkat(parent, name, UnlinkatFlags::RemoveDir)?)
}

/// Opens the unpack destination itself (which the caller created).
pub(super) fn open_root(path: &Path) -> io::Result<OwnedFd> {
    Ok(nix::fcntl::open(
        path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?)
}
