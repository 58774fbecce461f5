//! Joining and leaving bridge networks: addresses from the store's
//! leases, links and rules through the bridge backend (`net::bridge`),
//! and the members' /etc/hosts rewritten under the networks lock so
//! peers resolve each other by name without a DNS daemon.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::Path;

use super::EngineError;
use crate::net::bridge;
use crate::net::hosts::{network_hosts_section, rewrite_peers};
use crate::net::{Attachment, NetworkRequestEntry, PortMapping};
use crate::state::{
    ContainerRecord, Lease, NetworkRecord, NetworkStore, NetworksLock, StorageDirs, pick_address,
};

/// A MAC derived from the address (docker's `02:42:` form), so one
/// address always has one MAC and nothing random is kept.
pub fn mac_for(address: Ipv4Addr) -> String {
    bridge::MacAddr::from_ipv4(address).to_string()
}

/// The names of `networks` whose members resolve each other.
fn resolving(store: &NetworkStore, networks: impl Iterator<Item = String>) -> BTreeSet<String> {
    networks
        .filter(|n| store.load(n).is_ok_and(|r| r.dns_enabled))
        .collect()
}

/// The peers `member` sees: every other container on a name-resolving
/// network it is on.
fn peers_of(store: &NetworkStore, leases: &[Lease], member: &str) -> String {
    let mine = resolving(
        store,
        leases
            .iter()
            .filter(|l| l.container_id == member)
            .map(|l| l.network.clone()),
    );
    network_hosts_section(
        leases
            .iter()
            .filter(|l| l.container_id != member && mine.contains(&l.network))
            .map(|l| (l.address, l.names.as_slice())),
    )
}

/// Rewrites /etc/hosts of every running member of `networks`.
fn rewrite_members(store: &NetworkStore, leases: &[Lease], networks: &BTreeSet<String>) {
    let resolving = resolving(store, networks.iter().cloned());
    let members: BTreeSet<&str> = leases
        .iter()
        .filter(|l| resolving.contains(&l.network))
        .map(|l| l.container_id.as_str())
        .collect();
    for member in members {
        if let Some(own) = leases.iter().find(|l| l.container_id == member) {
            let _ = rewrite_peers(&own.hosts_file, &peers_of(store, leases, member));
        }
    }
}

/// Leases, address and link of `record` on one more network; the caller
/// holds the networks lock and saves `leases`.
fn attach_one(
    store: &NetworkStore,
    leases: &mut Vec<Lease>,
    record: &ContainerRecord,
    (entry, index): (&NetworkRequestEntry, usize),
    pid: i32,
    hosts_file: &Path,
    ports_from_loopback: bool,
) -> Result<Attachment, EngineError> {
    let network = store.load(&entry.name)?;
    let address = pick_address(&network, leases, entry.ip).map_err(EngineError::Invalid)?;
    let mut names = vec![record.name.clone(), record.id[..12].to_string()];
    // `--hostname` too, when it is not the short ID already.
    if !names.contains(&record.config.hostname) {
        names.push(record.config.hostname.clone());
    }
    names.extend(entry.aliases.iter().cloned());
    leases.push(Lease {
        network: network.name.clone(),
        container_id: record.id.clone(),
        address,
        names,
        hosts_file: hosts_file.to_path_buf(),
    });
    let interface = format!("eth{index}");
    let attachment = Attachment {
        network: network.name.clone(),
        network_id: network.id.clone(),
        host_interface: bridge::host_veth_name(&record.id, &interface),
        interface,
        address,
        prefix: network.subnet.prefix,
        gateway: network.gateway,
        mac: entry.mac.clone().unwrap_or_else(|| mac_for(address)),
        aliases: entry.aliases.clone(),
        // Published ports lead to the first network's address.
        ports: if index == 0 {
            record
                .config
                .net
                .ports
                .iter()
                .map(|p| PortMapping {
                    host_ip: if ports_from_loopback { None } else { p.host_ip },
                    ..*p
                })
                .collect()
        } else {
            Vec::new()
        },
    };
    // A previous run's veth of the same name may still be there while
    // the kernel tears its namespace down (a restart).
    backend::remove_leftover_link(&network, &attachment, &record.id);
    backend::attach(&network, &attachment, &record.id, pid, index == 0)?;
    Ok(attachment)
}

