//! `skiff pause` and `unpause`: the cgroup freezer stops and resumes every
//! process of the container at once.

use super::EngineError;
use super::cgroup::missing_cgroup_reason;
use super::lookup::refresh;
use crate::sandbox::cgroups::Cgroup;
use crate::state::{ContainerRecord, ContainerStatus, ContainerStore, StorageDirs};

/// The container's cgroup, or a one-line reason naming the verb.
fn cgroup_of(record: &ContainerRecord, verb: &str) -> Result<Cgroup, EngineError> {
    record
        .state
        .cgroup_path
        .as_deref()
        .and_then(Cgroup::open)
        .ok_or_else(|| {
            EngineError::Invalid(format!(
                "cannot {verb} container {}: {verb} needs the container's cgroup freezer, and it has no cgroup of its own: {}",
                record.short_id(),
                missing_cgroup_reason(record)
            ))
        })
}

/// Freezes (`pause`) or thaws (`unpause`) one container; returns its ID.
pub fn set_paused(dirs: &StorageDirs, name: &str, paused: bool) -> Result<String, EngineError> {
    let verb = if paused { "pause" } else { "unpause" };
    let store = ContainerStore::new(dirs);
    let id = store.lookup(name)?;
    refresh(&store, &id)?;
    let _lock = store.lock(&id)?;
    let mut record = store.load(&id)?;
    let (from, to) = if paused {
        (ContainerStatus::Running, ContainerStatus::Paused)
    } else {
        (ContainerStatus::Paused, ContainerStatus::Running)
    };
    if record.status() != from {
        let why = match (paused, record.status()) {
            (true, ContainerStatus::Paused) => "it is already paused",
            (false, ContainerStatus::Running) => "it is not paused",
            _ => "it is not running",
        };
        return Err(EngineError::Invalid(format!(
            "cannot {verb} container {}: {why}: container state improper",
            record.short_id()
        )));
    }
    let cgroup = cgroup_of(&record, verb)?;
    cgroup
        .set_frozen(paused)
        .map_err(|e| EngineError::Invalid(format!("{verb} {}: {e}", record.short_id())))?;
    record.state.status = Some(to);
    store.save(&record)?;
    Ok(record.id)
}
