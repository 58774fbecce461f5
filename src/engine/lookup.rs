//! Finding containers and seeing them as they really are: a leaf that the
//! verbs share. `refresh` notices a container whose monitor died (SIGKILL,
//! reboot) and ends its run; every lookup goes through it, so no command
//! acts on a record that claims a process nobody waits for.

use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::EngineError;
use super::teardown::{RunResources, retire_container, teardown_run};
use crate::state::{ContainerRecord, ContainerStore, ProcessIdentity, RunExit, StorageDirs};

/// How often a waiting command looks at the record again. The monitor
/// writes it right after the container exits, so this bounds the delay.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Exit code recorded when the process that would have seen the real one
/// (monitor or foreground skiff) died first.
pub const UNKNOWN_EXIT_CODE: i32 = -1;

/// Notices a container whose monitor died (SIGKILL, reboot): marks it
/// exited with an unknown code, ends any process it left, releases what
/// its run held and removes its per-run files. Returns the record as it
/// now stands.
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
    // Removing the cgroup kills whatever is left in it (thawing a paused
    // one).
    let teardown = teardown_run(RunResources::recorded(store.dirs(), &record));
    let exit = RunExit {
        code: UNKNOWN_EXIT_CODE,
        error: Some("the container's monitor ended before the container; exit code unknown".into()),
        oom_killed: teardown.oom_killed,
    };
    retire_container(store, &mut record, &store.paths(id), exit, None)?;
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
/// first: what `stats` acts on (the verbs choose through `selection`).
pub fn active_container_ids(dirs: &StorageDirs) -> Result<Vec<String>, EngineError> {
    Ok(list_containers(dirs)?
        .into_iter()
        .filter(|r| r.status().is_active())
        .map(|r| r.id)
        .collect())
}

/// Waits until `done` holds for the container's record (or the record is
/// gone, which also counts as done), or the deadline passes.
pub(super) fn wait_for_record(
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

/// The identity recorded for a process started just now.
pub(super) fn identity_of(pid: Pid) -> Option<ProcessIdentity> {
    ProcessIdentity::of(pid.as_raw())
}
