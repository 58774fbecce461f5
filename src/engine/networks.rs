//! The `network` verbs: create, list, inspect, rm, prune, exists,
//! connect, disconnect. Records and leases live in `state::NetworkStore`;
//! bridges and rules are made when a container first joins a network
//! (`engine/network_run.rs`) and removed with the network.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::SystemTime;

use serde_json::{Value, json};

use super::EngineError;
use super::label_filter::LabelFilter;
use super::lookup::{find_container, list_containers};
use super::network_opts::{check_bridge_name, check_options};
use crate::net::subnet::Subnet;
use crate::net::{NetworkMode, NetworkRequestEntry};
use crate::state::{
    ContainerStore, NetworkRecord, NetworkStore, StorageDirs, is_valid_network_name,
    new_container_id,
};
use crate::timestamp::format_rfc3339_nanos;

/// `network create` as asked.
#[derive(Debug, Clone, Default)]
pub struct NetworkCreate {
    pub name: Option<String>,
    pub driver: Option<String>,
    pub subnet: Option<String>,
    pub gateway: Option<String>,
    pub ip_range: Option<String>,
    pub internal: bool,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    /// `--ignore`: an existing network of that name is no error.
    pub ignore: bool,
    /// `--disable-dns`: members do not resolve each other's names.
    pub disable_dns: bool,
    /// `--interface-name`: the bridge's name (default `skiff-` and 8 hex
    /// digits of the ID).
    pub interface_name: Option<String>,
    /// `--dns`: name servers for the members (IP addresses).
    pub dns_servers: Vec<String>,
    /// `--route DESTINATION,GATEWAY[,METRIC]`, as given.
    pub routes: Vec<String>,
    /// `--ipam-driver`: only `host-local` (skiff's leases) is known.
    pub ipam_driver: Option<String>,
}

fn invalid(text: String) -> EngineError {
    EngineError::Invalid(text)
}

/// The bridge's interface name: `skiff-` and 8 hex digits of the ID.
fn bridge_name(id: &str) -> String {
    format!("skiff-{}", &id[..8])
}

/// The subnet a new network must not overlap: another network's, or one
/// the host already routes (a route that is exactly a network's subnet is
/// that network's bridge, as root). Named for the error.
fn subnet_in_use(existing: &[NetworkRecord], host_routes: &[Subnet], s: &Subnet) -> Option<String> {
    if let Some(other) = existing.iter().find(|e| e.subnet.overlaps(s)) {
        return Some(format!("{} of network {}", other.subnet, other.name));
    }
    host_routes
        .iter()
        .filter(|route| existing.iter().all(|e| e.subnet != **route))
        .find(|route| route.overlaps(s))
        .map(|route| format!("{route}, a subnet the host is on"))
}

/// podman's automatic subnets: 10.89.N.0/24, the first that overlaps no
/// existing network and no route of the host.
fn free_subnet(existing: &[NetworkRecord], host_routes: &[Subnet]) -> Result<Subnet, EngineError> {
    (0..=255u8)
        .map(|n| Subnet::new(Ipv4Addr::new(10, 89, n, 0), 24))
        .find(|s| subnet_in_use(existing, host_routes, s).is_none())
        .ok_or_else(|| invalid("no free subnet left in 10.89.0.0/16: give --subnet".into()))
}

