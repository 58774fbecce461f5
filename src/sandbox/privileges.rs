//! What a container may do beyond docker's defaults, as planned data:
//! `--cap-add`/`--cap-drop`, `--privileged`, `--read-only`,
//! `--security-opt mask=…/unmask=…` and `--device`. Pure: the engine
//! reads what the host has (skiff's own bounding set, device nodes) and
//! hands it in; `spec::build_spec` turns it into spec fields.

use std::str::FromStr;

use oci_spec::runtime::{
    Capabilities, Capability, LinuxCapabilities, LinuxCapabilitiesBuilder, LinuxDeviceType,
};

use std::path::Path;

use oci_spec::runtime::Mount;

use super::spec::{
    DEFAULT_CAPABILITIES, DEFAULT_DEVICES, MASKED_PATHS, PlanError, READONLY_PATHS, mount,
};

/// A `--cap-add` or `--cap-drop` list: `ALL` or named capabilities.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapabilityList {
    pub all: bool,
    pub caps: Vec<Capability>,
}

impl CapabilityList {
    pub fn is_empty(&self) -> bool {
        !self.all && self.caps.is_empty()
    }

    /// As podman prints them in inspect: `CAP_NET_ADMIN`, or `ALL`.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.all.then(|| "ALL".to_string()).into_iter().collect();
        names.extend(self.caps.iter().map(|c| format!("CAP_{c}")));
        names
    }
}

/// Parses capability names as podman takes them: with or without `CAP_`,
/// any case, `ALL`; every unknown name is named in the error.
pub fn parse_capabilities(flag: &str, values: &[String]) -> Result<CapabilityList, String> {
    let mut list = CapabilityList::default();
    let mut unknown = Vec::new();
    for value in values.iter().flat_map(|v| v.split(',')) {
        let upper = value.trim().to_ascii_uppercase();
        let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
        if bare == "ALL" {
            list.all = true;
        } else {
            match Capability::from_str(bare) {
                Ok(cap) if !list.caps.contains(&cap) => list.caps.push(cap),
                Ok(_) => {}
                Err(_) => unknown.push(format!("\"{value}\"")),
            }
        }
    }
    if unknown.is_empty() {
        Ok(list)
    } else {
        Err(format!(
            "invalid {flag}: unknown capability {}",
            unknown.join(", ")
        ))
    }
}

/// A host device node the container gets (`--device`, or every host
/// device with `--privileged`), already looked up on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceMapping {
    pub host_path: String,
    pub container_path: String,
    /// `rwm` letters, as given (default `rwm`).
    pub permissions: String,
    pub kind: LinuxDeviceType,
    pub major: i64,
    pub minor: i64,
    pub file_mode: u32,
}

/// Everything this module plans for one container.
#[derive(Debug, Clone, Default)]
pub struct SecurityPlan {
    pub cap_add: CapabilityList,
    pub cap_drop: CapabilityList,
    /// The capabilities skiff itself holds (its bounding set): what `ALL`
    /// and `--privileged` mean. Read only when one of them is used.
    pub available: Vec<Capability>,
    /// `--read-only`: the root filesystem is mounted read-only.
    pub read_only: bool,
    /// With `--read-only`: tmpfs on /tmp, /var/tmp and /run.
    pub read_only_tmpfs: bool,
    /// `--security-opt mask=`: paths hidden on top of docker's.
    pub mask: Vec<String>,
    /// `--security-opt unmask=`: default masked or read-only paths left
    /// alone; `ALL` for all of them.
    pub unmask: Vec<String>,
    /// `--device`s and, with `--privileged`, the host's devices.
    pub devices: Vec<DeviceMapping>,
    /// `--device-cgroup-rule`s (root only).
    pub cgroup_rules: Vec<DeviceCgroupAllow>,
    /// `--group-add keep-groups`: the process keeps the caller's
    /// supplementary groups (no setgroups), as crun's
    /// `run.oci.keep_original_groups`.
    pub keep_groups: bool,
}

/// One extra allow rule of the device cgroup; `None` numbers for `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCgroupAllow {
    pub kind: LinuxDeviceType,
    pub major: Option<i64>,
    pub minor: Option<i64>,
    pub access: String,
}

/// The annotation that carries `keep-groups` in the spec (crun's name).
pub const KEEP_GROUPS_ANNOTATION: &str = "run.oci.keep_original_groups";

fn set(caps: &[Capability]) -> Capabilities {
    caps.iter().copied().collect()
}

