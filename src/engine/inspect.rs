//! A container as `inspect` shows it: podman's JSON field names, built
//! from the record, so scripts written for podman read the same paths
//! (`.State.Pid`, `.Config.Env`, `.HostConfig.RestartPolicy.Name`, …).

use serde_json::{Value, json};

use super::volumes::mount_source;
use crate::sandbox::cgroups::Limits;
use crate::state::{
    ContainerPaths, ContainerRecord, ContainerStatus, ContainerStore, MountKind, MountSpec,
    StorageDirs,
};

/// Go's zero time, which podman prints for times that never happened.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn split_args(record: &ContainerRecord) -> (String, Vec<String>) {
    let mut args = record.config.args.clone();
    if args.is_empty() {
        return (String::new(), args);
    }
    let path = args.remove(0);
    (path, args)
}

/// The limits planned into the container's runtime spec.
fn planned_limits(paths: &ContainerPaths) -> Limits {
    std::fs::read(paths.spec_file())
        .ok()
        .and_then(|json| serde_json::from_slice::<oci_spec::runtime::Spec>(&json).ok())
        .map(|spec| {
            Limits::from_resources(spec.linux().as_ref().and_then(|l| l.resources().as_ref()))
        })
        .unwrap_or_default()
}

/// One entry of `.Mounts`, with docker's fields.
fn mount_json(dirs: &StorageDirs, mount: &MountSpec) -> Value {
    let (kind, name, driver, propagation) = match &mount.kind {
        MountKind::Bind { .. } => (
            "bind",
            "",
            "",
            mount.propagation.as_deref().unwrap_or("rprivate"),
        ),
        MountKind::Volume { name, .. } => ("volume", name.as_str(), "local", ""),
        MountKind::Tmpfs { .. } => ("tmpfs", "", "", ""),
    };
    json!({
        "Type": kind,
        "Name": name,
        "Source": mount_source(dirs, mount),
        "Destination": mount.destination,
        "Driver": driver,
        "Mode": mount.mode,
        "RW": !mount.read_only,
        "Propagation": propagation,
    })
}

/// podman's `inspect` document for one container.
pub fn container_json(dirs: &StorageDirs, record: &ContainerRecord) -> Value {
    let mut document = base_json(dirs, record);
    super::network_inspect::add_network_json(&mut document, record);
    let paths = ContainerStore::new(dirs).paths(&record.id);
    if let Some(spec) = std::fs::read(paths.spec_file())
        .ok()
        .and_then(|json| serde_json::from_slice::<oci_spec::runtime::Spec>(&json).ok())
    {
        for (section, fields) in [
            (
                "HostConfig",
                super::process_options::host_config_json(&spec),
            ),
            ("Config", super::process_options::config_json(&spec)),
        ] {
            if let Some(Value::Object(map)) = document.get_mut(section) {
                map.extend(fields.into_iter().map(|(k, v)| (k.to_string(), v)));
            }
        }
    }
    document
}

