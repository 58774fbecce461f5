//! `--pid/--ipc/--uts/--userns/--network container:NAME`: at create, the
//! other containers are found (they must be running), named by ID in the
//! plan and the record; at each start their current PIDs are put into
//! the spec's namespace paths; `rm` asks here who depends on a container.

use std::collections::HashMap;

use oci_spec::runtime::Spec;

use super::EngineError;
use super::lookup::{find_container, list_containers, refresh};
use super::options::ContainerOptions;
use crate::net::NetworkMode;
use crate::sandbox::joined_namespaces::{
    JoinKind, JoinedNamespace, recorded_joins, with_current_pids,
};
use crate::state::{ContainerPaths, ContainerRecord, ContainerStore, StorageDirs};

/// What create takes from the containers a new one joins.
#[derive(Debug, Default)]
pub struct JoinPlan {
    pub joined: Vec<JoinedNamespace>,
    /// The other container's hostname, when its UTS or network namespace
    /// is entered: the new one answers to the same name.
    pub hostname: Option<String>,
    /// The paths of the container whose network namespace is entered:
    /// its /etc/hosts, /etc/resolv.conf and /etc/hostname are shared.
    pub network_paths: Option<ContainerPaths>,
    /// `--network` with the other container named by ID.
    pub network: NetworkMode,
    /// The IDs of every container joined.
    pub depends_on: Vec<String>,
}

fn pid_of_running(record: &ContainerRecord, kind: JoinKind) -> Result<i32, EngineError> {
    match (&record.state.pid, record.status().is_active()) {
        (Some(pid), true) => Ok(pid.pid),
        _ => Err(EngineError::Invalid(format!(
            "cannot join the {} namespace of container {}: it is not running",
            kind.proc_name(),
            record.name
        ))),
    }
}

/// Finds the containers `options` joins; each must exist and run.
/// Rootless, the namespaces of a container belong to its user namespace,
/// which the new one must enter too: so all joins must name one
/// container, and its user namespace is joined with them.
pub fn plan_joins(
    dirs: &StorageDirs,
    options: &ContainerOptions,
    rootless: bool,
) -> Result<JoinPlan, EngineError> {
    let mut asked = options.settings.joins.clone();
    if let Some(name) = options.network.container() {
        asked.push((JoinKind::Net, name.to_string()));
    }
    let mut plan = JoinPlan {
        network: options.network.clone(),
        ..JoinPlan::default()
    };
    if asked.is_empty() {
        return Ok(plan);
    }
    let store = ContainerStore::new(dirs);
    let mut targets: Vec<(JoinKind, ContainerRecord)> = Vec::new();
    for (kind, name) in asked {
        let record = find_container(&store, &name)
            .map_err(|e| EngineError::Invalid(format!("{} container:{name}: {e}", kind.flag())))?;
        targets.push((kind, record));
    }
    if rootless {
        let first = &targets[0].1;
        if let Some((kind, other)) = targets.iter().find(|(_, r)| r.id != first.id) {
            return Err(EngineError::Invalid(format!(
                "{} container:{}: rootless, a container can enter the namespaces of only one other container ({} already), whose user namespace it enters with them",
                kind.flag(),
                other.name,
                first.name
            )));
        }
        if !targets.iter().any(|(k, _)| *k == JoinKind::User) {
            targets.push((JoinKind::User, first.clone()));
        }
    }
    targets.sort_by_key(|(kind, _)| *kind);
    for (kind, record) in &targets {
        let pid = pid_of_running(record, *kind)?;
        plan.joined.push(JoinedNamespace {
            kind: *kind,
            container_id: record.id.clone(),
            pid,
        });
        match kind {
            JoinKind::Uts => plan.hostname = Some(record.config.hostname.clone()),
            JoinKind::Net => {
                plan.hostname.get_or_insert(record.config.hostname.clone());
                plan.network_paths = Some(store.paths(&record.id));
                plan.network = NetworkMode::Container(record.id.clone());
            }
            _ => {}
        }
        if !plan.depends_on.contains(&record.id) {
            plan.depends_on.push(record.id.clone());
        }
    }
    Ok(plan)
}

/// `spec` with the namespace paths of its joins pointing at the current
/// runs of the containers it joins, or `None` when it joins none (the
/// common start: nothing read). The others must be running.
pub fn resolve_at_start(dirs: &StorageDirs, spec: &Spec) -> Result<Option<Spec>, EngineError> {
    let joins = recorded_joins(spec);
    if joins.is_empty() {
        return Ok(None);
    }
    let store = ContainerStore::new(dirs);
    let mut pids = HashMap::new();
    for (kind, id) in joins {
        if pids.contains_key(&id) {
            continue;
        }
        let record = refresh(&store, &id).map_err(|e| {
            EngineError::Invalid(format!(
                "cannot join the {} namespace of container {id}: {e}",
                kind.proc_name()
            ))
        })?;
        pids.insert(id, pid_of_running(&record, kind)?);
    }
    Ok(Some(with_current_pids(spec, &pids)))
}

/// The containers that enter namespaces of container `id`.
pub fn dependents_of(dirs: &StorageDirs, id: &str) -> Result<Vec<ContainerRecord>, EngineError> {
    Ok(list_containers(dirs)?
        .into_iter()
        .filter(|r| r.config.depends_on.iter().any(|d| d == id))
        .collect())
}
