//! `skiff run`: create, then start. In the foreground the `skiff` process
//! itself is the container's parent (no monitor, no relay without `-t`:
//! the fast path). Detached, or when something must outlive this process
//! (a restart policy, healthchecks), a monitor is the parent and a
//! foreground run attaches to it.

use std::os::fd::OwnedFd;
use std::time::SystemTime;

use super::attach::{AttachOptions, attach_connected, attach_container};
use super::cleanup::remove_tree;
use super::create::{CreatedContainer, RunRequest, create_container};
use super::launch::{LaunchPlan, launch};
use super::lifecycle::{UNKNOWN_EXIT_CODE, identity_of, start_locked};
use super::{EngineError, cgroup};
use crate::sandbox::cgroups::Cgroup;
use crate::sandbox::foreground::{SignalGuard, terminal_size, wait_foreground};
use crate::state::{
    ContainerPaths, ContainerRecord, ContainerStatus, ContainerStore, ProcessIdentity,
    RestartPolicy, StorageDirs,
};
use crate::timestamp::format_rfc3339_nanos;

/// `run -d`: creates and starts the container under a monitor; returns
/// its ID once the command runs.
pub fn run_detached(dirs: &StorageDirs, req: &RunRequest) -> Result<String, EngineError> {
    let created = create_container(dirs, req)?;
    let store = ContainerStore::new(dirs);
    let lock = store.lock(&created.record.id)?;
    let (record, _) = start_locked(&store, dirs, created.record, lock, false)?;
    Ok(record.id)
}

/// Runs a container in the foreground and returns its exit code.
pub fn run_container(dirs: &StorageDirs, req: &RunRequest) -> Result<i32, EngineError> {
    let created = create_container(dirs, req)?;
    let needs_monitor = created.record.config.restart != RestartPolicy::No
        || created.record.config.healthcheck.is_some();
    if needs_monitor {
        return run_attached(dirs, created);
    }
    run_as_parent(dirs, created)
}

/// A monitor runs the container; this process attaches to it like
/// `start -a`, so restarts and healthchecks go on after it exits.
fn run_attached(dirs: &StorageDirs, created: CreatedContainer) -> Result<i32, EngineError> {
    let store = ContainerStore::new(dirs);
    let lock = store.lock(&created.record.id)?;
    let (record, socket) = start_locked(&store, dirs, created.record, lock, true)?;
    let options = AttachOptions {
        stdin: record.config.interactive,
        sig_proxy: true,
        ..AttachOptions::default()
    };
    match socket {
        Some(socket) => attach_connected(dirs, &record, socket, &options),
        None => attach_container(dirs, &record.id, &options),
    }
}

fn record_running(
    store: &ContainerStore,
    record: &mut ContainerRecord,
    pid: nix::unistd::Pid,
    cgroup: Option<&Cgroup>,
) -> Result<(), EngineError> {
    let _lock = store.lock(&record.id)?;
    let state = &mut record.state;
    state.status = Some(ContainerStatus::Running);
    state.pid = identity_of(pid);
    state.cgroup_path = cgroup.map(Cgroup::path);
    state.monitor = Some(ProcessIdentity::current());
    state.started_at = Some(format_rfc3339_nanos(SystemTime::now()));
    store.save(record)?;
    Ok(())
}

fn record_exit(
    store: &ContainerStore,
    record: &mut ContainerRecord,
    result: &Result<i32, EngineError>,
    oom_killed: bool,
) -> Result<(), EngineError> {
    let _lock = store.lock(&record.id)?;
    // `stop`/`kill` from another terminal may have changed the record.
    if let Ok(current) = store.load(&record.id) {
        *record = current;
    }
    let state = &mut record.state;
    state.status = Some(ContainerStatus::Exited);
    state.pid = None;
    state.monitor = None;
    state.cgroup_path = None;
    state.oom_killed = oom_killed;
    state.finished_at = Some(format_rfc3339_nanos(SystemTime::now()));
    match result {
        Ok(code) => state.exit_code = Some(*code),
        Err(e) => {
            state.exit_code = Some(match e.exit_code() {
                125 => UNKNOWN_EXIT_CODE,
                code => code,
            });
            state.error = Some(e.to_string());
        }
    }
    store.save(record)?;
    Ok(())
}

fn remove_all(
    store: &ContainerStore,
    record: &ContainerRecord,
    paths: &ContainerPaths,
    userns: Option<&OwnedFd>,
) -> Result<(), EngineError> {
    let _lock = store.lock(&record.id)?;
    store.forget(record);
    remove_tree(&paths.dir, userns)
}

/// The fast path: this process is the container's parent.
fn run_as_parent(dirs: &StorageDirs, created: CreatedContainer) -> Result<i32, EngineError> {
    let store = ContainerStore::new(dirs);
    let CreatedContainer {
        mut record,
        paths,
        spec,
        layer_dirs,
    } = created;
    let plan = LaunchPlan::new(&paths, spec, layer_dirs);
    let mut user_namespace: Option<OwnedFd> = None;
    let mut cgroup = None;
    let result = (|| {
        let winsize = if record.config.tty {
            terminal_size()
        } else {
            None
        };
        let signals = SignalGuard::block()?;
        let (started, started_cgroup) = launch(&plan, &record, &paths, winsize)?;
        user_namespace = started.user_namespace;
        cgroup = started_cgroup;
        record_running(&store, &mut record, started.pid, cgroup.as_ref())?;
        wait_foreground(
            started.pid,
            &signals,
            started.pty_master.as_ref(),
            record.config.interactive,
        )
        .map_err(EngineError::from)
    })();

    let oom_killed = cgroup::release(cgroup.as_ref());
    let _ = remove_tree(&paths.run_dir, user_namespace.as_ref());
    if record.config.auto_remove {
        remove_all(&store, &record, &paths, user_namespace.as_ref())?;
    } else {
        record_exit(&store, &mut record, &result, oom_killed)?;
    }
    result
}
