//! The device cgroup rules of a root container as spec data
//! (`linux.resources.devices`), and the policy the cgroup enforces, read
//! back from them: docker's default set, plus an allow rule per
//! `--device`, or everything with `--privileged`.

use oci_spec::runtime::{
    LinuxDeviceCgroup, LinuxDeviceCgroupBuilder, LinuxDeviceType, LinuxResources, Spec,
};

use super::cgroups::{DeviceKind, DevicePolicy, DeviceRule, MKNOD, READ, WRITE};
use super::privileges::{DeviceCgroupAllow, DeviceMapping};
use super::spec::PlanError;

/// `rwm` letters as the kernel's access bits.
pub fn access_bits(letters: &str) -> u32 {
    letters.chars().fold(0, |acc, c| {
        acc | match c {
            'r' => READ,
            'w' => WRITE,
            'm' => MKNOD,
            _ => 0,
        }
    })
}

/// Adds the allow rules the devices need to `resources` (made when
/// there were none).
pub fn with_device_rules(
    resources: Option<LinuxResources>,
    devices: &[DeviceMapping],
    extra: &[DeviceCgroupAllow],
    privileged: bool,
) -> Result<Option<LinuxResources>, PlanError> {
    let mut rules: Vec<LinuxDeviceCgroup> = Vec::new();
    if privileged {
        // One rule with no type and no numbers: every device, rwm.
        rules.push(
            LinuxDeviceCgroupBuilder::default()
                .allow(true)
                .typ(LinuxDeviceType::A)
                .access("rwm")
                .build()?,
        );
    } else {
        for dev in devices {
            rules.push(
                LinuxDeviceCgroupBuilder::default()
                    .allow(true)
                    .typ(dev.kind)
                    .major(dev.major)
                    .minor(dev.minor)
                    .access(dev.permissions.clone())
                    .build()?,
            );
        }
        for rule in extra {
            let mut builder = LinuxDeviceCgroupBuilder::default()
                .allow(true)
                .typ(rule.kind)
                .access(rule.access.clone());
            if let Some(major) = rule.major {
                builder = builder.major(major);
            }
            if let Some(minor) = rule.minor {
                builder = builder.minor(minor);
            }
            rules.push(builder.build()?);
        }
    }
    if rules.is_empty() {
        return Ok(resources);
    }
    let mut resources = resources.unwrap_or_default();
    let mut all = resources.devices().clone().unwrap_or_default();
    all.extend(rules);
    resources.set_devices(Some(all));
    Ok(Some(resources))
}

/// The policy the container's cgroup enforces: docker's default plus the
/// spec's allow rules.
pub fn device_policy(spec: &Spec) -> DevicePolicy {
    let mut policy = DevicePolicy::docker_default();
    let rules = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.devices().clone())
        .unwrap_or_default();
    for rule in rules.iter().filter(|r| r.allow()) {
        let access = access_bits(rule.access().as_deref().unwrap_or("rwm"));
        let kinds: &[DeviceKind] = match rule.typ() {
            Some(LinuxDeviceType::C | LinuxDeviceType::U) => &[DeviceKind::Char],
            Some(LinuxDeviceType::B) => &[DeviceKind::Block],
            _ => &[DeviceKind::Char, DeviceKind::Block],
        };
        for kind in kinds {
            policy.rules.push(DeviceRule {
                kind: *kind,
                major: rule.major().and_then(|m| u32::try_from(m).ok()),
                minor: rule.minor().and_then(|m| u32::try_from(m).ok()),
                access,
            });
        }
    }
    policy
}
