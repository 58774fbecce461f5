//! `--cap-add`, `--cap-drop`, `--privileged`, `--read-only`,
//! `--read-only-tmpfs`, `--security-opt mask=/unmask=` and `--device`:
//! parsed and checked here (before anything is created), then planned
//! against what the host has (`plan_security`, at create).

use std::os::unix::fs::{FileTypeExt, MetadataExt};

use oci_spec::runtime::{Capability, LinuxDeviceType};

use super::EngineError;
use crate::sandbox::privileges::{
    CapabilityList, DeviceCgroupAllow, DeviceMapping, SecurityPlan, parse_capabilities,
};
use crate::state::SecurityRecord;

/// The flags as spelled.
#[derive(Debug, Clone, Default)]
pub struct SecurityRequest {
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub privileged: bool,
    pub read_only: bool,
    /// `--read-only-tmpfs` (default true).
    pub read_only_tmpfs: Option<bool>,
    pub security_opt: Vec<String>,
    pub devices: Vec<String>,
    /// `--device-cgroup-rule 'c 10:229 rwm'`.
    pub device_cgroup_rules: Vec<String>,
    /// `--group-add keep-groups|GID|NAME`.
    pub group_add: Vec<String>,
}

/// One `--device HOST[:CONTAINER][:PERMS]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRequest {
    pub host: String,
    pub container: String,
    pub permissions: String,
}

/// The flags checked and typed.
#[derive(Debug, Clone, Default)]
pub struct SecurityOptions {
    pub cap_add: CapabilityList,
    pub cap_drop: CapabilityList,
    pub privileged: bool,
    pub read_only: bool,
    pub read_only_tmpfs: bool,
    pub mask: Vec<String>,
    pub unmask: Vec<String>,
    pub devices: Vec<DeviceRequest>,
    /// `--security-opt` values as given, for inspect.
    pub security_opt: Vec<String>,
    pub device_cgroup_rules: Vec<DeviceCgroupRule>,
    /// `--group-add keep-groups`: the caller's supplementary groups stay.
    pub keep_groups: bool,
    /// Other `--group-add` values: GIDs or group names of the image.
    pub group_add: Vec<String>,
}

/// One `--device-cgroup-rule`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCgroupRule {
    pub text: String,
    pub kind: LinuxDeviceType,
    pub major: Option<i64>,
    pub minor: Option<i64>,
    pub access: String,
}

fn invalid(text: String) -> EngineError {
    EngineError::Invalid(text)
}

/// Checks every flag; the first bad one is the error.
pub fn parse_security(req: &SecurityRequest) -> Result<SecurityOptions, EngineError> {
    let cap_add = parse_capabilities("--cap-add", &req.cap_add).map_err(invalid)?;
    let cap_drop = parse_capabilities("--cap-drop", &req.cap_drop).map_err(invalid)?;
    if cap_add.all && cap_drop.all {
        return Err(invalid(
            "--cap-add ALL and --cap-drop ALL cannot be used together".into(),
        ));
    }
    if let Some(both) = cap_add.caps.iter().find(|c| cap_drop.caps.contains(c)) {
        return Err(invalid(format!(
            "capability \"CAP_{both}\" cannot be both added and dropped"
        )));
    }
    if req.read_only_tmpfs.is_some() && !req.read_only {
        return Err(invalid(
            "--read-only-tmpfs can only be used together with --read-only".into(),
        ));
    }
    let mut mask = Vec::new();
    let mut unmask = Vec::new();
    for opt in &req.security_opt {
        let (key, value) = opt.split_once(['=', ':']).unwrap_or((opt, ""));
        let paths = match key {
            "mask" => &mut mask,
            "unmask" => &mut unmask,
            // Checked with the rest of the seccomp choice.
            "seccomp" | "no-new-privileges" => continue,
            _ => return Err(super::security_opts::unknown_security_opt(opt)),
        };
        for path in value.split(':') {
            if !(path.starts_with('/') || (key == "unmask" && path == "ALL")) {
                return Err(invalid(format!(
                    "invalid --security-opt \"{opt}\": \"{path}\" is not an absolute path"
                )));
            }
            paths.push(path.to_string());
        }
    }
    let devices = req
        .devices
        .iter()
        .map(|d| parse_device(d))
        .collect::<Result<_, _>>()?;
    Ok(SecurityOptions {
        cap_add,
        cap_drop,
        privileged: req.privileged,
        read_only: req.read_only,
        read_only_tmpfs: req.read_only_tmpfs.unwrap_or(true),
        mask,
        unmask,
        devices,
        security_opt: req.security_opt.clone(),
        device_cgroup_rules: req
            .device_cgroup_rules
            .iter()
            .map(|r| parse_device_cgroup_rule(r))
            .collect::<Result<_, _>>()?,
        keep_groups: req.group_add.iter().any(|g| g == "keep-groups"),
        group_add: parse_group_add(&req.group_add)?,
    })
}

