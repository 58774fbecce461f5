//! A container's cgroup across its runs: made before each start (so every
//! run starts with fresh counters), asked about OOM kills and removed after
//! each exit; found again by `pause`, `stats` and `exec` in the record.

use oci_spec::runtime::Spec;

use super::{EngineError, is_rootless};
use crate::sandbox::cgroups::{Cgroup, CgroupError, HostCgroups, Limits};
use crate::state::{ContainerRecord, ContainerStatus};

fn limits_of(spec: &Spec) -> Limits {
    Limits::from_resources(spec.linux().as_ref().and_then(|l| l.resources().as_ref()))
}

fn host_for(record: &ContainerRecord) -> HostCgroups {
    if record.config.cgroups_disabled {
        HostCgroups::none("the container was created with --cgroups=disabled")
    } else {
        HostCgroups::detect(is_rootless())
    }
}

/// Refuses, at create time, limits this host cannot apply for this user,
/// so a container that could never start is not created.
pub(super) fn check_limits(spec: &Spec, cgroups_disabled: bool) -> Result<(), EngineError> {
    let limits = limits_of(spec);
    if limits.is_empty() || cgroups_disabled {
        return Ok(());
    }
    match HostCgroups::detect(is_rootless()).usable() {
        Ok(_) => Ok(()),
        Err(reason) => Err(EngineError::Invalid(format!(
            "cannot apply resource limits: {reason}"
        ))),
    }
}

/// The container's cgroup for the run about to start, with the spec's
/// limits; `None` when the host offers none and no limit was asked for.
pub(super) fn create_for_run(
    record: &ContainerRecord,
    spec: &Spec,
) -> Result<Option<Cgroup>, EngineError> {
    let limits = limits_of(spec);
    // Root containers get docker's device policy; rootless ones need none
    // (their mounts are nodev) and may not set one.
    let devices = (!is_rootless()).then(|| crate::sandbox::device_rules::device_policy(spec));
    match Cgroup::create(
        &host_for(record),
        record.config.cgroup_parent.as_deref(),
        &record.id,
        &limits,
        devices.as_ref(),
    ) {
        Ok(cgroup) => Ok(cgroup),
        // Without limits or a parent asked for, a cgroup is a convenience
        // (pause, stats): a host that refuses one (a read-only cgroupfs,
        // say) still runs the container. A device policy that cannot be
        // applied is never skipped.
        Err(e)
            if limits.is_empty()
                && record.config.cgroup_parent.is_none()
                && !matches!(e, CgroupError::DevicePolicy(_)) =>
        {
            Ok(None)
        }
        Err(e @ CgroupError::Unavailable(_)) => Err(EngineError::Invalid(e.to_string())),
        Err(e) => Err(EngineError::Invalid(format!(
            "creating the container's cgroup: {e}"
        ))),
    }
}

/// After the container's PID 1 was reaped: whether the OOM killer ended a
/// process of the run, then the cgroup is removed.
pub(super) fn release(cgroup: Option<&Cgroup>) -> bool {
    let Some(cgroup) = cgroup else {
        return false;
    };
    let oom_killed = cgroup.oom_kills() > 0;
    let _ = cgroup.remove();
    oom_killed
}

/// Why a container has no cgroup to act on, for `pause` and `stats`.
pub fn missing_cgroup_reason(record: &ContainerRecord) -> String {
    if record.config.cgroups_disabled {
        return "it was created with --cgroups=disabled".into();
    }
    match HostCgroups::detect(is_rootless()).usable() {
        Err(reason) => reason.to_string(),
        Ok(_) => "it was started without one".into(),
    }
}

/// Thaws a paused container so a signal just sent can act (a frozen
/// process handles nothing, and under cgroup v1 not even SIGKILL).
/// Returns whether it was paused and is thawed now.
pub(super) fn thaw_for_signal(record: &ContainerRecord) -> bool {
    record.status() == ContainerStatus::Paused
        && record
            .state
            .cgroup_path
            .as_deref()
            .and_then(Cgroup::open)
            .is_some_and(|cgroup| cgroup.set_frozen(false).is_ok())
}
