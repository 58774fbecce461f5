//! The container's filesystem view, built inside its mount namespace:
//! the layered root (kernel overlayfs, fuse-overlayfs, or a copy), the
//! spec's mounts, device nodes, `pivot_root`, masked and read-only paths.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sys::statvfs::{FsFlags, statvfs};
use oci_spec::runtime::{LinuxDevice, Mount};

use super::SetupError;
use super::copy_rootfs::copy_layers;
use super::paths::resolve_in_root;
use super::volume_setup::{BindExtras, chown_tree, copy_up};

/// How the layered root filesystem is assembled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootfsDriver {
    /// Kernel overlayfs (with `userxattr`), falling back to the next ones.
    Auto,
    Kernel,
    Fuse,
    Copy,
}

impl RootfsDriver {
    /// `SKIFF_OVERLAY=kernel|fuse|copy` forces one driver (for tests and
    /// for hosts where probing is known to fail); anything else is `Auto`.
    pub fn from_env() -> RootfsDriver {
        match std::env::var("SKIFF_OVERLAY").as_deref() {
            Ok("kernel") => RootfsDriver::Kernel,
            Ok("fuse") => RootfsDriver::Fuse,
            Ok("copy") => RootfsDriver::Copy,
            _ => RootfsDriver::Auto,
        }
    }
}

/// The directories a container's root is assembled from.
#[derive(Debug, Clone)]
pub struct RootfsLayers {
    /// Unpacked layers, bottom layer first.
    pub lower: Vec<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
    /// Where the copying fallback materialises the root.
    pub copy_dir: PathBuf,
    pub driver: RootfsDriver,
}

fn sys(what: impl Into<String>) -> impl FnOnce(nix::Error) -> SetupError {
    let what = what.into();
    move |source| SetupError::Sys { what, source }
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> SetupError {
    let what = what.into();
    move |source| SetupError::Io { what, source }
}

/// Overlay's lowerdir lists the top layer first. When all layers share a
/// parent directory the caller chdirs there and we use bare names, so long
/// layer stacks still fit the one-page limit of mount options.
fn overlay_options(layers: &RootfsLayers, relative: bool) -> String {
    let lower: Vec<String> = layers
        .lower
        .iter()
        .rev()
        .map(|p| match (relative, p.file_name()) {
            (true, Some(name)) => name.to_string_lossy().into_owned(),
            _ => p.display().to_string(),
        })
        .collect();
    format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.join(":"),
        layers.upper.display(),
        layers.work.display()
    )
}

pub(super) fn mount_kernel_overlay(layers: &RootfsLayers, target: &Path) -> Result<(), SetupError> {
    let parent = layers.lower.first().and_then(|p| p.parent());
    let shared_parent =
        parent.filter(|parent| layers.lower.iter().all(|p| p.parent() == Some(parent)));
    if let Some(dir) = shared_parent {
        std::env::set_current_dir(dir).map_err(io(format!("entering {}", dir.display())))?;
    }
    let data = format!(
        "{},userxattr",
        overlay_options(layers, shared_parent.is_some())
    );
    mount(
        Some("overlay"),
        target,
        Some("overlay"),
        MsFlags::empty(),
        Some(data.as_str()),
    )
    .map_err(sys("mounting kernel overlayfs"))
}

fn mount_fuse_overlay(layers: &RootfsLayers, target: &Path) -> Result<(), SetupError> {
    // Its notices ("unknown argument ignored: …") must not land on the
    // container's stderr; they are shown only when the mount fails. The
    // daemon points its own stdio at /dev/null, so reading ends.
    let out = Command::new("fuse-overlayfs")
        .arg("-o")
        .arg(overlay_options(layers, false))
        .arg(target)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output()
        .map_err(io("running fuse-overlayfs"))?;
    if out.status.success() {
        Ok(())
    } else {
        let detail = String::from_utf8_lossy(&out.stderr)
            .trim()
            .replace('\n', "; ");
        Err(SetupError::Message(format!(
            "fuse-overlayfs failed ({}): {detail}",
            out.status
        )))
    }
}

/// pivot_root moves every process of the mount namespace whose root is
/// the old root, the fuse-overlayfs daemon included: it would then resolve
/// its own upper directory through its own mount and deadlock. So init
/// continues in a copy of the namespace and leaves the daemon where it is.
fn leave_fuse_daemon_behind() -> Result<(), SetupError> {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
        .map_err(sys("leaving the fuse-overlayfs mount namespace"))?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(sys("making mounts private"))
}

