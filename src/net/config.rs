//! What a container asked of the network (stored in its record at create)
//! and what one run of it got (stored in its state while it runs).

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::ports::{PortMapping, Protocol};

/// The default network's name; `bridge` names it too (docker's word).
pub const DEFAULT_NETWORK: &str = "podman";

/// One network a container is on, as asked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRequestEntry {
    pub name: String,
    /// `--network-alias`: more names peers resolve to this container.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// `--ip`: a fixed address on this network.
    #[serde(default)]
    pub ip: Option<Ipv4Addr>,
    /// `--mac-address`.
    #[serde(default)]
    pub mac: Option<String>,
}

/// The network flags of a container, checked and typed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkConfig {
    /// With `NetworkMode::Bridge`: the networks, first one first (its
    /// gateway is the default route).
    #[serde(default)]
    pub networks: Vec<NetworkRequestEntry>,
    /// `-p`, `-P`: every published port, host ports resolved at create.
    #[serde(default)]
    pub ports: Vec<PortMapping>,
    /// `--expose` and the image's EXPOSE.
    #[serde(default)]
    pub exposed: Vec<(u16, Protocol)>,
    /// `--add-host NAME:IP`.
    #[serde(default)]
    pub extra_hosts: Vec<(String, String)>,
    #[serde(default)]
    pub dns: Vec<String>,
    #[serde(default)]
    pub dns_search: Vec<String>,
    #[serde(default)]
    pub dns_options: Vec<String>,
    /// `-P`: what inspect shows as `.HostConfig.PublishAllPorts`.
    #[serde(default)]
    pub publish_all: bool,
}

impl NetworkConfig {
    pub fn network(&self, name: &str) -> Option<&NetworkRequestEntry> {
        self.networks.iter().find(|n| n.name == name)
    }
}

/// What one run got on one network: its address, kept in the container's
/// state while it runs and released when the run ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub network: String,
    pub network_id: String,
    pub interface: String,
    /// The host end of its veth pair.
    pub host_interface: String,
    pub address: Ipv4Addr,
    pub prefix: u8,
    pub gateway: Ipv4Addr,
    pub mac: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    /// The ports forwarded to this address (the first network's).
    #[serde(default)]
    pub ports: Vec<PortMapping>,
}
