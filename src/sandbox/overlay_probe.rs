//! Which root filesystem driver a container of this caller would get,
//! found without starting one: `skiff info` reports it.
//!
//! The kernel overlay is tried for real, the way init mounts it
//! (`userxattr`, in a fresh mount namespace, rootless inside a user
//! namespace), on scratch directories in the store: whether it works
//! depends on the kernel, the caller and the store's filesystem, and
//! reading version numbers would guess at all three.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use nix::mount::{MsFlags, mount};
use nix::sched::CloneFlags;
use nix::sys::wait::{WaitStatus, waitpid};

use super::namespaces::clone_into_namespaces;
use super::rootfs::{RootfsDriver, RootfsLayers, fuse_overlay_usable, mount_kernel_overlay};

/// The driver `RootfsDriver::Auto` would settle on, or the forced one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChosenDriver {
    KernelOverlay,
    FuseOverlay,
    Copy,
}

impl ChosenDriver {
    /// podman's names for the graph driver (`copy` is skiff's own).
    pub fn name(self) -> &'static str {
        match self {
            ChosenDriver::KernelOverlay => "overlay",
            ChosenDriver::FuseOverlay => "fuse-overlayfs",
            ChosenDriver::Copy => "copy",
        }
    }
}

/// What `driver` comes to for this caller. `scratch` is a directory that
/// does not exist yet, on the filesystem container upper directories use;
/// it is removed again.
pub fn chosen_driver(driver: RootfsDriver, scratch: &Path, rootless: bool) -> ChosenDriver {
    match driver {
        RootfsDriver::Kernel => ChosenDriver::KernelOverlay,
        RootfsDriver::Fuse => ChosenDriver::FuseOverlay,
        RootfsDriver::Copy => ChosenDriver::Copy,
        RootfsDriver::Auto if kernel_overlay_mounts(scratch, rootless) => {
            ChosenDriver::KernelOverlay
        }
        RootfsDriver::Auto if fuse_overlay_usable() => ChosenDriver::FuseOverlay,
        RootfsDriver::Auto => ChosenDriver::Copy,
    }
}

/// Mounts a one-layer overlay under `scratch` in a short-lived child.
fn kernel_overlay_mounts(scratch: &Path, rootless: bool) -> bool {
    let layers = RootfsLayers {
        lower: vec![scratch.join("lower")],
        upper: scratch.join("upper"),
        work: scratch.join("work"),
        copy_dir: scratch.join("copy"),
        driver: RootfsDriver::Kernel,
    };
    let target = scratch.join("merged");
    let made = [&layers.lower[0], &layers.upper, &layers.work, &target]
        .iter()
        .all(|dir| fs::create_dir_all(dir).is_ok());
    let mounted = made && mount_in_child(&layers, &target, rootless);
    // The kernel makes `work/work` with mode 000: open it up so its owner
    // (the rootless caller) can remove it.
    let _ = fs::set_permissions(layers.work.join("work"), fs::Permissions::from_mode(0o700));
    let _ = fs::remove_dir_all(scratch);
    mounted
}

fn mount_in_child(layers: &RootfsLayers, target: &Path, rootless: bool) -> bool {
    let uid = nix::unistd::getuid().as_raw();
    let gid = nix::unistd::getgid().as_raw();
    let flags = if rootless {
        CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS
    } else {
        CloneFlags::CLONE_NEWNS
    };
    match clone_into_namespaces(flags) {
        Ok(Some(child)) => matches!(waitpid(child, None), Ok(WaitStatus::Exited(_, 0))),
        Ok(None) => {
            let mounted = (!rootless || map_self(uid, gid))
                // Nothing mounted here may reach the host's mounts.
                && mount(
                    None::<&str>,
                    "/",
                    None::<&str>,
                    MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                    None::<&str>,
                )
                .is_ok()
                && mount_kernel_overlay(layers, target).is_ok();
            // SAFETY: _exit ends this forked child without running the
            // parent's atexit handlers or flushing its copied buffers.
            unsafe { libc::_exit(if mounted { 0 } else { 1 }) }
        }
        Err(_) => false,
    }
}

/// Maps the caller's own IDs to root of the new user namespace (allowed
/// without privileges, as `unshare -r` does).
fn map_self(uid: u32, gid: u32) -> bool {
    fs::write("/proc/self/setgroups", "deny").is_ok()
        && fs::write("/proc/self/uid_map", format!("0 {uid} 1\n")).is_ok()
        && fs::write("/proc/self/gid_map", format!("0 {gid} 1\n")).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forced_drivers_need_no_probe() {
        let nowhere = Path::new("/nonexistent/probe");
        for (driver, chosen) in [
            (RootfsDriver::Kernel, "overlay"),
            (RootfsDriver::Fuse, "fuse-overlayfs"),
            (RootfsDriver::Copy, "copy"),
        ] {
            assert_eq!(chosen_driver(driver, nowhere, true).name(), chosen);
        }
    }
}