fn mount_copy(layers: &RootfsLayers, target: &Path) -> Result<(), SetupError> {
    copy_layers(&layers.lower, &layers.copy_dir)?;
    mount(
        Some(&layers.copy_dir),
        target,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(sys("binding the copied root"))
}

/// Mounts the layered root at `target`, trying the drivers in order; a
/// fallback is reported through `warn` (init sends it to skiff, which
/// tells the user).
pub fn mount_layers(
    layers: &RootfsLayers,
    target: &Path,
    warn: &mut dyn FnMut(String),
) -> Result<(), SetupError> {
    match layers.driver {
        RootfsDriver::Kernel => mount_kernel_overlay(layers, target),
        RootfsDriver::Fuse => {
            mount_fuse_overlay(layers, target).and_then(|()| leave_fuse_daemon_behind())
        }
        RootfsDriver::Copy => mount_copy(layers, target),
        RootfsDriver::Auto => {
            let kernel_err = match mount_kernel_overlay(layers, target) {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            if fuse_overlay_usable() {
                warn(format!("{kernel_err}: falling back to fuse-overlayfs"));
                if mount_fuse_overlay(layers, target).is_ok() {
                    return leave_fuse_daemon_behind();
                }
            }
            warn(format!(
                "{kernel_err}: falling back to copying the image layers (slow, uses disk)"
            ));
            mount_copy(layers, target)
        }
    }
}

/// Whether the fuse-overlayfs fallback can run: the program is installed
/// and this process may open `/dev/fuse`.
pub fn fuse_overlay_usable() -> bool {
    Path::new("/usr/bin/fuse-overlayfs").exists()
        && nix::unistd::access(
            "/dev/fuse",
            nix::unistd::AccessFlags::R_OK | nix::unistd::AccessFlags::W_OK,
        )
        .is_ok()
}

/// Translates fstab-style options into mount flags plus filesystem data.
pub fn parse_mount_options(options: &[String]) -> (MsFlags, String) {
    let mut flags = MsFlags::empty();
    let mut data = Vec::new();
    for opt in options {
        match opt.as_str() {
            "ro" => flags |= MsFlags::MS_RDONLY,
            "rw" => {}
            "nosuid" => flags |= MsFlags::MS_NOSUID,
            "nodev" => flags |= MsFlags::MS_NODEV,
            "noexec" => flags |= MsFlags::MS_NOEXEC,
            "strictatime" => flags |= MsFlags::MS_STRICTATIME,
            "relatime" => flags |= MsFlags::MS_RELATIME,
            "noatime" => flags |= MsFlags::MS_NOATIME,
            "bind" => flags |= MsFlags::MS_BIND,
            "rbind" => flags |= MsFlags::MS_BIND | MsFlags::MS_REC,
            other => data.push(other),
        }
    }
    (flags, data.join(","))
}

/// Flags the kernel locks on a mount we did not create (user namespaces):
/// a read-only remount must repeat them or it is refused.
fn locked_flags(path: &Path) -> MsFlags {
    let Ok(st) = statvfs(path) else {
        return MsFlags::empty();
    };
    let f = st.flags();
    let mut out = MsFlags::empty();
    for (fs_flag, ms_flag) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(fs_flag) {
            out |= ms_flag;
        }
    }
    out
}

/// Makes an existing mount at `path` read-only.
pub fn remount_read_only(path: &Path, extra: MsFlags) -> Result<(), SetupError> {
    let flags =
        MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY | extra | locked_flags(path);
    mount(None::<&str>, path, None::<&str>, flags, None::<&str>)
        .map_err(sys(format!("remounting {} read-only", path.display())))
}

/// Creates the mount point: a file when binding a file, else a directory.
fn create_mount_point(target: &Path, source_is_file: bool) -> Result<(), SetupError> {
    if target.exists() {
        return Ok(());
    }
    if source_is_file {
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(io(format!("creating {}", parent.display())))?;
        }
        fs::File::create(target).map(drop)
    } else {
        fs::create_dir_all(target)
    }
    .map_err(io(format!("creating mount point {}", target.display())))
}

