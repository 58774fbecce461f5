//! The plan: everything the user asked for plus the image's defaults,
//! turned into an OCI runtime `Spec`. Pure data — no syscalls, no files —
//! so `skiff inspect` can show it and tests can assert on it.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    Capability, LinuxBuilder, LinuxDeviceBuilder, LinuxDeviceType, LinuxIdMapping,
    LinuxIdMappingBuilder, LinuxNamespaceType, Mount, MountBuilder, ProcessBuilder, RootBuilder,
    Spec, SpecBuilder, UserBuilder,
};

pub use super::command_line::CommandLine;
use super::joined_namespaces::{JoinKind, join_annotations};
use super::privileges::{
    KEEP_GROUPS_ANNOTATION, SecurityPlan, capability_sets, extra_device_mounts,
    masked_and_read_only, read_only_tmpfs_mounts,
};
use super::settings::ProcessSettings;
use super::spec_mounts::check_destination;
use super::user::ResolvedUser;
use super::userns::IdMapping;

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("no command specified: the image has no ENTRYPOINT or CMD and none was given")]
    NoCommand,
    #[error("the working directory \"{0}\" is invalid, it needs to be an absolute path")]
    RelativeWorkdir(String),
    #[error("invalid mount destination \"{0}\": it needs to be an absolute path")]
    RelativeDestination(String),
    #[error("building the runtime spec: {0}")]
    Spec(#[from] oci_spec::OciSpecError),
    #[error(
        "secret {destination}: owner {uid}:{gid} is not mapped in the container's user namespace (see /etc/subuid and /etc/subgid)"
    )]
    UnmappedSecretOwner {
        destination: String,
        uid: u32,
        gid: u32,
    },
}

/// What the image says a container should run, unless overridden.
#[derive(Debug, Clone, Default)]
pub struct ImageDefaults {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub workdir: Option<String>,
}

/// A user-requested mount (`-v`, `--tmpfs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountRequest {
    Bind {
        source: PathBuf,
        destination: String,
        read_only: bool,
        /// An empty source gets the image's content at the destination
        /// first (a volume's copy-up).
        copy_up: bool,
        /// The source is chowned to the container's user (`:U`).
        chown: bool,
    },
    Tmpfs {
        destination: String,
        /// Extra options as given (`size=64m,mode=1777`).
        options: Vec<String>,
    },
    /// `:O`: an overlay with `lower` (a host directory) below and a
    /// fresh upper directory under the run's scratch dir above; `mask`,
    /// when given, lies between them (its whiteouts hide `lower`'s
    /// entries).
    Overlay {
        lower: PathBuf,
        mask: Option<PathBuf>,
        destination: String,
        read_only: bool,
    },
}

/// A bind mount's option (skiff's own, read by init): copy the image's
/// content at the destination into the source when the source is empty.
pub const COPY_UP_OPTION: &str = "skiff.copy-up";
/// A bind mount's option `skiff.chown=UID:GID` (skiff's own, read by
/// init): chown the source's tree to the container's user (`:U`).
pub const CHOWN_OPTION: &str = "skiff.chown";

/// Files the engine prepared on the host for name resolution.
#[derive(Debug, Clone)]
pub struct EtcFiles {
    pub hosts: PathBuf,
    pub resolv_conf: PathBuf,
    pub hostname: PathBuf,
}

/// Everything decided about one container run, before it becomes a Spec.
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// Where the assembled root filesystem will be mounted.
    pub rootfs: PathBuf,
    /// Arguments after the image name (replace CMD when non-empty).
    pub command: Vec<String>,
    /// `--entrypoint`: `Some("")` clears the image's ENTRYPOINT.
    pub entrypoint: Option<String>,
    /// `-e`/`--env-file` entries, in order, already `K=V`.
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: ResolvedUser,
    pub hostname: String,
    pub tty: bool,
    pub mounts: Vec<MountRequest>,
    /// True when the container gets its own network namespace.
    pub private_network: bool,
    /// Subordinate ID mappings when running rootless; `None` as root.
    pub id_mappings: Option<(Vec<IdMapping>, Vec<IdMapping>)>,
    pub etc_files: EtcFiles,
    /// Per-run scratch space (under the runroot, gone when the run ends):
    /// the upper and work directories of `:O` overlays.
    pub scratch_dir: PathBuf,
    /// cgroup limits (`--memory`, `--cpus`, …); `None` for none.
    pub resources: Option<oci_spec::runtime::LinuxResources>,
    /// A cgroup namespace of its own, with its cgroup mounted read-only
    /// at /sys/fs/cgroup (cgroup v2 hosts, as docker does there).
    pub cgroup_namespace: bool,
    /// `--ulimit`, `--umask`, `--shm-size`, `--sysctl`, `--tz`, and the
    /// namespaces shared with the host.
    pub settings: ProcessSettings,
    /// The seccomp profile, resolved against the capability set into
    /// `linux.seccomp`; `None` for no filter (`seccomp=unconfined`).
    pub seccomp: Option<super::seccomp::profile::Profile>,
    /// `process.noNewPrivileges`.
    pub no_new_privileges: bool,
    /// `--privileged`: every capability skiff has, no masked or read-only
    /// paths, the host's devices, all devices allowed, a writable /sys,
    /// and no seccomp filter.
    pub privileged: bool,
    /// Capabilities, read-only root, masks and devices asked for.
    pub security: SecurityPlan,
    /// `--secret`: named in annotations, `mount` ones bound read-only;
    /// the values are the engine's business at each start, not the plan's.
    pub secrets: Vec<PlannedSecret>,
    /// Namespaces entered from other running containers rather than
    /// created (`--pid/--ipc/--uts/--network/--userns container:X`).
    pub joined: Vec<super::joined_namespaces::JoinedNamespace>,
}

