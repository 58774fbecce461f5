//! Container lifecycle verbs on records: start, stop, kill, restart, rm,
//! wait, rename, prune. Every state change happens under the container's
//! lock; every wait has a deadline or ends when a process ends.

use std::time::{Duration, Instant};

use super::EngineError;
use super::cgroup::thaw_for_signal;
use super::cleanup::remove_tree;
use super::lookup::{UNKNOWN_EXIT_CODE, find_container, list_containers, refresh, wait_for_record};
use super::monitor::{StartReport, spawn_monitor};
use super::namespace_joins::dependents_of;
use super::report::Reporter;
use super::selection::Target;
use super::signals::parse_signal;
use super::teardown::retire_container;
use super::volumes::{remove_anonymous_volumes, remove_unused_volume, volume_users};
use crate::state::{
    ContainerLock, ContainerRecord, ContainerStatus, ContainerStore, RunExit, StateError,
    StorageDirs,
};

/// How long `stop` waits after SIGKILL before giving up.
const KILL_GRACE: Duration = Duration::from_secs(10);

fn send_signal(record: &ContainerRecord, signal: i32) -> Result<(), EngineError> {
    let Some(pid) = record.state.pid.filter(|p| p.is_alive()) else {
        return Err(EngineError::Invalid(format!(
            "can only kill running containers. {} is in state {}: container state improper",
            record.short_id(),
            record.status().as_str()
        )));
    };
    // SAFETY: kill(2) with a number parse_signal checked; no memory involved.
    if unsafe { libc::kill(pid.pid, signal) } < 0 {
        return Err(EngineError::sys("sending the signal")(nix::Error::last()));
    }
    Ok(())
}

/// Starts a created or exited container under a new monitor. Returns
/// the record as running. Starting a running container does nothing.
pub fn start_container(
    dirs: &StorageDirs,
    name: &str,
    reporter: &dyn Reporter,
) -> Result<ContainerRecord, EngineError> {
    start_container_with(dirs, name, false, reporter).map(|(record, _)| record)
}

/// Like `start_container`; with `attach`, also returns a connection to the
/// container's attach socket made before its command started (`None` if
/// it was already running).
pub fn start_container_with(
    dirs: &StorageDirs,
    name: &str,
    attach: bool,
    reporter: &dyn Reporter,
) -> Result<(ContainerRecord, Option<std::os::fd::OwnedFd>), EngineError> {
    let store = ContainerStore::new(dirs);
    let id = store.lookup(name)?;
    refresh(&store, &id)?;
    let lock = store.lock(&id)?;
    let mut record = store.load(&id)?;
    if record.status().is_active() {
        return Ok((record, None));
    }
    record.state.stopped_by_user = false;
    record.state.restart_count = 0;
    store.save(&record)?;
    start_locked(&store, dirs, record, lock, attach, reporter)
}

/// Spawns the monitor while `lock` is held and records a failed start.
pub(super) fn start_locked(
    store: &ContainerStore,
    dirs: &StorageDirs,
    record: ContainerRecord,
    lock: ContainerLock,
    attach: bool,
    reporter: &dyn Reporter,
) -> Result<(ContainerRecord, Option<std::os::fd::OwnedFd>), EngineError> {
    match spawn_monitor(dirs, &record.id, attach)? {
        (StartReport::Started { warnings, .. }, socket) => {
            drop(lock);
            warnings.iter().for_each(|w| reporter.warning(w));
            Ok((store.load(&record.id)?, socket))
        }
        (StartReport::Listening, _) => unreachable!("spawn_monitor consumes Listening"),
        (StartReport::Failed { exit_code, error }, _) => {
            let mut record = store.load(&record.id)?;
            let paths = store.paths(&record.id);
            let exit = RunExit {
                code: exit_code,
                error: Some(error.clone()),
                oom_killed: false,
            };
            let retired = retire_container(store, &mut record, &paths, exit, None);
            drop(lock);
            // The start failure is what the user must hear about; a `--rm`
            // container's files that would not go are only a leftover.
            if !record.config.auto_remove {
                retired?;
            }
            Err(EngineError::StartFailed { exit_code, error })
        }
    }
}