/// Performs one spec mount below `rootfs`.
pub fn mount_one(rootfs: &Path, m: &Mount) -> Result<(), SetupError> {
    let target =
        resolve_in_root(rootfs, m.destination()).map_err(|e| SetupError::Message(e.to_string()))?;
    let typ = m.typ().as_deref().unwrap_or("bind");
    let mut options = m.options().clone().unwrap_or_default();
    let foreign_ns = options.iter().find_map(|o| {
        o.strip_prefix(super::joined_namespaces::MOUNT_NS_OPTION)
            .and_then(|rest| rest.strip_prefix('='))
    });
    if let (Some(namespace), Some(source)) = (foreign_ns, m.source()) {
        create_mount_point(&target, false)?;
        return super::foreign_mount::bind_from_namespace(Path::new(namespace), source, &target);
    }
    let extras = BindExtras::take(&mut options)?;
    let (mut flags, data) = parse_mount_options(&options);
    let source = m.source().clone().unwrap_or_else(|| PathBuf::from(typ));
    let is_bind = typ == "bind" || flags.contains(MsFlags::MS_BIND);
    let what = format!(
        "mounting {} on {}",
        source.display(),
        m.destination().display()
    );
    if is_bind {
        // Anything but a directory (a file, a device node) is bound onto a
        // file.
        let source_is_file = !fs::metadata(&source).map_err(io(what.clone()))?.is_dir();
        // Before the mount hides what the image has there.
        if extras.copy_up && !source_is_file {
            copy_up(&target, &source)?;
        }
        create_mount_point(&target, source_is_file)?;
        let read_only = flags.contains(MsFlags::MS_RDONLY);
        flags |= MsFlags::MS_BIND;
        flags.remove(MsFlags::MS_RDONLY);
        mount(Some(&source), &target, None::<&str>, flags, None::<&str>).map_err(sys(what))?;
        if let Some((uid, gid)) = extras.chown {
            chown_tree(&target, uid, gid)?;
        }
        let rest = flags & (MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC);
        if read_only {
            remount_read_only(&target, rest)?;
        }
        return Ok(());
    }
    create_mount_point(&target, false)?;
    if typ == "overlay" {
        // A `:O` overlay's upper and work directories are made fresh for
        // each run, under its scratch dir.
        for dir in split_mount_options(&data).iter().filter_map(|o| {
            o.strip_prefix("upperdir=")
                .or_else(|| o.strip_prefix("workdir="))
        }) {
            fs::create_dir_all(dir).map_err(io(format!("creating {dir}")))?;
        }
    }
    let data = (!data.is_empty()).then_some(data);
    mount(Some(&source), &target, Some(typ), flags, data.as_deref()).map_err(sys(what))
}

/// Overlay mount options split as the kernel splits them: a comma after a
/// backslash belongs to the value (`spec_mounts` escapes the paths), so
/// a directory named `x,upperdir=/etc/y` is not read as an option.
fn split_mount_options(data: &str) -> Vec<String> {
    let mut options = vec![String::new()];
    let mut chars = data.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    options.last_mut().expect("one").push(next);
                }
            }
            ',' => options.push(String::new()),
            other => options.last_mut().expect("one").push(other),
        }
    }
    options
}

/// Device nodes are bind-mounted from the host: creating them with mknod is
/// not allowed in a user namespace, and one way for both modes is simpler.
pub fn bind_devices(rootfs: &Path, devices: &[LinuxDevice]) -> Result<(), SetupError> {
    for dev in devices {
        let target = rootfs.join(dev.path().strip_prefix("/").unwrap_or(dev.path()));
        if !host_has_node(dev) {
            // A root container's `--device HOST:OTHER`: no host node at
            // the container's path to bind, so make one, as runc does.
            make_node(&target, dev)?;
            continue;
        }
        create_mount_point(&target, true)?;
        mount(
            Some(dev.path()),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(sys(format!("binding device {}", dev.path().display())))?;
    }
    for (link, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
        ("core", "/proc/kcore"),
    ] {
        let path = rootfs.join("dev").join(link);
        let _ = fs::remove_file(&path);
        symlink(target, &path).map_err(io(format!("creating /dev/{link}")))?;
    }
    Ok(())
}

/// Whether the host has this very device node at the spec's path.
fn host_has_node(dev: &LinuxDevice) -> bool {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let Ok(meta) = fs::metadata(dev.path()) else {
        return false;
    };
    let kind_matches = match dev.typ() {
        oci_spec::runtime::LinuxDeviceType::B => meta.file_type().is_block_device(),
        _ => meta.file_type().is_char_device(),
    };
    let rdev = meta.rdev();
    kind_matches
        && dev.major() == libc::major(rdev) as i64
        && dev.minor() == libc::minor(rdev) as i64
}

fn make_node(target: &Path, dev: &LinuxDevice) -> Result<(), SetupError> {
    use nix::sys::stat::{Mode, SFlag, makedev, mknod};
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent).map_err(io(format!("creating {}", parent.display())))?;
    }
    let kind = match dev.typ() {
        oci_spec::runtime::LinuxDeviceType::B => SFlag::S_IFBLK,
        _ => SFlag::S_IFCHR,
    };
    let mode = Mode::from_bits_truncate(dev.file_mode().unwrap_or(0o666));
    let _ = fs::remove_file(target);
    mknod(
        target,
        kind,
        mode,
        makedev(dev.major() as u64, dev.minor() as u64),
    )
    .map_err(sys(format!("creating device {}", dev.path().display())))?;
    // mknod's mode is cut by the umask.
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(target, fs::Permissions::from_mode(mode.bits()))
        .map_err(io(format!("setting the mode of {}", dev.path().display())))
}