/// The bounding set: docker's default (or all with `--privileged`) with
/// podman's merge of adds and drops (`--cap-drop ALL` keeps only the adds,
/// `--cap-add ALL` starts from everything skiff has).
pub fn bounding_set(plan: &SecurityPlan, privileged: bool) -> Vec<Capability> {
    if privileged || plan.cap_add.all {
        let mut caps = plan.available.clone();
        if !privileged {
            caps.retain(|c| !plan.cap_drop.caps.contains(c));
        }
        return caps;
    }
    let base: Vec<Capability> = if plan.cap_drop.all {
        Vec::new()
    } else {
        DEFAULT_CAPABILITIES
            .into_iter()
            .filter(|c| !plan.cap_drop.caps.contains(c))
            .collect()
    };
    let mut caps = base;
    for cap in &plan.cap_add.caps {
        if !caps.contains(cap) {
            caps.push(*cap);
        }
    }
    caps
}

/// The process's five capability sets, as podman plans them. Root in the
/// container: bounding = effective = permitted, no inheritable or
/// ambient (exec as root raises permitted to the bounding set anyway).
/// Any other user: only what `--cap-add` named explicitly, in effective,
/// permitted, inheritable and ambient (ambient is what survives the exec
/// of an ordinary program by a non-root user); the rest stays in the
/// bounding set only.
pub fn capability_sets(
    plan: &SecurityPlan,
    privileged: bool,
    uid: u32,
) -> Result<LinuxCapabilities, PlanError> {
    let bounding = bounding_set(plan, privileged);
    let builder = LinuxCapabilitiesBuilder::default().bounding(set(&bounding));
    let caps = if uid == 0 {
        builder
            .effective(set(&bounding))
            .permitted(set(&bounding))
            .inheritable(Capabilities::new())
            .ambient(Capabilities::new())
    } else {
        let explicit: Vec<Capability> = if plan.cap_add.all {
            bounding.clone()
        } else {
            plan.cap_add
                .caps
                .iter()
                .filter(|c| bounding.contains(c))
                .copied()
                .collect()
        };
        builder
            .effective(set(&explicit))
            .permitted(set(&explicit))
            .inheritable(set(&explicit))
            .ambient(set(&explicit))
    };
    Ok(caps.build()?)
}

/// docker's masked and read-only paths, less the unmasked ones, plus the
/// extra masks; none at all with `--privileged`.
pub fn masked_and_read_only(plan: &SecurityPlan, privileged: bool) -> (Vec<String>, Vec<String>) {
    if privileged {
        return (Vec::new(), Vec::new());
    }
    let all = plan.unmask.iter().any(|p| p == "ALL");
    let keep = |p: &&&str| !all && !plan.unmask.iter().any(|u| u == **p);
    let mut masked: Vec<String> = MASKED_PATHS
        .iter()
        .filter(keep)
        .map(|p| p.to_string())
        .collect();
    for extra in &plan.mask {
        if !masked.contains(extra) {
            masked.push(extra.clone());
        }
    }
    let read_only = READONLY_PATHS
        .iter()
        .filter(keep)
        .map(|p| p.to_string())
        .collect();
    (masked, read_only)
}

/// Directories a `--read-only` container still may write to, as podman.
pub const READ_ONLY_TMPFS: [&str; 3] = ["/tmp", "/var/tmp", "/run"];

/// `--read-only`: a tmpfs on each of /tmp, /var/tmp and /run that the
/// user did not mount something on.
pub fn read_only_tmpfs_mounts(
    plan: &SecurityPlan,
    taken: &[Mount],
) -> Result<Vec<Mount>, PlanError> {
    if !(plan.read_only && plan.read_only_tmpfs) {
        return Ok(Vec::new());
    }
    READ_ONLY_TMPFS
        .iter()
        .filter(|dest| !taken.iter().any(|m| m.destination() == Path::new(dest)))
        .map(|dest| {
            mount(
                dest,
                "tmpfs",
                "tmpfs",
                &["rw", "nosuid", "nodev", "mode=1777"],
            )
        })
        .collect()
}

/// Rootless devices are bind mounts of the host's nodes, as podman does
/// it (mknod is refused in a user namespace); the kernel still checks
/// the user's own permission on the node when it is opened.
pub fn extra_device_mounts(
    devices: &[DeviceMapping],
    taken: &[Mount],
) -> Result<Vec<Mount>, PlanError> {
    devices
        .iter()
        .filter(|d| {
            !DEFAULT_DEVICES
                .iter()
                .any(|(p, _, _)| *p == d.container_path)
        })
        .filter(|d| {
            !taken
                .iter()
                .any(|m| m.destination() == Path::new(&d.container_path))
        })
        .map(|d| {
            mount(
                &d.container_path,
                "bind",
                &d.host_path,
                &["rbind", "nosuid", "noexec"],
            )
        })
        .collect()
}

#[cfg(test)]
#[path = "privileges_tests.rs"]
mod tests;
