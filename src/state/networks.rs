//! Network records and their address leases. `networks/<name>.json` is a
//! user-defined network (the default network `podman` is built in and
//! never stored); `networks/leases.json` lists every address handed out
//! to a running container, with the names peers resolve it by. One lock,
//! `networks/.lock`, orders everything that reads-then-writes either:
//! create (subnet overlap), rm (in use), a run's join and leave (address,
//! the members' /etc/hosts).

use std::collections::BTreeMap;
use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use super::{StateError, StorageDirs};
use crate::net::DEFAULT_NETWORK;
use crate::net::subnet::Subnet;

/// A network as `network inspect` shows it (podman's fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRecord {
    pub name: String,
    pub id: String,
    pub driver: String,
    /// The Linux bridge's name (≤ 15 bytes).
    pub bridge: String,
    pub subnet: Subnet,
    pub gateway: Ipv4Addr,
    #[serde(default)]
    pub ip_range: Option<Subnet>,
    #[serde(default)]
    pub internal: bool,
    /// Peers resolve each other's names (every user-defined network; not
    /// the default one, docker's rule).
    #[serde(default)]
    pub dns_enabled: bool,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    pub created: String,
    /// `network create --dns`: the name servers of its members'
    /// /etc/resolv.conf (instead of the host's), unless `run --dns`.
    #[serde(default)]
    pub dns_servers: Vec<String>,
    /// `network create --route`: static routes of every member.
    #[serde(default)]
    pub routes: Vec<crate::net::routes::NetworkRoute>,
}

/// The default network's ID: fixed, as podman's is.
pub const DEFAULT_NETWORK_ID: &str =
    "2f259bab93aaaaa2542ba43ef33eb990d0999ee1b9924b557b7be53c0b7a1bb9";

impl NetworkRecord {
    /// The built-in default network (`podman`, also `bridge`).
    pub fn default_network() -> NetworkRecord {
        let subnet: Subnet = "10.88.0.0/16".parse().expect("constant subnet");
        NetworkRecord {
            name: DEFAULT_NETWORK.to_string(),
            id: DEFAULT_NETWORK_ID.to_string(),
            driver: "bridge".to_string(),
            bridge: "skiff0".to_string(),
            gateway: subnet.first_host(),
            subnet,
            ip_range: None,
            internal: false,
            dns_enabled: false,
            labels: BTreeMap::new(),
            options: BTreeMap::new(),
            created: "1970-01-01T00:00:00Z".to_string(),
            dns_servers: Vec::new(),
            routes: Vec::new(),
        }
    }

    pub fn is_default(&self) -> bool {
        self.name == DEFAULT_NETWORK
    }
}

/// One address handed out on one network to one running container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub network: String,
    pub container_id: String,
    pub address: Ipv4Addr,
    /// Names peers resolve to it: its name, short ID, aliases.
    pub names: Vec<String>,
    /// Its /etc/hosts (under the runroot), rewritten when peers change.
    pub hosts_file: PathBuf,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct LeaseFile {
    leases: Vec<Lease>,
}

/// docker's rule for network names.
pub fn is_valid_network_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        && name.len() <= 200
}

pub struct NetworkStore {
    root: PathBuf,
}

/// Held while networks, leases or members' hosts files change.
pub struct NetworksLock {
    _lock: Flock<fs::File>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    fs::write(&tmp, bytes).map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(io(path))
}

impl NetworkStore {
    pub fn new(dirs: &StorageDirs) -> NetworkStore {
        NetworkStore {
            root: dirs.root.join("networks"),
        }
    }

