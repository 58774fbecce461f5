//! `skiff exec`: run another process in a running container, with the
//! container's environment, user, capabilities and no_new_privs unless
//! the flags say otherwise.

use std::path::PathBuf;

use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilitiesBuilder, Process};

use super::EngineError;
use super::input::parse_env_entries;
use super::launch::LaunchPlan;
use super::lookup::find_container;
use super::secrets::with_secret_env;
use crate::sandbox::cgroups::Cgroup;
use crate::sandbox::exec::{ExecRequest, exec_in_container};
use crate::sandbox::foreground::{SignalGuard, terminal_size, wait_foreground};
use crate::sandbox::user::resolve_user;
use crate::state::{ContainerStatus, ContainerStore, StorageDirs};

#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    pub command: Vec<String>,
    pub interactive: bool,
    pub tty: bool,
    pub detach: bool,
    pub env: Vec<String>,
    pub env_files: Vec<PathBuf>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub privileged: bool,
}

/// `KEY=V` entries of `extra` replace those of `base` with the same key.
fn merge_env(base: &[String], extra: Vec<String>) -> Vec<String> {
    let key = |e: &String| e.split('=').next().unwrap_or_default().to_string();
    let mut env: Vec<String> = base
        .iter()
        .filter(|b| !extra.iter().any(|x| key(x) == key(b)))
        .cloned()
        .collect();
    env.extend(extra);
    env
}

/// Every capability this process may still hand on: its bounding set
/// (on some hosts even root lacks a few, e.g. CAP_SYS_RESOURCE).
fn all_capabilities() -> Capabilities {
    caps::read(None, caps::CapSet::Bounding)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|c| serde_json::from_value::<Capability>(serde_json::json!(c.to_string())).ok())
        .collect()
}

/// Runs the exec; returns the process's exit code (0 at once with `detach`).
pub fn exec_container(
    dirs: &StorageDirs,
    name: &str,
    options: &ExecOptions,
) -> Result<i32, EngineError> {
    if options.command.is_empty() {
        return Err(EngineError::Invalid(
            "exec requires a command to run".into(),
        ));
    }
    let extra_env = parse_env_entries(&options.env_files, &options.env)?;
    let store = ContainerStore::new(dirs);
    let record = find_container(&store, name)?;
    let pid = match (record.status(), record.state.pid) {
        (ContainerStatus::Running, Some(pid)) if pid.is_alive() => pid.pid,
        _ => {
            return Err(EngineError::Invalid(format!(
                "can only create exec sessions on running containers: container {} is {}: container state improper",
                record.short_id(),
                record.status().as_str()
            )));
        }
    };
    let cgroup = record.state.cgroup_path.as_deref().and_then(Cgroup::open);
    let plan = LaunchPlan::load(dirs, &record, &store.paths(&record.id))?;
    let mut process: Process = plan.spec.process().clone().unwrap_or_default();
    process.set_args(Some(options.command.clone()));
    // `--secret …,type=env`: as in the container's own process.
    let base = with_secret_env(dirs, &record, process.env().as_deref().unwrap_or_default())?;
    process.set_env(Some(merge_env(&base, extra_env)));
    if let Some(dir) = &options.workdir {
        process.set_cwd(dir.into());
    }
    process.set_terminal(Some(options.tty));
    if let Some(user_spec) = &options.user {
        let root = PathBuf::from(format!("/proc/{pid}/root"));
        let read = |p: &str| std::fs::read_to_string(root.join(p)).ok();
        let user = resolve_user(
            user_spec,
            read("etc/passwd").as_deref(),
            read("etc/group").as_deref(),
        )?;
        let mut spec_user = process.user().clone();
        spec_user.set_uid(user.uid);
        spec_user.set_gid(user.gid);
        spec_user.set_additional_gids(Some(user.additional_gids));
        process.set_user(spec_user);
    }
    if options.privileged {
        let all = all_capabilities();
        let caps = LinuxCapabilitiesBuilder::default()
            .bounding(all.clone())
            .effective(all.clone())
            .permitted(all.clone())
            .inheritable(Capabilities::new())
            .ambient(Capabilities::new())
            .build()
            .map_err(|e| EngineError::Invalid(format!("building capabilities: {e}")))?;
        process.set_capabilities(Some(caps));
    }
    let seccomp = plan.seccomp()?;
    let signals = if options.detach {
        None
    } else {
        Some(SignalGuard::block()?)
    };
    let started = exec_in_container(&ExecRequest {
        container_pid: pid,
        process: &process,
        interactive: options.interactive && !options.detach,
        detach: options.detach,
        winsize: if options.tty { terminal_size() } else { None },
        cgroup: cgroup.as_ref(),
        seccomp: seccomp.as_ref(),
    })?;
    match signals {
        None => Ok(0),
        Some(signals) => Ok(wait_foreground(
            started.pid,
            &signals,
            started.pty_master.as_ref(),
            options.interactive,
            true,
        )?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_env_overrides_by_key() {
        let base = vec!["PATH=/bin".to_string(), "A=1".to_string()];
        let merged = merge_env(&base, vec!["A=2".into(), "B=3".into()]);
        assert_eq!(merged, ["PATH=/bin", "A=2", "B=3"]);
    }

    #[test]
    fn privileged_hands_on_exactly_the_bounding_set() {
        // The spec names each capability its own way; translated back to
        // the kernel's, none may be lost or invented on the way.
        let bounding = caps::read(None, caps::CapSet::Bounding).unwrap();
        let handed_on = crate::sandbox::security::kernel_caps(&Some(all_capabilities()));
        assert_eq!(handed_on, bounding);
    }
}