/// `TYPE MAJOR:MINOR ACCESS` as the devices cgroup reads it: `c 10:229
/// rwm`, `b *:* r`, `a *:* rwm`.
pub fn parse_device_cgroup_rule(text: &str) -> Result<DeviceCgroupRule, EngineError> {
    let bad = || {
        invalid(format!(
            "invalid --device-cgroup-rule \"{text}\": expected TYPE MAJOR:MINOR ACCESS, e.g. 'c 10:229 rwm'"
        ))
    };
    let fields: Vec<&str> = text.split_whitespace().collect();
    let [kind, numbers, access] = fields.as_slice() else {
        return Err(bad());
    };
    let kind = match *kind {
        "a" => LinuxDeviceType::A,
        "b" => LinuxDeviceType::B,
        "c" => LinuxDeviceType::C,
        _ => return Err(bad()),
    };
    let number = |n: &str| match n {
        "*" => Ok(None),
        n => n
            .parse::<u32>()
            .map(|n| Some(i64::from(n)))
            .map_err(|_| bad()),
    };
    let (major, minor) = numbers.split_once(':').ok_or_else(bad)?;
    if !is_permissions(access) {
        return Err(bad());
    }
    Ok(DeviceCgroupRule {
        text: text.to_string(),
        kind,
        major: number(major)?,
        minor: number(minor)?,
        access: access.to_string(),
    })
}

/// `--group-add`: `keep-groups` alone (podman: it is exclusive), or GIDs
/// and names.
fn parse_group_add(values: &[String]) -> Result<Vec<String>, EngineError> {
    let keep = values.iter().any(|g| g == "keep-groups");
    if keep && values.len() > 1 {
        return Err(invalid(
            "--group-add keep-groups cannot be combined with other groups".into(),
        ));
    }
    if let Some(empty) = values.iter().find(|g| g.is_empty()) {
        return Err(invalid(format!(
            "invalid --group-add \"{empty}\": empty group"
        )));
    }
    Ok(if keep { Vec::new() } else { values.to_vec() })
}

fn is_permissions(text: &str) -> bool {
    !text.is_empty() && text.len() <= 3 && text.chars().all(|c| "rwm".contains(c))
}

/// `HOST[:CONTAINER][:PERMS]`, as podman reads it.
pub fn parse_device(text: &str) -> Result<DeviceRequest, EngineError> {
    let bad = |why: &str| invalid(format!("invalid --device \"{text}\": {why}"));
    let parts: Vec<&str> = text.split(':').collect();
    let (host, container, permissions) = match parts.as_slice() {
        [host] => (*host, *host, "rwm"),
        [host, perms] if is_permissions(perms) => (*host, *host, *perms),
        [host, container] => (*host, *container, "rwm"),
        [host, container, perms] => (*host, *container, *perms),
        _ => return Err(bad("expected HOST[:CONTAINER][:PERMISSIONS]")),
    };
    if !host.starts_with('/') || !container.starts_with('/') {
        return Err(bad("device paths must be absolute"));
    }
    if !is_permissions(permissions) {
        return Err(bad("permissions must be a combination of r, w and m"));
    }
    Ok(DeviceRequest {
        host: host.to_string(),
        container: container.to_string(),
        permissions: permissions.to_string(),
    })
}

/// Looks a device node up on the host.
fn host_device(host: &str, container: &str, permissions: &str) -> Result<DeviceMapping, String> {
    let meta = std::fs::metadata(host).map_err(|e| format!("{host}: {e}"))?;
    let kind = if meta.file_type().is_char_device() {
        LinuxDeviceType::C
    } else if meta.file_type().is_block_device() {
        LinuxDeviceType::B
    } else {
        return Err(format!("{host} is not a device node"));
    };
    Ok(DeviceMapping {
        host_path: host.to_string(),
        container_path: container.to_string(),
        permissions: permissions.to_string(),
        kind,
        major: libc::major(meta.rdev()) as i64,
        minor: libc::minor(meta.rdev()) as i64,
        file_mode: meta.mode() & 0o7777,
    })
}

