//! The build context as a directory fd: every path a build reads from
//! the context is resolved by `openat2(RESOLVE_IN_ROOT)` against it, so a
//! symlink in the context is followed as if the context were `/` (docker's
//! rule) and never reaches the host's files. The last component is not
//! followed: a symlink that is itself a source is copied as a symlink.
//! A file is read through a fresh in-root open checked against the
//! identity (device, inode) it had when planned, so a swap after planning
//! fails instead of copying something else.

use std::fs::{File, Metadata};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat2};

/// An open context directory, shared by the items planned from it.
#[derive(Debug, Clone)]
pub struct Root(Arc<OwnedFd>);

impl PartialEq for Root {
    fn eq(&self, other: &Root) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Root {}

impl Root {
    pub fn open(path: &Path) -> io::Result<Root> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )?;
        Ok(Root(Arc::new(fd)))
    }

    /// `rel` opened with `flags`, resolved inside the root.
    pub fn open_at(&self, rel: &str, flags: OFlag) -> io::Result<OwnedFd> {
        let rel = if rel.is_empty() { "." } else { rel };
        let how = OpenHow::new()
            .flags(flags | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        Ok(openat2(&*self.0, rel, how)?)
    }

    /// The entry `rel` names (its last component not followed), its
    /// metadata and, for a symlink, its target.
    pub fn lookup(&self, rel: &str) -> io::Result<(Metadata, Option<PathBuf>)> {
        let fd = self.open_at(rel, OFlag::O_PATH | OFlag::O_NOFOLLOW)?;
        let file = File::from(fd);
        let meta = file.metadata()?;
        let link = if meta.file_type().is_symlink() {
            // An O_PATH fd of a symlink names the link itself.
            Some(PathBuf::from(nix::fcntl::readlinkat(&file, "")?))
        } else {
            None
        };
        Ok((meta, link))
    }

    /// The names in directory `rel`, sorted.
    pub fn read_dir(&self, rel: &str) -> io::Result<Vec<String>> {
        let fd = self.open_at(
            rel,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW,
        )?;
        let dir = nix::dir::Dir::from_fd(fd)?;
        let mut names: Vec<String> = dir
            .into_iter()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "." && n != "..")
            .collect();
        names.sort();
        Ok(names)
    }

    /// The host path `rel` resolves to inside the root (every symlink
    /// followed, clamped to the root), for a bind mount: the container's
    /// init mounts in a mount namespace of its own, where a magic link to
    /// this process's fd cannot be a bind source (the kernel refuses a
    /// mount of another namespace), so it gets the resolved path, which
    /// has no symlink left to swap.
    /// Returns it with the same path relative to the root (slash-separated,
    /// `""` for the root itself): what `.dockerignore` rules see of it.
    pub fn resolve(&self, rel: &str) -> io::Result<(PathBuf, String)> {
        let fd = self.open_at(rel, OFlag::O_PATH)?;
        let path = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))?;
        let root = std::fs::read_link(format!("/proc/self/fd/{}", self.0.as_raw_fd()))?;
        let Ok(inside) = path.strip_prefix(&root) else {
            // Renamed away while the build runs.
            return Err(io::Error::other("the path left the build context"));
        };
        let inside = inside.to_string_lossy().into_owned();
        Ok((path, inside))
    }
}

/// A regular file an item copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileSource {
    /// A file skiff owns (a download, an image layer's file).
    Host(PathBuf),
    /// A context file, with the identity it had when planned.
    InRoot {
        root: Root,
        rel: String,
        dev: u64,
        ino: u64,
    },
}

impl FileSource {
    pub fn in_root(root: &Root, rel: &str, meta: &Metadata) -> FileSource {
        FileSource::InRoot {
            root: root.clone(),
            rel: rel.to_string(),
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }

    /// Opens the file for reading.
    pub fn open(&self) -> io::Result<File> {
        match self {
            FileSource::Host(path) => File::open(path),
            FileSource::InRoot {
                root,
                rel,
                dev,
                ino,
            } => {
                let file = File::from(root.open_at(
                    rel,
                    // A FIFO swapped in must not block the build.
                    OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK,
                )?);
                let meta = file.metadata()?;
                if meta.dev() != *dev || meta.ino() != *ino || !meta.is_file() {
                    return Err(io::Error::other(format!(
                        "{rel}: the file changed in the build context while the build read it"
                    )));
                }
                Ok(file)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn symlinks_stay_inside_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root_dir = tmp.path().join("ctx");
        fs::create_dir_all(root_dir.join("etc")).unwrap();
        fs::write(root_dir.join("etc/hostname"), "inside").unwrap();
        fs::write(tmp.path().join("outside"), "host").unwrap();
        std::os::unix::fs::symlink("/etc", root_dir.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../..", root_dir.join("up")).unwrap();
        let root = Root::open(&root_dir).unwrap();
        // An absolute link is taken relative to the root.
        let (meta, _) = root.lookup("abs/hostname").unwrap();
        let source = FileSource::in_root(&root, "abs/hostname", &meta);
        let mut text = String::new();
        io::Read::read_to_string(&mut source.open().unwrap(), &mut text).unwrap();
        assert_eq!(text, "inside");
        // `..` stops at the root.
        assert!(root.lookup("up/outside").is_err());
        assert_eq!(root.read_dir("up/etc").unwrap(), ["hostname"]);
        // The last component is the link itself.
        let (meta, link) = root.lookup("abs").unwrap();
        assert!(meta.file_type().is_symlink());
        assert_eq!(link, Some(PathBuf::from("/etc")));
        // A file swapped after planning is refused.
        // (The old file is kept, so its inode is not reused.)
        fs::rename(root_dir.join("etc/hostname"), tmp.path().join("old")).unwrap();
        fs::write(root_dir.join("etc/hostname"), "other").unwrap();
        assert!(source.open().is_err());
    }
}