/// What `stop` had to do.
pub enum StopOutcome {
    /// The container was not running.
    NotRunning,
    /// It exited on the stop signal.
    Stopped,
    /// It ignored the stop signal for `timeout` seconds and was killed.
    Killed { signal: String, timeout: u32 },
}

/// `skiff stop`: the stop signal, up to `timeout` seconds, then SIGKILL.
pub fn stop_container(
    dirs: &StorageDirs,
    name: &str,
    timeout: Option<u32>,
) -> Result<StopOutcome, EngineError> {
    let store = ContainerStore::new(dirs);
    let id = store.lookup(name)?;
    refresh(&store, &id)?;
    let record = {
        let _lock = store.lock(&id)?;
        let mut record = store.load(&id)?;
        record.state.stopped_by_user = true;
        if !record.status().is_active() {
            store.save(&record)?;
            return Ok(StopOutcome::NotRunning);
        }
        let signal = parse_signal(&record.config.stop_signal)?;
        let _ = send_signal(&record, signal);
        // A paused container gets to handle the stop signal, as docker's.
        thaw_for_signal(&record);
        record.state.status = Some(ContainerStatus::Stopping);
        store.save(&record)?;
        record
    };
    let timeout = timeout.unwrap_or(record.config.stop_timeout);
    let exited = |r: &ContainerRecord| !r.status().is_active();
    let deadline = Instant::now() + Duration::from_secs(timeout.into());
    match wait_for_record(&store, &id, Some(deadline), exited) {
        Ok(_) => return Ok(StopOutcome::Stopped),
        Err(EngineError::Timeout) => {}
        Err(e) => return Err(e),
    }
    let _ = send_signal(&record, libc::SIGKILL);
    wait_for_record(&store, &id, Some(Instant::now() + KILL_GRACE), exited)?;
    Ok(StopOutcome::Killed {
        signal: record.config.stop_signal.clone(),
        timeout,
    })
}

/// `skiff kill -s SIGNAL`.
pub fn kill_container(dirs: &StorageDirs, name: &str, signal: &str) -> Result<String, EngineError> {
    let number = parse_signal(signal)?;
    let store = ContainerStore::new(dirs);
    let id = store.lookup(name)?;
    refresh(&store, &id)?;
    let _lock = store.lock(&id)?;
    let mut record = store.load(&id)?;
    send_signal(&record, number)?;
    // docker thaws a paused container for SIGKILL only; other signals wait.
    if number == libc::SIGKILL && thaw_for_signal(&record) {
        record.state.status = Some(ContainerStatus::Running);
        store.save(&record)?;
    }
    if matches!(number, libc::SIGKILL | libc::SIGTERM | libc::SIGINT) {
        record.state.stopped_by_user = true;
        store.save(&record)?;
    }
    Ok(record.id)
}

/// `skiff restart`: stop (if running), then start.
pub fn restart_container(
    dirs: &StorageDirs,
    name: &str,
    timeout: Option<u32>,
    reporter: &dyn Reporter,
) -> Result<ContainerRecord, EngineError> {
    stop_container(dirs, name, timeout)?;
    let store = ContainerStore::new(dirs);
    let id = store.lookup(name)?;
    // The old monitor may still be cleaning up; start once it let go.
    wait_for_record(&store, &id, Some(Instant::now() + KILL_GRACE), |r| {
        r.state.monitor.is_none_or(|m| !m.is_alive())
    })?;
    start_container(dirs, &id, reporter)
}

/// `skiff wait`: blocks until the container is in one of `conditions`
/// (default: stopped) and returns its exit code.
pub fn wait_container(
    dirs: &StorageDirs,
    name: &str,
    conditions: &[String],
) -> Result<i32, EngineError> {
    let store = ContainerStore::new(dirs);
    let id = store.lookup(name)?;
    let mut wanted = Vec::new();
    for c in conditions {
        wanted.push(match c.as_str() {
            "stopped" | "exited" => ContainerStatus::Exited,
            "running" => ContainerStatus::Running,
            "created" | "configured" => ContainerStatus::Created,
            "paused" => ContainerStatus::Paused,
            "stopping" => ContainerStatus::Stopping,
            other => {
                return Err(EngineError::Invalid(format!(
                    "invalid condition \"{other}\": use created, running, paused, stopping or stopped"
                )));
            }
        });
    }
    if wanted.is_empty() {
        wanted.push(ContainerStatus::Exited);
    }
    // A created container counts as stopped only once it ran and exited.
    let record = wait_for_record(&store, &id, None, |r| wanted.contains(&r.status()))?;
    Ok(record
        .and_then(|r| r.state.exit_code)
        .unwrap_or(UNKNOWN_EXIT_CODE))
}