/// Takes an address on each of the container's networks, plugs it in
/// (`pid`'s network namespace) and tells the peers. On failure what was
/// done so far is in `attachments`, for teardown to undo.
/// `ports_from_loopback`: the published ports arrive on this namespace's
/// loopback at their host port (the rootless shared namespace, where a
/// pasta forwards them), whatever host address they were published on.
pub fn join(
    dirs: &StorageDirs,
    record: &ContainerRecord,
    pid: i32,
    hosts_file: &Path,
    ports_from_loopback: bool,
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
            touched.insert(entry.name.clone());
            let attachment = attach_one(
                &store,
                &mut leases,
                record,
                (entry, index),
                pid,
                hosts_file,
                ports_from_loopback,
            )?;
            attachments.push(attachment);
        }
        Ok(())
    })();
    store.save_leases(&lock, leases.clone())?;
    rewrite_members(&store, &leases, &touched);
    // Unconditionally: rootless, this runs inside the holder's user
    // namespace, where skiff looks like root.
    super::rootless_netns::joined(dirs, &record.id);
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
    // The veth pair goes with the container's network namespace, which
    // the kernel tears down (asynchronously) once its last process is
    // gone: deleting it here costs an RCU grace period (11-16 ms
    // measured) on every run's way out. Only published ports have rules
    // outside the namespace to remove.
    let with_ports: Vec<(NetworkRecord, Attachment)> = attachments
        .iter()
        .filter(|a| !a.ports.is_empty())
        .filter_map(|a| Some((store.load(&a.network).ok()?, a.clone())))
        .collect();
    if !with_ports.is_empty() {
        // Asked out here: inside the holder's user namespace skiff is root.
        let rootless = super::rootless_netns::applies();
        let detach = move || {
            for (network, attachment) in &with_ports {
                backend::detach(network, attachment, container_id);
            }
            if rootless {
                // The way back of its forwarding pasta's tap.
                let _ = bridge::unroute_forwarder(container_id);
            }
            Ok::<(), String>(())
        };
        if !rootless {
            let _ = detach();
        } else if let Some(shared) = super::rootless_netns::current(dirs) {
            // The rules are in the shared namespace.
            let _ = crate::sandbox::netns_holder::run_in_holder(shared.holder.pid, detach);
        }
    }
    if !touched.is_empty() {
        let _ = store.save_leases(&lock, leases.clone());
        rewrite_members(&store, &leases, &touched);
    }
    // A start that failed before its join leaves through here too.
    super::rootless_netns::joined(dirs, container_id);
    release_unused(dirs, &lock, &leases);
}

/// Rootless: the shared network namespace lives only while a container
/// uses it, and `netns_reaper::GRACE` more (bridges as root stay until
/// `network rm`).
pub(super) fn release_unused(dirs: &StorageDirs, _lock: &NetworksLock, leases: &[Lease]) {
    if super::rootless_netns::applies()
        && leases.is_empty()
        && !super::rootless_netns::starts_under_way(dirs)
    {
        match super::rootless_netns::current(dirs) {
            Some(shared) if super::netns_reaper::start(dirs, &shared) => {}
            _ => super::rootless_netns::stop(dirs),
        }
    }
}

/// `network connect` of a running container: one more interface
/// (`ethN`, the first free N), no default route.
pub fn connect_running(
    dirs: &StorageDirs,
    record: &ContainerRecord,
    entry: &NetworkRequestEntry,
    pid: i32,
    hosts_file: &Path,
) -> Result<Attachment, EngineError> {
    let store = NetworkStore::new(dirs);
    let lock = store.lock()?;
    let mut leases = store.leases(&lock);
    let index = (1..)
        .find(|n| {
            let name = format!("eth{n}");
            record.state.attachments.iter().all(|a| a.interface != name)
        })
        .expect("a free interface number");
    let attachment = attach_one(
        &store,
        &mut leases,
        record,
        (entry, index),
        pid,
        hosts_file,
        false,
    )?;
    store.save_leases(&lock, leases.clone())?;
    rewrite_members(&store, &leases, &BTreeSet::from([entry.name.clone()]));
    Ok(attachment)
}

/// `network disconnect` of a running container: its interface on the
/// network goes, its address is freed, and it and its former peers stop
/// resolving each other.
pub fn disconnect_running(dirs: &StorageDirs, container_id: &str, attachment: &Attachment) {
    let store = NetworkStore::new(dirs);
    let Ok(lock) = store.lock() else {
        return;
    };
    let mut leases = store.leases(&lock);
    let own_hosts = leases
        .iter()
        .find(|l| l.container_id == container_id)
        .map(|l| l.hosts_file.clone());
    leases.retain(|l| !(l.container_id == container_id && l.network == attachment.network));
    if let Ok(network) = store.load(&attachment.network) {
        // Deleting the host end deletes the pair, inside the container too.
        let detach = || {
            backend::detach(&network, attachment, container_id);
            Ok::<(), String>(())
        };
        if !super::rootless_netns::applies() {
            let _ = detach();
        } else if let Some(shared) = super::rootless_netns::current(dirs) {
            let _ = crate::sandbox::netns_holder::run_in_holder(shared.holder.pid, detach);
        }
    }
    let _ = store.save_leases(&lock, leases.clone());
    rewrite_members(
        &store,
        &leases,
        &BTreeSet::from([attachment.network.clone()]),
    );
    if let Some(hosts) = own_hosts {
        let _ = rewrite_peers(&hosts, &peers_of(&store, &leases, container_id));
    }
}

/// Removes the network's bridge and rules (`network rm`).
pub fn remove_links(dirs: &StorageDirs, network: &NetworkRecord) {
    if !super::rootless_netns::applies() {
        backend::remove(network);
    } else if let Some(shared) = super::rootless_netns::current(dirs) {
        let network = network.clone();
        let _ = crate::sandbox::netns_holder::run_in_holder(shared.holder.pid, move || {
            backend::remove(&network);
            Ok::<(), String>(())
        });
    }
}

