//! Running a piece of work with a container's root filesystem as `/`:
//! inside the mount namespace of a running container, or on a freshly
//! mounted overlay of a stopped one. Used by `cp`, `diff` and `export`:
//! inside, `/` is the container's root, so no path, `..` or absolute
//! symlink can lead out of it.

use std::os::fd::{AsFd, OwnedFd};

use nix::sched::{CloneFlags, setns};
use oci_spec::runtime::Mount;

use super::rootfs::{RootfsLayers, mount_layers, mount_one};
use super::userns::{ChildFailure, IdMappings, UsernsError, run_in_child, write_id_maps};

/// Whether process `pid` is in our namespace of kind `name` (`user`, `mnt`, …).
pub(super) fn same_namespace(pid: i32, name: &str) -> bool {
    use std::os::unix::fs::MetadataExt;
    let ours = std::fs::metadata(format!("/proc/self/ns/{name}"));
    let theirs = std::fs::metadata(format!("/proc/{pid}/ns/{name}"));
    matches!((ours, theirs), (Ok(a), Ok(b)) if a.ino() == b.ino() && a.dev() == b.dev())
}

fn open_ns(pid: i32, name: &str) -> Result<OwnedFd, UsernsError> {
    std::fs::File::open(format!("/proc/{pid}/ns/{name}"))
        .map(OwnedFd::from)
        .map_err(|e| UsernsError::Child(format!("opening the container's {name} namespace: {e}")))
}

/// Runs `work` in the mount namespace of the running process `pid`
/// (joining its user namespace first when it has its own).
pub fn run_in_running_root<T, E>(
    pid: i32,
    work: impl FnOnce() -> Result<T, E>,
) -> Result<T, UsernsError>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
    E: Into<ChildFailure>,
{
    let user = (!same_namespace(pid, "user"))
        .then(|| open_ns(pid, "user"))
        .transpose()?;
    let mount = open_ns(pid, "mnt")?;
    run_in_child(
        CloneFlags::empty(),
        |_| {
            if let Some(user) = &user {
                setns(user, CloneFlags::CLONE_NEWUSER)
                    .map_err(|e| format!("joining the container's user namespace: {e}"))?;
            }
            setns(&mount, CloneFlags::CLONE_NEWNS)
                .map_err(|e| format!("joining the container's mount namespace: {e}"))?;
            std::env::set_current_dir("/").map_err(|e| format!("entering the root: {e}"))
        },
        |_, _| Ok(()),
        work,
    )
}

/// Runs `work` with `/` on a private overlay of `layers` mounted at
/// `mountpoint`, with `mounts` (the container's volumes and binds) on it,
/// in a new mount namespace (and, with `maps`, a new user namespace so
/// rootless files keep their owners).
pub fn run_in_stopped_root<T, E>(
    layers: &RootfsLayers,
    mountpoint: &std::path::Path,
    mounts: &[Mount],
    maps: Option<&IdMappings>,
    work: impl FnOnce() -> Result<T, E>,
) -> Result<T, UsernsError>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
    E: Into<ChildFailure>,
{
    let mut flags = CloneFlags::CLONE_NEWNS;
    if maps.is_some() {
        flags |= CloneFlags::CLONE_NEWUSER;
    }
    run_in_child(
        flags,
        |go| {
            if maps.is_some() {
                let mut byte = [0u8; 1];
                if nix::unistd::read(go.as_fd(), &mut byte).unwrap_or(0) == 0 {
                    return Err("the parent did not map the user namespace".into());
                }
            }
            nix::mount::mount(
                None::<&str>,
                "/",
                None::<&str>,
                nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
                None::<&str>,
            )
            .map_err(|e| format!("making mounts private: {e}"))?;
            // A fallback is how `cp` works here, not news for its user.
            mount_layers(layers, mountpoint, &mut |_| {}).map_err(|e| e.to_string())?;
            // Resolved inside the root as init resolves them, so a symlink
            // in the image cannot point a volume's mount outside it.
            for mount in mounts {
                mount_one(mountpoint, mount).map_err(|e| e.to_string())?;
            }
            nix::unistd::chroot(mountpoint).map_err(|e| format!("entering the root: {e}"))?;
            std::env::set_current_dir("/").map_err(|e| format!("entering the root: {e}"))
        },
        |child, go| {
            if let Some(maps) = maps {
                write_id_maps(child.as_raw(), &maps.uids, &maps.gids)?;
                std::io::Write::write_all(go, b"G")
                    .map_err(|e| UsernsError::Child(format!("signalling helper: {e}")))?;
            }
            Ok(())
        },
        work,
    )
}