/// How `rm` treats the containers it was given.
#[derive(Debug, Clone, Copy, Default)]
pub struct RemoveOptions {
    /// Stop a running or paused container first (`-f`); a container that
    /// does not exist is then no error either (podman's `rm -f`).
    pub force: bool,
    /// With `force`: the stop signal, this many seconds, then SIGKILL
    /// (`-t`). Without it `-f` sends SIGKILL at once, as docker's does.
    pub timeout: Option<u32>,
    /// A container that does not exist is no error (`-i`).
    pub ignore: bool,
    /// Also remove the containers that depend on each one (`--depend`):
    /// those that entered its namespaces (`--pid container:X`, …), before
    /// it. Without it such a container is not removed.
    pub depend: bool,
    /// Also remove the container's anonymous volumes that no other
    /// container (`--volumes-from`) mounts (`-v`).
    pub volumes: bool,
}

impl RemoveOptions {
    /// podman's one rule between these flags.
    pub fn validate(&self) -> Result<(), EngineError> {
        if self.timeout.is_some() && !self.force {
            return Err(EngineError::Invalid(
                "--force option must be specified to use the --time option".into(),
            ));
        }
        Ok(())
    }
}

/// `skiff rm` of one selected container: stops it first when asked,
/// removes it, and removes the cidfile its ID was read from. Returns what
/// to print: the name as given, or `None` when it did not exist and
/// `ignore` or `force` says that is fine.
pub fn remove_target(
    dirs: &StorageDirs,
    target: &Target,
    options: &RemoveOptions,
    reporter: &dyn Reporter,
) -> Result<Option<String>, EngineError> {
    // The record says which anonymous volumes are the container's.
    let record = if options.volumes {
        find_container(&ContainerStore::new(dirs), &target.name).ok()
    } else {
        None
    };
    let dependents = match remove_dependents(dirs, &target.name, options) {
        Err(EngineError::State(StateError::NoSuchContainer { .. })) => Vec::new(),
        other => other?,
    };
    let removed = match (options.force, options.timeout) {
        (true, Some(timeout)) => stop_then_remove(dirs, &target.name, timeout, reporter),
        _ => remove_container(dirs, &target.name, options.force),
    };
    match removed {
        Ok(_) => {}
        Err(EngineError::State(StateError::NoSuchContainer { .. }))
            if options.ignore || options.force =>
        {
            return Ok(None);
        }
        Err(e) => return Err(e),
    }
    if let Some(record) = &record {
        remove_anonymous_volumes(dirs, record)?;
    }
    if let Some(path) = &target.cidfile {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(EngineError::io(format!("removing {}", path.display()))(e));
            }
            _ => {}
        }
    }
    let mut lines = dependents;
    lines.push(target.name.clone());
    Ok(Some(lines.join("\n")))
}

/// The containers that entered namespaces of container `name` are
/// refused (podman's words), or with `--depend` removed first, their own
/// dependents before them. Returns the IDs removed.
fn remove_dependents(
    dirs: &StorageDirs,
    name: &str,
    options: &RemoveOptions,
) -> Result<Vec<String>, EngineError> {
    let id = ContainerStore::new(dirs).lookup(name)?;
    let dependents = dependents_of(dirs, &id)?;
    if dependents.is_empty() {
        return Ok(Vec::new());
    }
    if !options.depend {
        return Err(EngineError::HasDependents {
            id,
            dependents: dependents.into_iter().map(|r| r.id).collect(),
        });
    }
    let mut removed = Vec::new();
    for dependent in dependents {
        removed.extend(remove_dependents(dirs, &dependent.id, options)?);
        removed.push(remove_container(dirs, &dependent.id, options.force)?);
    }
    Ok(removed)
}

