//! Where skiff keeps persistent data (`root`) and runtime state (`runroot`).

use std::path::PathBuf;

/// The two directory trees one skiff process works in.
#[derive(Debug, Clone)]
pub struct StorageDirs {
    /// Images, layers, container records: survives reboots.
    pub root: PathBuf,
    /// Per-run files (hosts, resolv.conf, mount points): may be wiped at boot.
    pub runroot: PathBuf,
}

impl StorageDirs {
    /// Applies the documented precedence: flag, then environment, then the
    /// per-user default (`/var/lib/skiff` for uid 0, XDG dirs otherwise).
    pub fn resolve(root_flag: Option<PathBuf>, runroot_flag: Option<PathBuf>) -> StorageDirs {
        let is_root = nix::unistd::geteuid().is_root();
        let root = root_flag
            .or_else(|| env_path("SKIFF_ROOT"))
            .unwrap_or_else(|| default_root(is_root));
        let runroot = runroot_flag
            .or_else(|| env_path("SKIFF_RUNROOT"))
            .unwrap_or_else(|| default_runroot(is_root));
        // Relative to where skiff was started: every path made from them
        // must still hold after a chdir (a container's, a build step's).
        StorageDirs {
            root: absolute(root),
            runroot: absolute(runroot),
        }
    }
}

fn absolute(path: PathBuf) -> PathBuf {
    if path.is_absolute() {
        return path;
    }
    std::path::absolute(&path).unwrap_or(path)
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn default_root(is_root: bool) -> PathBuf {
    if is_root {
        return PathBuf::from("/var/lib/skiff");
    }
    if let Some(data) = env_path("XDG_DATA_HOME") {
        return data.join("skiff");
    }
    let home = env_path("HOME").unwrap_or_else(|| PathBuf::from("/tmp"));
    home.join(".local/share/skiff")
}

fn default_runroot(is_root: bool) -> PathBuf {
    if is_root {
        return PathBuf::from("/run/skiff");
    }
    if let Some(runtime) = env_path("XDG_RUNTIME_DIR") {
        return runtime.join("skiff");
    }
    // No session runtime dir (e.g. `su` without a login session): a private
    // per-uid directory under /tmp, as podman does.
    PathBuf::from(format!("/tmp/skiff-run-{}", nix::unistd::geteuid()))
}