/// Checks everything and writes the record; nothing else is created
/// until a container joins.
pub fn create_network(
    dirs: &StorageDirs,
    req: &NetworkCreate,
) -> Result<NetworkRecord, EngineError> {
    if let Some(driver) = req.ipam_driver.as_deref().filter(|d| *d != "host-local") {
        return Err(invalid(format!(
            "unsupported IPAM driver {driver}: skiff has host-local only"
        )));
    }
    if let Some(driver) = req.driver.as_deref().filter(|d| *d != "bridge") {
        return Err(invalid(format!(
            "unsupported driver {driver}: skiff has the bridge driver only"
        )));
    }
    let (options, bridge) = check_options(&req.options)?;
    let bridge = match (bridge, &req.interface_name) {
        (Some(a), Some(b)) if &a != b => {
            return Err(invalid(format!(
                "--interface-name {b} and option com.docker.network.bridge.name={a} disagree"
            )));
        }
        (a, b) => a.or_else(|| b.clone()),
    };
    let store = NetworkStore::new(dirs);
    let lock = store.lock()?;
    let existing = store.list();
    let host_routes = crate::net::host_routes::routed_subnets();
    let name = match &req.name {
        Some(name) => name.clone(),
        None => (1..)
            .map(|n| format!("podman{n}"))
            .find(|n| existing.iter().all(|e| &e.name != n))
            .expect("an unused name"),
    };
    if !is_valid_network_name(&name) || name == "bridge" || name == "none" || name == "host" {
        return Err(invalid(format!(
            "network name {name} invalid: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]* and not be bridge, host or none"
        )));
    }
    if let Some(network) = existing.iter().find(|e| e.name == name) {
        if req.ignore {
            return Ok(network.clone());
        }
        return Err(invalid(format!(
            "network name {name} already used: network already exists"
        )));
    }
    let subnet = match &req.subnet {
        Some(text) => {
            let subnet = text
                .parse::<Subnet>()
                .map_err(|e| invalid(format!("invalid --subnet: {e}")))?;
            // A network needs a gateway and a container address at least.
            if subnet.prefix > 30 {
                return Err(invalid(format!(
                    "invalid --subnet: \"{text}\": the prefix must be 0-30"
                )));
            }
            subnet
        }
        None => {
            if req.gateway.is_some() || req.ip_range.is_some() {
                return Err(invalid("--gateway and --ip-range need --subnet".into()));
            }
            free_subnet(&existing, &host_routes)?
        }
    };
    if let Some(used) = subnet_in_use(&existing, &host_routes, &subnet) {
        return Err(invalid(format!(
            "subnet {subnet} is already used on the host or by another network: it overlaps {used}"
        )));
    }
    let gateway = match &req.gateway {
        Some(text) => {
            let gw: Ipv4Addr = text.parse().map_err(|_| {
                invalid(format!("invalid --gateway \"{text}\": not an IPv4 address"))
            })?;
            if !subnet.contains(gw) || gw == subnet.network || gw == subnet.last() {
                return Err(invalid(format!(
                    "gateway {gw} is not a host address of subnet {subnet}"
                )));
            }
            gw
        }
        None => subnet.first_host(),
    };
    let ip_range = match &req.ip_range {
        Some(text) => {
            let range: Subnet = text
                .parse()
                .map_err(|e| invalid(format!("invalid --ip-range: {e}")))?;
            if range.prefix > 30 {
                return Err(invalid(format!(
                    "invalid --ip-range: \"{text}\": the prefix must be 0-30"
                )));
            }
            if !subnet.contains(range.network) || range.prefix < subnet.prefix {
                return Err(invalid(format!(
                    "--ip-range {range} is not inside subnet {subnet}"
                )));
            }
            Some(range)
        }
        None => None,
    };
    if let Some(bridge) = &bridge {
        check_bridge_name(bridge, &existing)?;
    }
    let routes = req
        .routes
        .iter()
        .map(|text| crate::net::routes::NetworkRoute::parse(text, &subnet).map_err(invalid))
        .collect::<Result<Vec<_>, _>>()?;
    for server in &req.dns_servers {
        if server.parse::<std::net::IpAddr>().is_err() {
            return Err(invalid(format!(
                "invalid --dns \"{server}\": not an IP address"
            )));
        }
    }
    let id = new_container_id();
    let record = NetworkRecord {
        name,
        bridge: bridge.unwrap_or_else(|| bridge_name(&id)),
        id,
        driver: "bridge".into(),
        subnet,
        gateway,
        ip_range,
        internal: req.internal,
        dns_enabled: !req.disable_dns,
        labels: req.labels.clone(),
        options,
        created: format_rfc3339_nanos(SystemTime::now()),
        dns_servers: req.dns_servers.clone(),
        routes,
    };
    store.save(&lock, &record)?;
    Ok(record)
}

/// `network ls --filter`: `name=`, `id=`, `driver=`, `label=`.
#[derive(Debug, Clone)]
pub enum NetworkFilter {
    Name(String),
    Id(String),
    Driver(String),
    Label(LabelFilter),
}

impl std::str::FromStr for NetworkFilter {
    type Err = EngineError;
    fn from_str(text: &str) -> Result<Self, EngineError> {
        match text.split_once('=') {
            Some(("name", v)) => Ok(NetworkFilter::Name(v.into())),
            Some(("id", v)) => Ok(NetworkFilter::Id(v.into())),
            Some(("driver", v)) => Ok(NetworkFilter::Driver(v.into())),
            Some(("label", v)) => Ok(NetworkFilter::Label(LabelFilter::parse(v))),
            _ => Err(invalid(format!(
                "invalid network filter \"{text}\": use name=, id=, driver= or label="
            ))),
        }
    }
}

