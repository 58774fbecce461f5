//! `skiff run`: create, then start. In the foreground the `skiff` process
//! itself is the container's parent (no monitor, no relay without `-t`:
//! the fast path). Detached, or when something must outlive this process
//! (a restart policy, healthchecks), a monitor is the parent and a
//! foreground run attaches to it.

use std::os::fd::OwnedFd;
use std::time::SystemTime;

use super::EngineError;
use super::attach::{AttachOptions, attach_connected, attach_container};
use super::create::{CreatedContainer, create_container};
use super::launch::{LaunchPlan, launch};
use super::lifecycle::start_locked;
use super::lookup::{UNKNOWN_EXIT_CODE, identity_of};
use super::options::ContainerOptions;
use super::report::Reporter;
use super::teardown::{RunResources, retire_container, teardown_run};
use crate::sandbox::SandboxError;
use crate::sandbox::foreground::{SignalGuard, terminal_size, wait_foreground};
use crate::state::{
    ContainerRecord, ContainerStatus, ContainerStore, ProcessIdentity, RestartPolicy, RunExit,
    StorageDirs,
};
use crate::timestamp::format_rfc3339_nanos;

/// `run -d`: creates and starts the container under a monitor; returns
/// its ID once the command runs.
pub fn run_detached(
    dirs: &StorageDirs,
    options: &ContainerOptions,
    reporter: &dyn Reporter,
) -> Result<String, EngineError> {
    let created = create_container(dirs, options, reporter)?;
    let store = ContainerStore::new(dirs);
    let lock = store.lock(&created.record.id)?;
    let (record, _) = start_locked(&store, dirs, created.record, lock, false, reporter)?;
    Ok(record.id)
}

/// Runs a container in the foreground and returns its exit code.
/// `sig_proxy`: forward the signals this process gets to the container;
/// off, they end this process (and, without a monitor, the container).
pub fn run_container(
    dirs: &StorageDirs,
    options: &ContainerOptions,
    sig_proxy: bool,
    reporter: &dyn Reporter,
) -> Result<i32, EngineError> {
    let created = create_container(dirs, options, reporter)?;
    let needs_monitor = created.record.config.restart != RestartPolicy::No
        || created.record.config.healthcheck.is_some();
    if needs_monitor {
        return run_attached(dirs, created, sig_proxy, reporter);
    }
    run_as_parent(dirs, created, sig_proxy, reporter)
}

/// A monitor runs the container; this process attaches to it like
/// `start -a`, so restarts and healthchecks go on after it exits.
fn run_attached(
    dirs: &StorageDirs,
    created: CreatedContainer,
    sig_proxy: bool,
    reporter: &dyn Reporter,
) -> Result<i32, EngineError> {
    let store = ContainerStore::new(dirs);
    let lock = store.lock(&created.record.id)?;
    let (record, socket) = start_locked(&store, dirs, created.record, lock, true, reporter)?;
    let options = AttachOptions {
        stdin: record.config.interactive,
        sig_proxy,
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
    resources: &RunResources,
) -> Result<(), EngineError> {
    let _lock = store.lock(&record.id)?;
    let state = &mut record.state;
    state.status = Some(ContainerStatus::Running);
    state.pid = identity_of(pid);
    resources.record_into(state);
    state.monitor = Some(ProcessIdentity::current());
    state.started_at = Some(format_rfc3339_nanos(SystemTime::now()));
    store.save(record)?;
    Ok(())
}

/// The fast path: this process is the container's parent.
fn run_as_parent(
    dirs: &StorageDirs,
    created: CreatedContainer,
    sig_proxy: bool,
    reporter: &dyn Reporter,
) -> Result<i32, EngineError> {
    let store = ContainerStore::new(dirs);
    let CreatedContainer {
        mut record,
        paths,
        spec,
        layer_dirs,
    } = created;
    let plan = LaunchPlan::new(dirs, &paths, spec, layer_dirs);
    let mut user_namespace: Option<OwnedFd> = None;
    let mut resources = RunResources::default();
    let result = (|| {
        let winsize = if record.config.tty {
            terminal_size()
        } else {
            None
        };
        let signals = SignalGuard::block()?;
        let (started, run_resources) = launch(dirs, &plan, &record, &paths, winsize)?;
        started.warnings.iter().for_each(|w| reporter.warning(w));
        user_namespace = started.user_namespace;
        resources = run_resources;
        record_running(&store, &mut record, started.pid, &resources)?;
        wait_foreground(
            started.pid,
            &signals,
            started.pty_master.as_ref(),
            record.config.interactive,
            sig_proxy,
        )
        .map_err(EngineError::from)
    })();

    let teardown = teardown_run(resources);
    let exit = match &result {
        Ok(code) => RunExit {
            code: *code,
            error: None,
            oom_killed: teardown.oom_killed,
        },
        // The client ended and the container with it: record how.
        Err(EngineError::Sandbox(SandboxError::Interrupted {
            container_exit: Some(code),
            ..
        })) => RunExit {
            code: *code,
            error: None,
            oom_killed: teardown.oom_killed,
        },
        Err(e) => RunExit {
            code: match e.exit_code() {
                125 => UNKNOWN_EXIT_CODE,
                code => code,
            },
            error: Some(e.to_string()),
            oom_killed: teardown.oom_killed,
        },
    };
    {
        let _lock = store.lock(&record.id)?;
        // `stop`/`kill` from another terminal may have changed the record.
        if let Ok(current) = store.load(&record.id) {
            record = current;
        }
        retire_container(&store, &mut record, &paths, exit, user_namespace.as_ref())?;
    }
    result
}