    pub fn lock(&self) -> Result<NetworksLock, StateError> {
        fs::create_dir_all(&self.root).map_err(io(&self.root))?;
        let path = self.root.join(".lock");
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io(&path))?;
        let lock =
            Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, errno)| StateError::Io {
                path: path.clone(),
                source: errno.into(),
            })?;
        Ok(NetworksLock { _lock: lock })
    }

    fn record_path(&self, name: &str) -> PathBuf {
        self.root.join(format!("{name}.json"))
    }

    /// A network by name, full ID or ID prefix; `bridge` is the default.
    pub fn load(&self, name: &str) -> Result<NetworkRecord, StateError> {
        if name == DEFAULT_NETWORK || name == "bridge" {
            return Ok(NetworkRecord::default_network());
        }
        let missing = || StateError::NoSuchNetwork {
            name: name.to_string(),
        };
        if is_valid_network_name(name) {
            let path = self.record_path(name);
            match fs::read(&path) {
                Ok(bytes) => {
                    return serde_json::from_slice(&bytes).map_err(|source| {
                        StateError::MalformedNetwork {
                            name: name.to_string(),
                            source,
                        }
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(&path)(e)),
            }
        } else {
            return Err(missing());
        }
        let by_id: Vec<_> = self
            .list()
            .into_iter()
            .filter(|n| n.id.starts_with(name))
            .collect();
        match by_id.len() {
            1 => Ok(by_id.into_iter().next().expect("one")),
            _ => Err(missing()),
        }
    }

    /// Every network, the default one first, then by name.
    pub fn list(&self) -> Vec<NetworkRecord> {
        let mut out = vec![NetworkRecord::default_network()];
        let mut stored: Vec<NetworkRecord> = fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
            .filter(|e| e.file_name() != "leases.json")
            .filter_map(|e| fs::read(e.path()).ok())
            .filter_map(|b| serde_json::from_slice(&b).ok())
            .collect();
        stored.sort_by(|a: &NetworkRecord, b| a.name.cmp(&b.name));
        out.extend(stored);
        out
    }

    /// Writes a new network's record; the caller holds the lock and has
    /// checked the name and subnet.
    pub fn save(&self, _lock: &NetworksLock, record: &NetworkRecord) -> Result<(), StateError> {
        let json = serde_json::to_vec_pretty(record).expect("records serialize");
        write_atomically(&self.record_path(&record.name), &json)
    }

    pub fn remove(&self, _lock: &NetworksLock, name: &str) -> Result<(), StateError> {
        let path = self.record_path(name);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(&path)(e)),
            _ => Ok(()),
        }
    }

    fn leases_path(&self) -> PathBuf {
        self.root.join("leases.json")
    }

    pub fn leases(&self, _lock: &NetworksLock) -> Vec<Lease> {
        fs::read(self.leases_path())
            .ok()
            .and_then(|b| serde_json::from_slice::<LeaseFile>(&b).ok())
            .map(|f| f.leases)
            .unwrap_or_default()
    }

    pub fn save_leases(&self, _lock: &NetworksLock, leases: Vec<Lease>) -> Result<(), StateError> {
        let json = serde_json::to_vec_pretty(&LeaseFile { leases }).expect("leases serialize");
        write_atomically(&self.leases_path(), &json)
    }
}

/// The first free address of `network` (or `wanted`, when free).
pub fn pick_address(
    network: &NetworkRecord,
    leases: &[Lease],
    wanted: Option<Ipv4Addr>,
) -> Result<Ipv4Addr, String> {
    let taken = |a: Ipv4Addr| {
        leases
            .iter()
            .any(|l| l.network == network.name && l.address == a)
    };
    if let Some(addr) = wanted {
        if !network.subnet.contains(addr) || addr == network.gateway {
            return Err(format!(
                "address {addr} is not a container address of network {} ({})",
                network.name, network.subnet
            ));
        }
        if taken(addr) {
            return Err(format!(
                "address {addr} is already in use on network {}",
                network.name
            ));
        }
        return Ok(addr);
    }
    network
        .subnet
        .hosts(network.gateway, network.ip_range.as_ref())
        .find(|a| !taken(*a))
        .ok_or_else(|| format!("network {} has no free address left", network.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_handed_out_in_order_and_not_twice() {
        let net = NetworkRecord::default_network();
        let mut leases = Vec::new();
        for expected in ["10.88.0.2", "10.88.0.3"] {
            let a = pick_address(&net, &leases, None).unwrap();
            assert_eq!(a.to_string(), expected);
            leases.push(Lease {
                network: net.name.clone(),
                container_id: expected.into(),
                address: a,
                names: vec![],
                hosts_file: PathBuf::new(),
            });
        }
        assert!(pick_address(&net, &leases, Some("10.88.0.2".parse().unwrap())).is_err());
        assert!(pick_address(&net, &leases, Some("10.89.0.2".parse().unwrap())).is_err());
        assert!(pick_address(&net, &leases, Some("10.88.0.1".parse().unwrap())).is_err());
        assert_eq!(
            pick_address(&net, &leases, Some("10.88.7.7".parse().unwrap())).unwrap(),
            "10.88.7.7".parse::<Ipv4Addr>().unwrap()
        );
    }

    #[test]
    fn names_follow_docker_rule() {
        assert!(is_valid_network_name("my_bridge-1.x"));
        assert!(!is_valid_network_name("-x"));
        assert!(!is_valid_network_name("a/b"));
        assert!(!is_valid_network_name(""));
    }
}
