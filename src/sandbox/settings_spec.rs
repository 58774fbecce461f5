//! The planner's side of `settings.rs` that touches mounts and
//! namespaces: which namespaces a container gets of its own, and the
//! mounts that change when it shares one with the host. Pure, like
//! `spec.rs`.

use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceBuilder, LinuxNamespaceType, Mount};

use super::joined_namespaces::{JoinKind, JoinedNamespace, mount_ns_option};
use super::settings::HostNamespaces;
use super::spec::{PlanError, RunPlan, mount};

/// The namespaces made for the container at clone time, before the
/// network, user and cgroup ones `build_spec` adds.
pub fn own_namespaces(host: &HostNamespaces) -> Vec<LinuxNamespaceType> {
    let mut namespaces = Vec::with_capacity(7);
    if !host.pid {
        namespaces.push(LinuxNamespaceType::Pid);
    }
    if !host.ipc {
        namespaces.push(LinuxNamespaceType::Ipc);
    }
    if !host.uts {
        namespaces.push(LinuxNamespaceType::Uts);
    }
    namespaces.push(LinuxNamespaceType::Mount);
    namespaces
}

/// The spec's namespace entries: `own` made at clone time, except the
/// kinds `joined` from another container, which become entries with the
/// path of that container's namespace (entered with setns).
pub fn namespace_entries(
    own: Vec<LinuxNamespaceType>,
    joined: &[JoinedNamespace],
) -> Result<Vec<LinuxNamespace>, PlanError> {
    let mut entries = Vec::with_capacity(own.len() + joined.len());
    for typ in own {
        if !joined.iter().any(|j| j.kind.namespace_type() == typ) {
            entries.push(LinuxNamespaceBuilder::default().typ(typ).build()?);
        }
    }
    for join in joined {
        entries.push(
            LinuxNamespaceBuilder::default()
                .typ(join.kind.namespace_type())
                .path(join.path())
                .build()?,
        );
    }
    Ok(entries)
}

/// /dev/shm and /dev/mqueue: fresh ones in a private IPC namespace (the
/// tmpfs sized by `--shm-size`). With `--ipc host`, the host's /dev/shm is
/// bound (a fresh tmpfs would not hold its shared memory) and an mqueue
/// mounted as root shows the host's queues; rootless, the kernel refuses
/// that mount (the host's IPC namespace is not ours), so the container
/// has no /dev/mqueue then.
pub fn ipc_mounts(plan: &RunPlan) -> Result<Vec<Mount>, PlanError> {
    let settings = &plan.settings;
    let mqueue = mount(
        "/dev/mqueue",
        "mqueue",
        "mqueue",
        &["nosuid", "noexec", "nodev"],
    )?;
    if settings.host_namespaces.ipc {
        let mut mounts = vec![mount(
            "/dev/shm",
            "bind",
            "/dev/shm",
            &["rbind", "nosuid", "nodev"],
        )?];
        if plan.id_mappings.is_none() {
            mounts.push(mqueue);
        }
        return Ok(mounts);
    }
    // `--ipc container:X`: X's own /dev/shm, as docker shares it (init
    // takes it from X's mount namespace); the mqueue mounted in X's IPC
    // namespace shows X's queues.
    if let Some(join) = plan.joined(JoinKind::Ipc) {
        let from = mount_ns_option(join.pid);
        return Ok(vec![
            mount("/dev/shm", "bind", "/dev/shm", &["rbind", &from])?,
            mqueue,
        ]);
    }
    // `--ipc none`: no /dev/shm at all, as docker's.
    if settings.ipc_none {
        return Ok(vec![mqueue]);
    }
    let size = settings.shm_size_option();
    Ok(vec![
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", &size],
        )?,
        mqueue,
    ])
}

/// `--pid host` rootless: the kernel lets only the owner of a PID
/// namespace's user namespace mount a proc for it, and the host's belongs
/// to the initial one; so the host's /proc is bound instead (masked and
/// read-only paths still apply on top). As root a fresh proc is mounted.
pub fn host_proc(plan: &RunPlan) -> Result<Option<Mount>, PlanError> {
    if !plan.settings.host_namespaces.pid || plan.id_mappings.is_none() {
        return Ok(None);
    }
    Ok(Some(mount(
        "/proc",
        "bind",
        "/proc",
        &["rbind", "nosuid", "noexec", "nodev"],
    )?))
}

/// `--cgroupns host`: the host's cgroup hierarchy, read-only, as it is
/// mounted on the host (a fresh cgroup2 mount needs a cgroup namespace
/// of its own when rootless).
pub fn host_cgroup_mount() -> Result<Mount, PlanError> {
    mount(
        "/sys/fs/cgroup",
        "bind",
        "/sys/fs/cgroup",
        &["rbind", "ro", "nosuid", "noexec", "nodev"],
    )
}
