//! A container as `inspect` shows it: podman's JSON field names, built
//! from the record, so scripts written for podman read the same paths
//! (`.State.Pid`, `.Config.Env`, `.HostConfig.RestartPolicy.Name`, …).

use serde_json::{Value, json};

use crate::state::{ContainerPaths, ContainerRecord, ContainerStatus};

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

/// podman's `inspect` document for one container.
pub fn container_json(record: &ContainerRecord, paths: &ContainerPaths) -> Value {
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
        },
        "Image": record.image_id.trim_start_matches("sha256:"),
        "ImageName": record.image,
        "Name": record.name,
        "RestartCount": state.restart_count,
        "Driver": "overlay",
        "LogPath": paths.log_file(),
        "Mounts": config.mounts.iter().map(|m| json!({
            "Type": m.kind,
            "Source": m.source,
            "Destination": m.destination,
            "RW": m.read_write,
            "Mode": "",
            "Propagation": "rprivate",
        })).collect::<Vec<_>>(),
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
        },
        "HostConfig": {
            "RestartPolicy": {
                "Name": restart_name,
                "MaximumRetryCount": max_retries,
            },
            "AutoRemove": config.auto_remove,
            "NetworkMode": config.network,
            "Init": config.init,
            "LogConfig": {
                "Type": "k8s-file",
                "Path": paths.log_file(),
                "Size": config.log_max_size.map(|s| s.to_string()).unwrap_or_default(),
            },
        },
    })
}
