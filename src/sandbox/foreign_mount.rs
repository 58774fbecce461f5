//! Binding a directory of another mount namespace (another container's
//! /dev/shm for `--ipc container:X`, as docker shares it). The kernel
//! refuses a plain bind whose source lies in another mount namespace
//! (reaching it through /proc/PID/root does not help), so init enters
//! that namespace for a moment, takes a detached copy of the mount
//! (`open_tree(OPEN_TREE_CLONE)`), returns to its own namespace and
//! attaches the copy there (`move_mount`); this is how systemd places
//! mounts in running containers.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use nix::fcntl::{OFlag, open};
use nix::sched::{CloneFlags, setns};
use nix::sys::stat::Mode;

use super::SetupError;

const OPEN_TREE_CLONE: libc::c_uint = 1;
const AT_RECURSIVE: libc::c_uint = 0x8000;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;

fn sys(what: &str) -> impl FnOnce(nix::Error) -> SetupError {
    let what = what.to_string();
    move |source| SetupError::Sys { what, source }
}

fn open_ns(path: &Path) -> Result<OwnedFd, SetupError> {
    open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(sys(&format!("opening {}", path.display())))
}

fn c_path(path: &Path) -> Result<std::ffi::CString, SetupError> {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| SetupError::Message(format!("{} has a NUL byte", path.display())))
}

/// Binds `source` of the mount namespace at `namespace` onto `target`
/// (an existing directory in ours). Runs in init before pivot_root:
/// entering a mount namespace resets the root and working directory to
/// that namespace's root, which before pivot_root is where they were.
pub fn bind_from_namespace(
    namespace: &Path,
    source: &Path,
    target: &Path,
) -> Result<(), SetupError> {
    let own = open_ns(Path::new("/proc/self/ns/mnt"))?;
    let other = open_ns(namespace)?;
    let source_c = c_path(source)?;
    let target_c = c_path(target)?;
    setns(&other, CloneFlags::CLONE_NEWNS).map_err(sys("entering the other mount namespace"))?;
    // SAFETY: open_tree reads a NUL-terminated path we own; the returned
    // fd, when valid, is ours alone.
    let tree = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            source_c.as_ptr(),
            OPEN_TREE_CLONE | AT_RECURSIVE | libc::O_CLOEXEC as libc::c_uint,
        )
    };
    let cloned = if tree < 0 {
        Err(nix::Error::last())
    } else {
        // SAFETY: a fresh fd returned by open_tree above.
        Ok(unsafe { OwnedFd::from_raw_fd(tree as i32) })
    };
    // Back home before anything else, whether the copy worked or not.
    setns(&own, CloneFlags::CLONE_NEWNS).map_err(sys("returning to our mount namespace"))?;
    let tree = cloned.map_err(sys(&format!("copying the mount at {}", source.display())))?;
    // SAFETY: move_mount reads the fd and the NUL-terminated paths we
    // own; an empty source path with F_EMPTY_PATH means the fd itself.
    let moved = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            target_c.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    if moved < 0 {
        return Err(sys(&format!(
            "mounting {} of the other container on {}",
            source.display(),
            target.display()
        ))(nix::Error::last()));
    }
    Ok(())
}