impl NetworkFilter {
    fn matches(&self, n: &NetworkRecord) -> bool {
        match self {
            NetworkFilter::Name(v) => n.name.contains(v.as_str()),
            NetworkFilter::Id(v) => n.id.starts_with(v.as_str()),
            NetworkFilter::Driver(v) => &n.driver == v,
            NetworkFilter::Label(l) => l.matches(&n.labels),
        }
    }
}

/// Networks matching every filter kind (one of each kind's values).
pub fn list_networks(dirs: &StorageDirs, filters: &[NetworkFilter]) -> Vec<NetworkRecord> {
    NetworkStore::new(dirs)
        .list()
        .into_iter()
        .filter(|n| {
            let kinds = filters.iter().map(std::mem::discriminant);
            kinds.clone().all(|kind| {
                filters
                    .iter()
                    .filter(|f| std::mem::discriminant(*f) == kind)
                    .any(|f| f.matches(n))
            })
        })
        .collect()
}

pub fn network_exists(dirs: &StorageDirs, name: &str) -> bool {
    NetworkStore::new(dirs).load(name).is_ok()
}

/// IDs and names of the containers (any state) on a network.
pub fn network_users(
    dirs: &StorageDirs,
    network: &NetworkRecord,
) -> Result<Vec<(String, String)>, EngineError> {
    Ok(list_containers(dirs)?
        .into_iter()
        .filter(|r| {
            r.config.network == NetworkMode::Bridge && r.config.net.network(&network.name).is_some()
        })
        .map(|r| (r.id.clone(), r.name.clone()))
        .collect())
}

/// Whether a container record names `network`, read as stored (no
/// `refresh`): membership is configuration, not run state.
fn has_members_on_disk(dirs: &StorageDirs, network: &NetworkRecord) -> bool {
    let containers = ContainerStore::new(dirs);
    containers.list_ids().into_iter().any(|id| {
        containers.load(&id).is_ok_and(|r| {
            r.config.network == NetworkMode::Bridge && r.config.net.network(&network.name).is_some()
        })
    })
}

/// podman's `network inspect` document.
pub fn network_json(dirs: &StorageDirs, network: &NetworkRecord) -> Result<Value, EngineError> {
    let mut containers = serde_json::Map::new();
    for record in list_containers(dirs)? {
        for a in record
            .state
            .attachments
            .iter()
            .filter(|a| a.network == network.name)
        {
            containers.insert(
                record.id.clone(),
                json!({
                    "name": record.name,
                    "interfaces": {
                        a.interface.clone(): {
                            "subnets": [{"ipnet": format!("{}/{}", a.address, a.prefix), "gateway": a.gateway.to_string()}],
                            "mac_address": a.mac,
                        }
                    }
                }),
            );
        }
    }
    let mut subnet = json!({
        "subnet": network.subnet.to_string(),
        "gateway": network.gateway.to_string(),
    });
    if let Some(range) = &network.ip_range {
        subnet["lease_range"] = json!({
            "start_ip": range.network.to_string(),
            "end_ip": range.last().to_string(),
        });
    }
    Ok(json!({
        "name": network.name,
        "id": network.id,
        "driver": network.driver,
        "network_interface": network.bridge,
        "created": network.created,
        "subnets": [subnet],
        "ipv6_enabled": false,
        "internal": network.internal,
        "dns_enabled": network.dns_enabled,
        "network_dns_servers": network.dns_servers,
        "routes": network.routes.iter().map(|r| {
            let mut route = json!({
                "destination": r.destination.to_string(),
                "gateway": r.gateway.to_string(),
            });
            if let Some(metric) = r.metric {
                route["metric"] = json!(metric);
            }
            route
        }).collect::<Vec<_>>(),
        "labels": network.labels,
        "options": network.options,
        "ipam_options": {"driver": "host-local"},
        "containers": containers,
    }))
}

