//! Container lifecycle verbs on records: start, stop, kill, restart, rm,
//! wait, rename, prune. Every state change happens under the container's
//! lock; every wait has a deadline or ends when a process ends.

use std::time::{Duration, Instant, SystemTime};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::EngineError;
use super::cleanup::remove_tree;
use super::monitor::{StartReport, spawn_monitor};
use super::pause::thaw_for_signal;
use super::signals::parse_signal;
use crate::sandbox::cgroups::Cgroup;
use crate::state::{
    ContainerLock, ContainerRecord, ContainerStatus, ContainerStore, ProcessIdentity, StorageDirs,
};
use crate::timestamp::format_rfc3339_nanos;

/// How often a waiting command looks at the record again. The monitor
/// writes it right after the container exits, so this bounds the delay.
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// How long `stop` waits after SIGKILL before giving up.
const KILL_GRACE: Duration = Duration::from_secs(10);

/// Exit code recorded when the process that would have seen the real one
/// (monitor or foreground skiff) died first.
pub const UNKNOWN_EXIT_CODE: i32 = -1;

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

/// Notices a container whose monitor died (SIGKILL, reboot): marks it
/// exited with an unknown code, ends any process it left, removes its
/// per-run files. Returns the record as it now stands.
pub fn refresh(store: &ContainerStore, id: &str) -> Result<ContainerRecord, EngineError> {
    let record = store.load(id)?;
    if !is_orphaned(&record) {
        return Ok(record);
    }
    let _lock = store.lock(id)?;
    let mut record = store.load(id)?;
    if !is_orphaned(&record) {
        return Ok(record);
    }
    if let Some(pid) = record.state.pid.filter(|p| p.is_alive()) {
        let _ = kill(Pid::from_raw(pid.pid), Signal::SIGKILL);
    }
    // Kills whatever is left in it (thawing a paused one) and removes it.
    if let Some(cgroup) = record.state.cgroup_path.as_deref().and_then(Cgroup::open) {
        let _ = cgroup.remove();
    }
    let state = &mut record.state;
    state.status = Some(ContainerStatus::Exited);
    state.pid = None;
    state.monitor = None;
    state.cgroup_path = None;
    state.exit_code = Some(UNKNOWN_EXIT_CODE);
    state.finished_at = Some(format_rfc3339_nanos(SystemTime::now()));
    state.error =
        Some("the container's monitor ended before the container; exit code unknown".into());
    let paths = store.paths(id);
    let _ = remove_tree(&paths.run_dir, None);
    if record.config.auto_remove {
        store.forget(&record);
        remove_tree(&paths.dir, None)?;
    } else {
        store.save(&record)?;
    }
    Ok(record)
}

fn is_orphaned(record: &ContainerRecord) -> bool {
    record.status().is_active() && !record.state.monitor.is_some_and(|m| m.is_alive())
}

/// Finds and refreshes one container.
pub fn find_container(store: &ContainerStore, name: &str) -> Result<ContainerRecord, EngineError> {
    let id = store.lookup(name)?;
    refresh(store, &id)
}

/// Every container, refreshed, newest first.
pub fn list_containers(dirs: &StorageDirs) -> Result<Vec<ContainerRecord>, EngineError> {
    let store = ContainerStore::new(dirs);
    let mut records: Vec<ContainerRecord> = store
        .list_ids()
        .iter()
        .filter_map(|id| refresh(&store, id).ok())
        // `refresh` removes orphaned `--rm` containers.
        .filter(|r| store.paths(&r.id).dir.join("state.json").exists())
        .collect();
    records.sort_by(|a, b| b.created.cmp(&a.created));
    Ok(records)
}

/// IDs of the containers that run (or are paused or stopping), newest
/// first: what `stop -a`, `kill -a` and `stats` act on.
pub fn active_container_ids(dirs: &StorageDirs) -> Result<Vec<String>, EngineError> {
    Ok(list_containers(dirs)?
        .into_iter()
        .filter(|r| r.status().is_active())
        .map(|r| r.id)
        .collect())
}

