//! `network reload`: puts back what a firewall reload takes away from
//! running containers (their networks' nftables rules and published
//! ports, as podman's verb does), and on the way removes links and rules
//! left by containers that hold no address any more.

use std::collections::BTreeSet;

use super::EngineError;
use super::lookup::{find_container, refresh};
use crate::sandbox::netns_holder::run_in_holder;
use crate::state::{ContainerStore, NetworkStore, StorageDirs};

/// Reloads the networks of container `name` (running); returns its ID.
pub fn reload_container(dirs: &StorageDirs, name: &str) -> Result<String, EngineError> {
    let store = ContainerStore::new(dirs);
    let id = find_container(&store, name)?.id;
    let record = refresh(&store, &id)?;
    if !record.status().is_active() {
        return Err(EngineError::Invalid(format!(
            "container {} is not running: only running containers have networks to reload",
            record.name
        )));
    }
    if record.state.attachments.is_empty() {
        return Ok(record.id);
    }
    let known: BTreeSet<String> = super::lookup::list_containers(dirs)?
        .into_iter()
        .map(|r| r.id)
        .collect();
    let networks = NetworkStore::new(dirs);
    let lock = networks.lock()?;
    if !super::rootless_netns::applies() {
        super::network_bridge::restore_rules(&networks, &lock, &record, &known)?;
    } else if let Some(shared) = super::rootless_netns::current(dirs) {
        // The rules live in the shared rootless namespace.
        let (networks, lock, record, known) = (&networks, &lock, &record, &known);
        run_in_holder(shared.holder.pid, || {
            super::network_bridge::restore_rules(networks, lock, record, known)
                .map_err(|e| e.to_string())
        })
        .map_err(|e| EngineError::Invalid(e.to_string()))?;
    }
    Ok(record.id)
}
