//! Init of a container with a mapping of its own (`--userns keep-id`,
//! `nomap`, `auto`, `--uidmap`): become the namespace's root before any
//! setup, keeping what the caller's identity reaches.
//!
//! Init starts with the caller's IDs. Under the default mapping they are
//! the namespace's root. Under another they map elsewhere (keep-id) or
//! nowhere (nomap, auto: every file init then creates in its overlay or
//! tmpfs fails with EOVERFLOW). So init becomes root of the namespace
//! (the owner's process may); but that root is a subordinate ID, which
//! cannot pass the caller's 0700 directories on the way to the store
//! and the runroot. What init needs from there is opened first, as the
//! caller (`O_PATH`), and named `/proc/self/fd/N` afterwards: a magic
//! link is followed without a search of the directories above its
//! target. The targets themselves are the container root's (layer
//! copies, upper and work: `engine/idmapped_layers.rs`) or searchable
//! (the run directory, 0711, below the 0700 runroot), or are bind
//! sources only read by the mount.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::{OFlag, open};
use nix::sys::stat::Mode;
use oci_spec::runtime::Spec;

use super::SetupError;
use super::rootfs::RootfsLayers;

/// The spec and layers with host paths replaced by fd paths, and the fds.
pub(super) struct Rerooted {
    pub spec: Spec,
    pub layers: RootfsLayers,
    _fds: Vec<OwnedFd>,
}

/// Whether init, not root of its user namespace, should become it: the
/// spec's own mapping maps container uid and gid 0, or the namespace is
/// another container's (entered: that container's root exists).
pub(super) fn needs_namespace_root(linux: &oci_spec::runtime::Linux) -> bool {
    let has_zero = |maps: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>| {
        maps.iter()
            .flatten()
            .any(|m| m.container_id() == 0 && m.size() > 0)
    };
    let entered =
        linux.namespaces().iter().flatten().any(|ns| {
            ns.typ() == oci_spec::runtime::LinuxNamespaceType::User && ns.path().is_some()
        });
    entered || (has_zero(linux.uid_mappings()) && has_zero(linux.gid_mappings()))
}

struct Opener {
    fds: Vec<OwnedFd>,
}

impl Opener {
    /// `path` opened as it is now (`O_PATH`), as `/proc/self/fd/N`.
    fn by_fd(&mut self, path: &Path) -> Result<PathBuf, SetupError> {
        let fd = open(path, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty()).map_err(|source| {
            SetupError::Sys {
                what: format!("opening {}", path.display()),
                source,
            }
        })?;
        let named = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
        self.fds.push(fd);
        Ok(named)
    }
}

/// Opens what setup reaches through the caller's directories, then makes
/// this process root of its user namespace.
pub(super) fn become_namespace_root(
    spec: &Spec,
    layers: &RootfsLayers,
) -> Result<Rerooted, SetupError> {
    let mut opener = Opener { fds: Vec::new() };
    let mut layers = layers.clone();
    for lower in &mut layers.lower {
        *lower = opener.by_fd(lower)?;
    }
    layers.upper = opener.by_fd(&layers.upper)?;
    layers.work = opener.by_fd(&layers.work)?;
    let mut spec = spec.clone();
    if let Some(root) = spec.root().clone() {
        // The mount point's parent, not the mount point: a path through
        // it crosses into the root mounted there, a path to it would not.
        let merged = root.path();
        if let (Some(parent), Some(name)) = (merged.parent(), merged.file_name()) {
            let mut root = root.clone();
            root.set_path(opener.by_fd(parent)?.join(name));
            spec.set_root(Some(root));
        }
    }
    if let Some(mounts) = spec.mounts().clone() {
        let mut changed = Vec::with_capacity(mounts.len());
        for mut m in mounts {
            let options = m.options().clone().unwrap_or_default();
            let is_bind = m.typ().as_deref() == Some("bind")
                || options.iter().any(|o| o == "bind" || o == "rbind");
            // A source in another container's mount namespace is not ours
            // to open (`foreign_mount.rs` reaches it).
            let foreign = options
                .iter()
                .any(|o| o.starts_with(super::joined_namespaces::MOUNT_NS_OPTION));
            let is_bind = is_bind && !foreign;
            if is_bind && let Some(source) = m.source().clone().filter(|s| s.is_absolute()) {
                let mut named = opener.by_fd(&source)?;
                if source.is_dir() {
                    // `N/.`: calls that do not follow a last symlink
                    // (volume copy-up's lchown, utimensat) reach the
                    // directory, not the magic link.
                    named.push(".");
                }
                m.set_source(Some(named));
            }
            changed.push(m);
        }
        spec.set_mounts(Some(changed));
    }
    nix::unistd::setresgid(0.into(), 0.into(), 0.into())
        .and_then(|()| nix::unistd::setresuid(0.into(), 0.into(), 0.into()))
        .map_err(|source| SetupError::Sys {
            what: "becoming root of the user namespace".into(),
            source,
        })?;
    Ok(Rerooted {
        spec,
        layers,
        _fds: opener.fds,
    })
}