/// Every device node under the host's /dev, for `--privileged`; a
/// rootless one leaves out the terminals and /dev/ptmx, as podman does
/// (they would replace the container's own).
fn host_devices(rootless: bool) -> Vec<DeviceMapping> {
    let mut found = Vec::new();
    let mut dirs = vec![std::path::PathBuf::from("/dev")];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let text = path.to_string_lossy().to_string();
            let Ok(file_type) = entry.file_type() else {
                continue;
            };
            if file_type.is_dir() {
                // The container has its own of these.
                if !["/dev/pts", "/dev/shm", "/dev/mqueue"].contains(&text.as_str()) {
                    dirs.push(path);
                }
                continue;
            }
            let skipped = text == "/dev/ptmx"
                || text == "/dev/console"
                || (rootless && text.starts_with("/dev/tty"));
            if skipped || !(file_type.is_char_device() || file_type.is_block_device()) {
                continue;
            }
            if let Ok(dev) = host_device(&text, &text, "rwm") {
                found.push(dev);
            }
        }
    }
    found.sort_by(|a, b| a.container_path.cmp(&b.container_path));
    found
}

/// skiff's own bounding set: the capabilities it can hand on.
fn own_capabilities() -> Vec<Capability> {
    caps::read(None, caps::CapSet::Bounding)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|c| {
            let name = c.to_string();
            name.strip_prefix("CAP_")
                .and_then(|bare| bare.parse::<Capability>().ok())
        })
        .collect()
}

/// Plans the options against the host: the capabilities skiff has (read
/// only when `ALL`, `--cap-add` or `--privileged` needs them) and the
/// device nodes. Rootless, a device the user may not open is refused.
pub fn plan_security(opts: &SecurityOptions, rootless: bool) -> Result<SecurityPlan, EngineError> {
    let available = if opts.privileged || !opts.cap_add.is_empty() {
        own_capabilities()
    } else {
        Vec::new()
    };
    if rootless && let Some(rule) = opts.device_cgroup_rules.first() {
        return Err(invalid(format!(
            "--device-cgroup-rule \"{}\" is not supported rootless: a rootless container gets no device cgroup (use --device for devices the user may open)",
            rule.text
        )));
    }
    if let Some(missing) = opts.cap_add.caps.iter().find(|c| !available.contains(c)) {
        return Err(invalid(format!(
            "cannot add capability CAP_{missing}: skiff itself does not have it (not in its bounding set)"
        )));
    }
    let mut devices = Vec::new();
    for dev in &opts.devices {
        let mapping = host_device(&dev.host, &dev.container, &dev.permissions)
            .map_err(|why| invalid(format!("invalid --device \"{}\": {why}", dev.host)))?;
        if rootless {
            let mut mode = nix::unistd::AccessFlags::empty();
            if dev.permissions.contains('r') {
                mode |= nix::unistd::AccessFlags::R_OK;
            }
            if dev.permissions.contains('w') {
                mode |= nix::unistd::AccessFlags::W_OK;
            }
            if nix::unistd::access(dev.host.as_str(), mode).is_err() {
                return Err(invalid(format!(
                    "cannot use --device {}: running rootless, skiff may only pass on devices the user may open (\"{}\" access)",
                    dev.host, dev.permissions
                )));
            }
        }
        devices.push(mapping);
    }
    if opts.privileged {
        for dev in host_devices(rootless) {
            if !devices
                .iter()
                .any(|d| d.container_path == dev.container_path)
            {
                devices.push(dev);
            }
        }
    }
    Ok(SecurityPlan {
        cap_add: opts.cap_add.clone(),
        cap_drop: opts.cap_drop.clone(),
        available,
        read_only: opts.read_only,
        read_only_tmpfs: opts.read_only_tmpfs,
        mask: opts.mask.clone(),
        unmask: opts.unmask.clone(),
        devices,
        cgroup_rules: opts
            .device_cgroup_rules
            .iter()
            .map(|r| DeviceCgroupAllow {
                kind: r.kind,
                major: r.major,
                minor: r.minor,
                access: r.access.clone(),
            })
            .collect(),
        keep_groups: opts.keep_groups,
    })
}

/// What the record keeps for inspect.
pub fn security_record(opts: &SecurityOptions) -> SecurityRecord {
    SecurityRecord {
        cap_add: opts.cap_add.names(),
        cap_drop: opts.cap_drop.names(),
        privileged: opts.privileged,
        read_only: opts.read_only,
        devices: opts
            .devices
            .iter()
            .map(|d| format!("{}:{}:{}", d.host, d.container, d.permissions))
            .collect(),
        security_opt: opts.security_opt.clone(),
        device_cgroup_rules: opts
            .device_cgroup_rules
            .iter()
            .map(|r| r.text.clone())
            .collect(),
        group_add: if opts.keep_groups {
            vec!["keep-groups".to_string()]
        } else {
            opts.group_add.clone()
        },
    }
}

#[cfg(test)]
#[path = "security_options_tests.rs"]
mod tests;