impl RunPlan {
    /// The other container whose namespace of `kind` this one enters.
    pub fn joined(
        &self,
        kind: super::joined_namespaces::JoinKind,
    ) -> Option<&super::joined_namespaces::JoinedNamespace> {
        self.joined.iter().find(|j| j.kind == kind)
    }
}

#[path = "spec_secrets.rs"]
mod secrets;
pub use secrets::PlannedSecret;

/// docker's default capability set.
pub const DEFAULT_CAPABILITIES: [Capability; 14] = [
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fowner,
    Capability::Fsetid,
    Capability::Kill,
    Capability::Setgid,
    Capability::Setuid,
    Capability::Setpcap,
    Capability::NetBindService,
    Capability::NetRaw,
    Capability::SysChroot,
    Capability::Mknod,
    Capability::AuditWrite,
    Capability::Setfcap,
];

/// docker's masked paths: hidden behind /dev/null (files) or an empty
/// read-only tmpfs (directories).
pub const MASKED_PATHS: [&str; 11] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

pub const READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Character devices every container gets, bound from the host's nodes.
pub(super) const DEFAULT_DEVICES: [(&str, i64, i64); 6] = [
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Image env, then skiff's defaults where missing, then the user's `-e`s;
/// a later `K=` wins over an earlier one, order of first appearance kept.
pub fn process_env(image_env: &[String], plan: &RunPlan) -> Vec<String> {
    let mut env: Vec<String> = Vec::new();
    let mut set = |entry: &str| {
        let key = entry.split('=').next().unwrap_or(entry);
        match env.iter_mut().find(|e| e.split('=').next() == Some(key)) {
            Some(existing) => *existing = entry.to_string(),
            None => env.push(entry.to_string()),
        }
    };
    set(DEFAULT_PATH);
    image_env.iter().for_each(|e| set(e));
    set(&format!("HOSTNAME={}", plan.hostname));
    set(&format!("HOME={}", plan.user.home));
    if plan.tty {
        set("TERM=xterm");
    }
    // The image's own HOME wins over the passwd-derived default.
    if let Some(home) = image_env.iter().find(|e| e.starts_with("HOME=")) {
        set(home);
    }
    plan.env.iter().for_each(|e| set(e));
    env
}

pub(super) fn mount(
    dest: &str,
    typ: &str,
    source: &str,
    options: &[&str],
) -> Result<Mount, PlanError> {
    Ok(MountBuilder::default()
        .destination(dest)
        .typ(typ)
        .source(source)
        .options(options.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .build()?)
}

fn maps_container_id(maps: &[IdMapping], id: u32) -> bool {
    maps.iter()
        .any(|m| id >= m.container_id && id - m.container_id < m.size)
}

fn system_mounts(plan: &RunPlan) -> Result<Vec<Mount>, PlanError> {
    // devpts wants gid 5 (tty) for its slaves; without a mapping for it the
    // mount would fail, so leave the group to the kernel default then.
    let tty_gid_mapped = plan
        .id_mappings
        .as_ref()
        .is_none_or(|(_, gids)| maps_container_id(gids, 5));
    let mut devpts = vec![
        "nosuid",
        "noexec",
        "newinstance",
        "ptmxmode=0666",
        "mode=0620",
    ];
    if tty_gid_mapped {
        devpts.push("gid=5");
    }
    // Rootless with the host network: sysfs may only be mounted by the
    // owner of the network namespace, so bind the host's instead.
    // docker leaves /sys (and the cgroup tree) writable when privileged.
    let ro = if plan.privileged { "rw" } else { "ro" };
    let host_network = !plan.private_network && plan.joined(JoinKind::Net).is_none();
    let sys = if plan.id_mappings.is_some() && host_network {
        mount(
            "/sys",
            "bind",
            "/sys",
            &["rbind", "nosuid", "noexec", "nodev", ro],
        )?
    } else {
        mount("/sys", "sysfs", "sysfs", &["nosuid", "noexec", "nodev", ro])?
    };
    let mut mounts = vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"])?,
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        )?,
        mount("/dev/pts", "devpts", "devpts", &devpts)?,
        sys,
    ];
    mounts.extend(super::settings_spec::ipc_mounts(plan)?);
    if let Some(proc_bind) = super::settings_spec::host_proc(plan)? {
        mounts[0] = proc_bind;
    }
    if plan.settings.host_namespaces.cgroup {
        mounts.push(super::settings_spec::host_cgroup_mount()?);
    } else if plan.cgroup_namespace {
        // Mounted inside the container's cgroup namespace, its root is the
        // container's own cgroup.
        mounts.push(mount(
            "/sys/fs/cgroup",
            "cgroup2",
            "cgroup2",
            &[ro, "nosuid", "noexec", "nodev"],
        )?);
    }
    Ok(mounts)
}