fn base_json(dirs: &StorageDirs, record: &ContainerRecord) -> Value {
    let paths = &ContainerStore::new(dirs).paths(&record.id);
    let status = record.status();
    let state = &record.state;
    let (path, args) = split_args(record);
    let health = state.health.as_ref().map(|h| {
        json!({
            "Status": h.status,
            "FailingStreak": h.failing_streak,
            "Log": h.log,
        })
    });
    let config = &record.config;
    let healthcheck = config.healthcheck.as_ref().map(|h| {
        json!({
            "Test": h.test,
            "Interval": h.interval_ns,
            "Timeout": h.timeout_ns,
            "StartPeriod": h.start_period_ns,
            "Retries": h.retries,
        })
    });
    let limits = planned_limits(paths);
    let nano_cpus = match (limits.cpu_quota, limits.cpu_period) {
        (Some(q), Some(p)) if q > 0 && p > 0 => q as u64 * 1_000_000_000 / p,
        _ => 0,
    };
    let (restart_name, max_retries) = match config.restart {
        crate::state::RestartPolicy::OnFailure { max_retries } => ("on-failure", max_retries),
        other => (other.name(), 0),
    };
    json!({
        "Id": record.id,
        "Created": record.created,
        "Path": path,
        "Args": args,
        "State": {
            "OciVersion": "1.0.2",
            "Status": status.as_str(),
            "Running": status == ContainerStatus::Running || status == ContainerStatus::Stopping,
            "Paused": status == ContainerStatus::Paused,
            "Restarting": false,
            "OOMKilled": state.oom_killed,
            "Dead": false,
            "Pid": state.pid.map(|p| p.pid).unwrap_or(0),
            "ConmonPid": state.monitor.map(|p| p.pid).unwrap_or(0),
            "ExitCode": state.exit_code.unwrap_or(0),
            "Error": state.error.clone().unwrap_or_default(),
            "StartedAt": state.started_at.clone().unwrap_or_else(|| ZERO_TIME.into()),
            "FinishedAt": state.finished_at.clone().unwrap_or_else(|| ZERO_TIME.into()),
            "Health": health,
            "CgroupPath": state.cgroup_path.clone().unwrap_or_default(),
        },
        "Image": record.image_id.trim_start_matches("sha256:"),
        "ImageName": record.image,
        "Name": record.name,
        "RestartCount": state.restart_count,
        "Driver": "overlay",
        "LogPath": paths.log_file(),
        "Mounts": config.mounts.iter().map(|m| mount_json(dirs, m)).collect::<Vec<_>>(),
        "Config": {
            "Hostname": config.hostname,
            "User": config.user,
            "Env": config.env,
            "Cmd": config.cmd,
            "Image": record.image,
            "Labels": config.labels,
            "WorkingDir": config.workdir,
            "Entrypoint": config.entrypoint,
            "StopSignal": config.stop_signal,
            "StopTimeout": config.stop_timeout,
            "Tty": config.tty,
            "OpenStdin": config.interactive,
            "Healthcheck": healthcheck,
            "Secrets": super::secrets::secrets_json(&config.secrets),
        },
        "HostConfig": {
            "RestartPolicy": {
                "Name": restart_name,
                "MaximumRetryCount": max_retries,
            },
            "AutoRemove": config.auto_remove,
            "Memory": limits.memory.unwrap_or(0),
            "MemorySwap": limits.memory_swap.unwrap_or(0),
            "MemoryReservation": limits.memory_reservation.unwrap_or(0),
            "NanoCpus": nano_cpus,
            "CpuShares": limits.cpu_shares.unwrap_or(0),
            "CpuQuota": limits.cpu_quota.unwrap_or(0),
            "CpuPeriod": limits.cpu_period.unwrap_or(0),
            "CpusetCpus": limits.cpuset_cpus.clone().unwrap_or_default(),
            "CpusetMems": limits.cpuset_mems.clone().unwrap_or_default(),
            "PidsLimit": limits.pids.unwrap_or(0),
            "CgroupParent": config.cgroup_parent.clone().unwrap_or_default(),
            "Cgroups": if config.cgroups_disabled { "disabled" } else { "default" },
            "NetworkMode": config.network,
            "Init": config.init,
            "LogConfig": {
                "Type": "k8s-file",
                "Path": paths.log_file(),
                "Size": config.log_max_size.map(|s| s.to_string()).unwrap_or_default(),
            },
            "CapAdd": config.security.cap_add,
            "CapDrop": config.security.cap_drop,
            "Privileged": config.security.privileged,
            "ReadonlyRootfs": config.security.read_only,
            "Devices": config.security.devices.iter().map(|d| device_json(d)).collect::<Vec<_>>(),
            "SecurityOpt": config.security.security_opt,
            "DeviceCgroupRules": config.security.device_cgroup_rules,
            "GroupAdd": config.security.group_add,
        },
    })
}

/// A `--device` as docker and podman show it.
fn device_json(text: &str) -> Value {
    let mut parts = text.splitn(3, ':');
    let mut next = || parts.next().unwrap_or_default().to_string();
    json!({
        "PathOnHost": next(),
        "PathInContainer": next(),
        "CgroupPermissions": next(),
    })
}