/// Starts a created or exited container under a new monitor. Returns
/// the record as running. Starting a running container does nothing.
pub fn start_container(dirs: &StorageDirs, name: &str) -> Result<ContainerRecord, EngineError> {
    start_container_with(dirs, name, false).map(|(record, _)| record)
}

/// Like `start_container`; with `attach`, also returns a connection to the
/// container's attach socket made before its command started (`None` if
/// it was already running).
pub fn start_container_with(
    dirs: &StorageDirs,
    name: &str,
    attach: bool,
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
    start_locked(&store, dirs, record, lock, attach)
}

/// Spawns the monitor while `lock` is held and records a failed start.
pub(super) fn start_locked(
    store: &ContainerStore,
    dirs: &StorageDirs,
    record: ContainerRecord,
    lock: ContainerLock,
    attach: bool,
) -> Result<(ContainerRecord, Option<std::os::fd::OwnedFd>), EngineError> {
    match spawn_monitor(dirs, &record.id, attach)? {
        (StartReport::Started { .. }, socket) => {
            drop(lock);
            Ok((store.load(&record.id)?, socket))
        }
        (StartReport::Listening, _) => unreachable!("spawn_monitor consumes Listening"),
        (StartReport::Failed { exit_code, error }, _) => {
            let mut record = store.load(&record.id)?;
            record.state.status = Some(ContainerStatus::Exited);
            record.state.exit_code = Some(exit_code);
            record.state.error = Some(error.clone());
            record.state.finished_at = Some(format_rfc3339_nanos(SystemTime::now()));
            let paths = store.paths(&record.id);
            if record.config.auto_remove {
                store.forget(&record);
                let _ = remove_tree(&paths.dir, None);
            } else {
                store.save(&record)?;
            }
            drop(lock);
            Err(EngineError::StartFailed { exit_code, error })
        }
    }
}

/// Waits until `done` holds for the container's record (or the record is
/// gone, which also counts as done), or the deadline passes.
fn wait_for_record(
    store: &ContainerStore,
    id: &str,
    deadline: Option<Instant>,
    done: impl Fn(&ContainerRecord) -> bool,
) -> Result<Option<ContainerRecord>, EngineError> {
    loop {
        match refresh(store, id) {
            Ok(record) if done(&record) => return Ok(Some(record)),
            Ok(_) => {}
            Err(EngineError::State(crate::state::StateError::NoSuchContainer { .. })) => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(EngineError::Timeout);
        }
        std::thread::sleep(POLL_INTERVAL);
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
) -> Result<ContainerRecord, EngineError> {
    stop_container(dirs, name, timeout)?;
    let store = ContainerStore::new(dirs);
    let id = store.lookup(name)?;
    // The old monitor may still be cleaning up; start once it let go.
    wait_for_record(&store, &id, Some(Instant::now() + KILL_GRACE), |r| {
        r.state.monitor.is_none_or(|m| !m.is_alive())
    })?;
    start_container(dirs, &id)
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

/// `skiff rm`: removes a stopped container (`force` stops it first).
pub fn remove_container(
    dirs: &StorageDirs,
    name: &str,
    force: bool,
) -> Result<String, EngineError> {
    let store = ContainerStore::new(dirs);
    let id = store.lookup(name)?;
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
/// their IDs.
pub fn prune_containers(dirs: &StorageDirs) -> Result<Vec<String>, EngineError> {
    let mut removed = Vec::new();
    for record in list_containers(dirs)? {
        if record.status().is_active() {
            continue;
        }
        match remove_container(dirs, &record.id, false) {
            Ok(id) => removed.push(id),
            // Started or removed by someone else meanwhile.
            Err(EngineError::ContainerRunning(_)) | Err(EngineError::State(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(removed)
}

/// The identity recorded for a process started just now.
pub(super) fn identity_of(pid: Pid) -> Option<ProcessIdentity> {
    ProcessIdentity::of(pid.as_raw())
}