/// `rm -f -t N`: a graceful stop with N seconds' grace, then removal.
fn stop_then_remove(
    dirs: &StorageDirs,
    name: &str,
    timeout: u32,
    reporter: &dyn Reporter,
) -> Result<String, EngineError> {
    if let StopOutcome::Killed { signal, timeout } = stop_container(dirs, name, Some(timeout))?
        && timeout > 0
    {
        reporter.warning(&format!(
            "StopSignal {signal} failed to stop container {name} in {timeout} seconds, resorting to SIGKILL"
        ));
    }
    let store = ContainerStore::new(dirs);
    let id = store.lookup(name)?;
    // The monitor may still be cleaning up after the exit.
    wait_for_record(&store, &id, Some(Instant::now() + KILL_GRACE), |r| {
        r.state.monitor.is_none_or(|m| !m.is_alive())
    })?;
    remove_container(dirs, &id, true)
}

/// `skiff rm`: removes a stopped container (`force` stops it first).
/// Refused while other containers entered its namespaces, whichever verb
/// asks (`rm`, `container prune`, `rmi -f`, `volume rm -f`, `network rm
/// -f`): their next start would find nothing to join.
pub fn remove_container(
    dirs: &StorageDirs,
    name: &str,
    force: bool,
) -> Result<String, EngineError> {
    let store = ContainerStore::new(dirs);
    let id = store.lookup(name)?;
    let dependents = dependents_of(dirs, &id)?;
    if !dependents.is_empty() {
        return Err(EngineError::HasDependents {
            id,
            dependents: dependents.into_iter().map(|r| r.id).collect(),
        });
    }
    let record = refresh(&store, &id)?;
    if record.status().is_active() {
        if !force {
            return Err(EngineError::ContainerRunning(format!(
                "cannot remove container {} as it is {} - running or paused containers cannot be removed without force: container state improper",
                record.id,
                record.status().as_str()
            )));
        }
        {
            let _lock = store.lock(&id)?;
            let mut r = store.load(&id)?;
            r.state.stopped_by_user = true;
            let _ = send_signal(&r, libc::SIGKILL);
            if thaw_for_signal(&r) {
                r.state.status = Some(ContainerStatus::Running);
            }
            store.save(&r)?;
        }
        wait_for_record(&store, &id, Some(Instant::now() + KILL_GRACE), |r| {
            !r.status().is_active() && r.state.monitor.is_none_or(|m| !m.is_alive())
        })?;
    }
    let _lock = store.lock(&id)?;
    let record = store.load(&id)?;
    let paths = store.paths(&id);
    store.forget(&record);
    let _ = remove_tree(&paths.run_dir, None);
    remove_tree(&paths.dir, None)?;
    Ok(record.id)
}

/// `skiff volume rm [-f]`: with `force`, the containers that use the
/// volume are removed first (podman's `-f`). They are removed without the
/// volumes lock held: a `--rm` container's own clean-up takes it.
pub fn remove_volume(dirs: &StorageDirs, name: &str, force: bool) -> Result<(), EngineError> {
    if force {
        for id in volume_users(dirs, name)? {
            remove_container(dirs, &id, true)?;
        }
    }
    remove_unused_volume(dirs, name)
}

/// `skiff rename`.
pub fn rename_container(dirs: &StorageDirs, name: &str, new_name: &str) -> Result<(), EngineError> {
    let store = ContainerStore::new(dirs);
    let id = store.lookup(name)?;
    let _lock = store.lock(&id)?;
    let mut record = store.load(&id)?;
    store.rename(&mut record, new_name)?;
    Ok(())
}

/// `skiff container prune`: removes every stopped container; returns
/// their IDs. A stopped container that others joined stays while they
/// exist; when they are stopped too, they go first (another pass).
pub fn prune_containers(dirs: &StorageDirs) -> Result<Vec<String>, EngineError> {
    let mut removed = Vec::new();
    loop {
        let before = removed.len();
        let mut kept_for_dependents = false;
        for record in list_containers(dirs)? {
            if record.status().is_active() {
                continue;
            }
            match remove_container(dirs, &record.id, false) {
                Ok(id) => removed.push(id),
                Err(EngineError::HasDependents { .. }) => kept_for_dependents = true,
                // Started or removed by someone else meanwhile.
                Err(EngineError::ContainerRunning(_)) | Err(EngineError::State(_)) => {}
                Err(e) => return Err(e),
            }
        }
        if !kept_for_dependents || removed.len() == before {
            return Ok(removed);
        }
    }
}