/// Makes `rootfs` the root of the mount namespace and drops the old root.
pub fn pivot_into(rootfs: &Path) -> Result<(), SetupError> {
    nix::unistd::chdir(rootfs).map_err(sys("entering the root filesystem"))?;
    // pivot_root(".", ".") stacks the old root on top of the new one; the
    // detach below then removes it without needing a directory for it.
    nix::unistd::pivot_root(".", ".").map_err(sys("pivot_root"))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(sys("detaching the old root"))?;
    nix::unistd::chdir("/").map_err(sys("entering /"))
}

/// Hides paths (after pivot_root): files behind /dev/null, directories
/// behind an empty read-only tmpfs. Missing paths are fine.
pub fn mask_paths(paths: &[String]) -> Result<(), SetupError> {
    for path in paths {
        let Ok(meta) = fs::metadata(path) else {
            continue;
        };
        let result = if meta.is_dir() {
            mount(
                Some("tmpfs"),
                path.as_str(),
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                None::<&str>,
            )
        } else {
            mount(
                Some("/dev/null"),
                path.as_str(),
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
        };
        result.map_err(sys(format!("masking {path}")))?;
    }
    Ok(())
}

/// Makes paths read-only (after pivot_root). Missing paths are fine.
pub fn read_only_paths(paths: &[String]) -> Result<(), SetupError> {
    for path in paths {
        if fs::symlink_metadata(path).is_err() {
            continue;
        }
        mount(
            Some(path.as_str()),
            path.as_str(),
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(sys(format!("binding {path}")))?;
        remount_read_only(Path::new(path), MsFlags::empty())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_options_split_only_on_unescaped_commas() {
        assert_eq!(
            split_mount_options(r"lowerdir=/a/x\,upperdir=/etc/y:/b,upperdir=/u,workdir=/w"),
            [
                "lowerdir=/a/x,upperdir=/etc/y:/b",
                "upperdir=/u",
                "workdir=/w"
            ]
        );
    }

    #[test]
    fn options_split_into_flags_and_data() {
        let opts: Vec<String> = ["nosuid", "ro", "mode=755", "size=1m", "rbind"]
            .map(String::from)
            .to_vec();
        let (flags, data) = parse_mount_options(&opts);
        assert!(flags.contains(
            MsFlags::MS_NOSUID | MsFlags::MS_RDONLY | MsFlags::MS_BIND | MsFlags::MS_REC
        ));
        assert_eq!(data, "mode=755,size=1m");
    }

    #[test]
    fn overlay_lists_top_layer_first() {
        let layers = RootfsLayers {
            lower: vec!["/s/layers/aa".into(), "/s/layers/bb".into()],
            upper: "/c/upper".into(),
            work: "/c/work".into(),
            copy_dir: "/c/rootfs".into(),
            driver: RootfsDriver::Auto,
        };
        assert_eq!(
            overlay_options(&layers, true),
            "lowerdir=bb:aa,upperdir=/c/upper,workdir=/c/work"
        );
        assert!(overlay_options(&layers, false).starts_with("lowerdir=/s/layers/bb:/s/layers/aa,"));
    }
}