/// Puts back the nftables rules of `record`'s networks and published
/// ports, then removes links and rules of this store's containers
/// (`known`) that hold no lease (`network reload`); another `--root`'s
/// are left alone. The caller holds the networks lock; rootless this runs
/// in the shared namespace.
pub(super) fn restore_rules(
    store: &NetworkStore,
    lock: &NetworksLock,
    record: &ContainerRecord,
    known: &BTreeSet<String>,
) -> Result<(), EngineError> {
    for attachment in &record.state.attachments {
        let network = store.load(&attachment.network)?;
        backend::restore(&network, attachment, &record.id)?;
    }
    let holders: BTreeSet<String> = store
        .leases(lock)
        .into_iter()
        .map(|l| l.container_id)
        .collect();
    bridge::cleanup_stale(&|id| known.contains(id) && !holders.contains(id))
        .map_err(|e| EngineError::Invalid(format!("removing stale network endpoints: {e}")))
}

/// The bridge backend (`net::bridge`), in the current network namespace.
mod backend {
    use super::*;
    use std::path::PathBuf;

    fn failed(network: &NetworkRecord, e: bridge::BridgeError) -> EngineError {
        EngineError::Invalid(format!("network {}: {e}", network.name))
    }

    pub fn bridge_network(network: &NetworkRecord) -> bridge::BridgeNetwork {
        bridge::BridgeNetwork {
            id: network.id.clone(),
            name: network.name.clone(),
            bridge: network.bridge.clone(),
            subnet: bridge::Subnet {
                address: network.subnet.network,
                prefix: network.subnet.prefix,
            },
            gateway: network.gateway,
            internal: network.internal,
            mtu: crate::engine::network_opts::network_mtu(network),
        }
    }

    fn endpoint(
        network: &NetworkRecord,
        attachment: &Attachment,
        container_id: &str,
        netns: PathBuf,
        default_route: bool,
    ) -> Result<bridge::Endpoint, bridge::BridgeError> {
        Ok(bridge::Endpoint {
            container_id: container_id.to_string(),
            netns,
            bridge: network.bridge.clone(),
            interface: attachment.interface.clone(),
            address: attachment.address,
            prefix: attachment.prefix,
            mac: attachment.mac.parse()?,
            gateway: attachment.gateway,
            default_route,
            mtu: crate::engine::network_opts::network_mtu(network),
            routes: network
                .routes
                .iter()
                .map(|r| bridge::StaticRoute {
                    destination: bridge::Subnet {
                        address: r.destination.network,
                        prefix: r.destination.prefix,
                    },
                    gateway: r.gateway,
                    metric: r.metric,
                })
                .collect(),
        })
    }

    fn forwards(ports: &[PortMapping]) -> Vec<bridge::PortForward> {
        ports
            .iter()
            .map(|p| bridge::PortForward {
                host_ip: p.host_ip,
                host_port: p.host_port,
                container_port: p.container_port,
                protocol: p.protocol,
            })
            .collect()
    }

    pub fn attach(
        network: &NetworkRecord,
        attachment: &Attachment,
        container_id: &str,
        pid: i32,
        default_route: bool,
    ) -> Result<(), EngineError> {
        let bridged = bridge_network(network);
        bridge::ensure_network(&bridged).map_err(|e| failed(network, e))?;
        let netns = PathBuf::from(format!("/proc/{pid}/ns/net"));
        let endpoint = endpoint(network, attachment, container_id, netns, default_route)
            .map_err(|e| failed(network, e))?;
        bridge::attach_to(&bridged, &endpoint, &forwards(&attachment.ports))
            .map_err(|e| failed(network, e))
    }

    pub fn restore(
        network: &NetworkRecord,
        attachment: &Attachment,
        container_id: &str,
    ) -> Result<(), EngineError> {
        let endpoint = endpoint(network, attachment, container_id, PathBuf::new(), false)
            .map_err(|e| failed(network, e))?;
        bridge::restore_rules(
            &bridge_network(network),
            &endpoint,
            &forwards(&attachment.ports),
        )
        .map_err(|e| failed(network, e))
    }

    pub fn detach(network: &NetworkRecord, attachment: &Attachment, container_id: &str) {
        if let Ok(endpoint) = endpoint(network, attachment, container_id, PathBuf::new(), false) {
            let _ = bridge::detach(&endpoint, &forwards(&attachment.ports));
        }
    }

    /// Deletes the host veth of a previous run, if any (no rules: a run's
    /// port rules are removed by its own teardown or `refresh`).
    pub fn remove_leftover_link(
        network: &NetworkRecord,
        attachment: &Attachment,
        container_id: &str,
    ) {
        if let Ok(endpoint) = endpoint(network, attachment, container_id, PathBuf::new(), false) {
            let _ = bridge::detach(&endpoint, &[]);
        }
    }

    pub fn remove(network: &NetworkRecord) {
        let _ = bridge::remove_network(&bridge_network(network));
    }
}