/// `network rm`: refused while containers are on it, unless `force`,
/// which removes them first (podman's `-f`). Returns the name removed.
pub fn remove_network(dirs: &StorageDirs, name: &str, force: bool) -> Result<String, EngineError> {
    let store = NetworkStore::new(dirs);
    let network = store.load(name)?;
    if network.is_default() {
        return Err(invalid(format!(
            "default network {} cannot be removed",
            network.name
        )));
    }
    let users = network_users(dirs, &network)?;
    if !users.is_empty() {
        if !force {
            return Err(EngineError::NetworkInUse {
                name: network.name.clone(),
            });
        }
        for (id, _) in &users {
            super::lifecycle::remove_container(dirs, id, true)?;
        }
    }
    let lock = store.lock()?;
    // A container may have joined between the check and the lock. Read
    // without `refresh`: ending a dead run takes this same lock.
    if has_members_on_disk(dirs, &network) {
        return Err(EngineError::NetworkInUse {
            name: network.name.clone(),
        });
    }
    super::network_run::remove_network_links(dirs, &network);
    store.remove(&lock, &network.name)?;
    Ok(network.name)
}

/// `network prune`: every user-defined network no container is on.
pub fn prune_networks(
    dirs: &StorageDirs,
    filters: &[NetworkFilter],
) -> Result<Vec<String>, EngineError> {
    let mut removed = Vec::new();
    for network in list_networks(dirs, filters) {
        if network.is_default() || !network_users(dirs, &network)?.is_empty() {
            continue;
        }
        match remove_network(dirs, &network.name, false) {
            Ok(name) => removed.push(name),
            Err(EngineError::NetworkInUse { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(removed)
}

/// `network connect NETWORK CONTAINER`: a stopped container joins the
/// network at its next start; a running one (root) at once.
pub fn connect_container(
    dirs: &StorageDirs,
    network: &str,
    container: &str,
    entry: NetworkRequestEntry,
) -> Result<(), EngineError> {
    for alias in &entry.aliases {
        super::net_options::check_alias(alias)?;
    }
    let network = NetworkStore::new(dirs).load(network)?;
    let store = ContainerStore::new(dirs);
    let id = find_container(&store, container)?.id;
    let _lock = store.lock(&id)?;
    let mut record = store.load(&id)?;
    if record.config.network != NetworkMode::Bridge {
        return Err(invalid(format!(
            "container {} is on network mode {}: only containers on bridge networks can be connected",
            record.name, record.config.network
        )));
    }
    if record.config.net.network(&network.name).is_some() {
        return Err(invalid(format!(
            "container {} is already connected to network {}",
            record.name, network.name
        )));
    }
    if let Some(ip) = entry.ip
        && (!network.subnet.contains(ip) || ip == network.gateway)
    {
        return Err(invalid(format!(
            "--ip {ip} is not a container address of network {} ({})",
            network.name, network.subnet
        )));
    }
    let entry = NetworkRequestEntry {
        name: network.name,
        ..entry
    };
    if record.status().is_active()
        && let Some(pid) = record.state.pid
    {
        let hosts = super::create::etc_files(&store.paths(&id)).hosts;
        let attachment = if super::rootless_netns::applies() {
            // Its namespaces belong to the shared one's user namespace.
            let shared = super::rootless_netns::current(dirs)
                .ok_or_else(|| invalid("the rootless network namespace is gone".to_string()))?;
            let (record, entry) = (&record, &entry);
            crate::sandbox::netns_holder::run_in_holder(shared.holder.pid, || {
                super::network_bridge::connect_running(dirs, record, entry, pid.pid, &hosts)
                    .map_err(|e| e.to_string())
            })
            .map_err(|e| invalid(e.to_string()))?
        } else {
            super::network_bridge::connect_running(dirs, &record, &entry, pid.pid, &hosts)?
        };
        record.state.attachments.push(attachment);
    }
    record.config.net.networks.push(entry);
    Ok(store.save(&record)?)
}

/// `network disconnect NETWORK CONTAINER`: at once when it runs.
pub fn disconnect_container(
    dirs: &StorageDirs,
    network: &str,
    container: &str,
) -> Result<(), EngineError> {
    let network = NetworkStore::new(dirs).load(network)?;
    let store = ContainerStore::new(dirs);
    let id = find_container(&store, container)?.id;
    let _lock = store.lock(&id)?;
    let mut record = store.load(&id)?;
    let before = record.config.net.networks.len();
    record
        .config
        .net
        .networks
        .retain(|n| n.name != network.name);
    if record.config.net.networks.len() == before {
        return Err(invalid(format!(
            "container {} is not connected to network {}",
            record.name, network.name
        )));
    }
    if let Some(at) = record
        .state
        .attachments
        .iter()
        .position(|a| a.network == network.name)
    {
        let attachment = record.state.attachments.remove(at);
        super::network_bridge::disconnect_running(dirs, &id, &attachment);
    }
    Ok(store.save(&record)?)
}