fn etc_mounts(files: &EtcFiles) -> Result<Vec<Mount>, PlanError> {
    let bind = |dest: &str, src: &Path| mount(dest, "bind", &src.to_string_lossy(), &["bind"]);
    Ok(vec![
        bind("/etc/hosts", &files.hosts)?,
        bind("/etc/resolv.conf", &files.resolv_conf)?,
        bind("/etc/hostname", &files.hostname)?,
    ])
}

fn id_mappings(maps: &[IdMapping]) -> Result<Vec<LinuxIdMapping>, PlanError> {
    maps.iter()
        .map(|m| {
            Ok(LinuxIdMappingBuilder::default()
                .container_id(m.container_id)
                .host_id(m.host_id)
                .size(m.size)
                .build()?)
        })
        .collect()
}

/// Builds the runtime spec for one container.
pub fn build_spec(image: &ImageDefaults, plan: &RunPlan) -> Result<Spec, PlanError> {
    let args = CommandLine::new(image, plan.entrypoint.as_deref(), &plan.command).args()?;
    let cwd = plan
        .workdir
        .clone()
        .or_else(|| image.workdir.clone())
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| "/".to_string());
    if !cwd.starts_with('/') {
        return Err(PlanError::RelativeWorkdir(cwd));
    }
    let capabilities = capability_sets(&plan.security, plan.privileged, plan.user.uid)?;
    // The filter depends on the bounding set (docker's includes.caps).
    let bounding: Vec<String> = capabilities
        .bounding()
        .iter()
        .flatten()
        .map(|c| c.to_string())
        .collect();
    let seccomp = plan
        .seccomp
        .as_ref()
        .map(|p| p.resolve(&bounding))
        .transpose()?;
    let mut user = UserBuilder::default()
        .uid(plan.user.uid)
        .gid(plan.user.gid)
        .umask(
            plan.settings
                .umask
                .unwrap_or(super::settings::DEFAULT_UMASK),
        )
        .build()?;
    // `--group-add keep-groups`: no list at all, so no setgroups: the
    // process keeps the groups it was started with (crun does the same
    // for the annotation below).
    if !plan.security.keep_groups {
        user.set_additional_gids(Some(plan.user.additional_gids.clone()));
    }
    let process = ProcessBuilder::default()
        .terminal(plan.tty)
        .user(user)
        .args(args)
        .env(process_env(&image.env, plan))
        .cwd(cwd)
        .capabilities(capabilities)
        .no_new_privileges(plan.no_new_privileges)
        .rlimits(plan.settings.rlimits()?)
        .build()?;

    let mut namespaces = super::settings_spec::own_namespaces(&plan.settings.host_namespaces);
    if plan.private_network {
        namespaces.push(LinuxNamespaceType::Network);
    }
    if plan.id_mappings.is_some() {
        namespaces.push(LinuxNamespaceType::User);
    }
    if plan.cgroup_namespace && !plan.settings.host_namespaces.cgroup {
        namespaces.push(LinuxNamespaceType::Cgroup);
    }
    let namespaces = super::settings_spec::namespace_entries(namespaces, &plan.joined)?;
    let mut devices = DEFAULT_DEVICES
        .iter()
        .map(|(path, major, minor)| {
            LinuxDeviceBuilder::default()
                .path(*path)
                .typ(LinuxDeviceType::C)
                .major(*major)
                .minor(*minor)
                .file_mode(0o666u32)
                .build()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let rootless = plan.id_mappings.is_some();
    // Root: the extra devices are spec devices (bound or made by init)
    // and allowed by the device cgroup. Rootless: bind mounts only (see
    // extra_device_mounts); a user namespace gets no device cgroup.
    if !rootless {
        for dev in &plan.security.devices {
            if !devices
                .iter()
                .any(|d| d.path().as_os_str() == dev.container_path.as_str())
            {
                devices.push(
                    LinuxDeviceBuilder::default()
                        .path(&dev.container_path)
                        .typ(dev.kind)
                        .major(dev.major)
                        .minor(dev.minor)
                        .file_mode(dev.file_mode)
                        .uid(0u32)
                        .gid(0u32)
                        .build()?,
                );
            }
        }
    }
    let (masked, read_only) = masked_and_read_only(&plan.security, plan.privileged);
    let mut linux = LinuxBuilder::default()
        .namespaces(namespaces)
        .devices(devices)
        .masked_paths(masked)
        .readonly_paths(read_only)
        .rootfs_propagation("rprivate");
    let resources = if rootless {
        plan.resources.clone()
    } else {
        super::device_rules::with_device_rules(
            plan.resources.clone(),
            &plan.security.devices,
            &plan.security.cgroup_rules,
            plan.privileged,
        )?
    };
    if let Some(resources) = resources {
        linux = linux.resources(resources);
    }
    if !plan.settings.sysctls.is_empty() {
        linux = linux.sysctl(plan.settings.sysctl_map());
    }
    if let Some(seccomp) = seccomp {
        linux = linux.seccomp(seccomp);
    }
    // In another container's user namespace the maps are that one's.
    if let Some((uids, gids)) = plan
        .id_mappings
        .as_ref()
        .filter(|_| plan.joined(JoinKind::User).is_none())
    {
        linux = linux
            .uid_mappings(id_mappings(uids)?)
            .gid_mappings(id_mappings(gids)?);
    }

    let mut mounts = system_mounts(plan)?;
    mounts.extend(etc_mounts(&plan.etc_files)?);
    if let Some(zone) = &plan.settings.localtime {
        mounts.push(mount(
            "/etc/localtime",
            "bind",
            &zone.to_string_lossy(),
            &["bind", "ro"],
        )?);
    }
    mounts.extend(super::spec_mounts::user_mounts(
        &plan.mounts,
        &plan.user,
        &plan.scratch_dir,
    )?);
    mounts.extend(read_only_tmpfs_mounts(&plan.security, &mounts)?);
    if rootless {
        mounts.extend(extra_device_mounts(&plan.security.devices, &mounts)?);
    }
    mounts.extend(secrets::secret_mounts(plan)?);
    // Parents before children, as docker orders them: a volume on /etc
    // must not hide the /etc/hosts mounted before it (nor copy it up).
    // The sort is stable, so on one path the user's mount, mounted last,
    // wins.
    mounts.sort_by_key(|m| m.destination().components().count());

    let mut annotations = std::collections::HashMap::new();
    if plan.security.keep_groups {
        annotations.insert(KEEP_GROUPS_ANNOTATION.to_string(), "1".to_string());
    }
    if plan.settings.userns_host {
        annotations.insert(
            super::settings::USERNS_ANNOTATION.to_string(),
            "host".to_string(),
        );
    }
    annotations.extend(secrets::secret_annotations(&plan.secrets));
    annotations.extend(join_annotations(&plan.joined));
    let mut spec = SpecBuilder::default()
        .version("1.0.2")
        .annotations(annotations)
        .root(
            RootBuilder::default()
                .path(&plan.rootfs)
                .readonly(plan.security.read_only)
                .build()?,
        )
        .process(process)
        .mounts(mounts)
        .linux(linux.build()?)
        .build()?;
    // Sharing the host's UTS namespace, the container must not set (the
    // host's) hostname; the builder's default names one, so clear it.
    // Nor another container's (`--uts container:X`).
    let own_uts = !plan.settings.host_namespaces.uts && plan.joined(JoinKind::Uts).is_none();
    spec.set_hostname(own_uts.then(|| plan.hostname.clone()));
    Ok(spec)
}

#[cfg(test)]
#[path = "spec_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "spec_join_tests.rs"]
mod join_tests;
