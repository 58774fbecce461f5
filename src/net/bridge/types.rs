//! The plain data the caller passes: a network, an endpoint (one container
//! on one network), a published port. All serde-able so the caller can
//! keep them in its records and pass them back for removal.

use std::fmt;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::BridgeError;

/// The bridge of the default network.
pub const DEFAULT_BRIDGE: &str = "skiff0";

/// The bridge name of a user-defined network: `skiff-` and the first 8
/// characters of its id (15 characters, the kernel's limit).
pub fn bridge_name_for(network_id: &str) -> String {
    let short: String = network_id.chars().take(8).collect();
    format!("skiff-{short}")
}

/// The host end of an endpoint's veth pair: `veth` and 8 hex digits of a
/// hash of the container id and the interface, so detach finds it from the
/// endpoint alone.
pub fn host_veth_name(container_id: &str, interface: &str) -> String {
    let digest = Sha256::digest(format!("{container_id}/{interface}").as_bytes());
    let hex: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("veth{hex}")
}

/// An IPv4 subnet: its network address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subnet {
    pub address: Ipv4Addr,
    pub prefix: u8,
}

impl Subnet {
    /// Whether `address` is inside this subnet.
    pub fn contains(&self, address: Ipv4Addr) -> bool {
        let mask = prefix_mask(self.prefix);
        u32::from(address) & mask == u32::from(self.address) & mask
    }
}

fn prefix_mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix.min(32)))
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

/// A bridge network as this module needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BridgeNetwork {
    /// Names its nftables chains and tags its bridge: letters, digits, `_`.
    pub id: String,
    pub name: String,
    /// The bridge interface (≤ 15 characters).
    pub bridge: String,
    pub subnet: Subnet,
    /// The bridge's own address, the containers' default gateway.
    pub gateway: Ipv4Addr,
    /// No traffic leaves the bridge except between its members.
    pub internal: bool,
    /// The bridge's MTU; None: the kernel's default.
    #[serde(default)]
    pub mtu: Option<u32>,
}

/// One container on one network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// Letters, digits, `_`: names its veth's alias and its port chain.
    pub container_id: String,
    /// The container's network namespace (`/proc/PID/ns/net` or a bind
    /// mount of it); `attach_fd` takes an open one instead.
    pub netns: PathBuf,
    /// The bridge it joins.
    pub bridge: String,
    /// Its interface inside the container: `eth0`, `eth1`, …
    pub interface: String,
    pub address: Ipv4Addr,
    pub prefix: u8,
    pub mac: MacAddr,
    pub gateway: Ipv4Addr,
    /// Whether its default route goes through `gateway` (the first network).
    pub default_route: bool,
    /// The MTU of both ends of the veth pair (the network's); None: the
    /// kernel's default.
    #[serde(default)]
    pub mtu: Option<u32>,
    /// More routes through gateways on this network (`network create
    /// --route`).
    #[serde(default)]
    pub routes: Vec<StaticRoute>,
}

/// A route to `destination` via `gateway`, an address on the endpoint's
/// network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaticRoute {
    pub destination: Subnet,
    pub gateway: Ipv4Addr,
    pub metric: Option<u32>,
}

/// A published port: `host_ip:host_port` → the endpoint's `container_port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortForward {
    /// None (or 0.0.0.0): every address of the host.
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: Protocol,
}

/// The same protocol type `-p` parsing uses.
pub use crate::net::ports::Protocol;

/// An Ethernet address, written `02:42:0a:58:00:02`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// A locally administered unicast address derived from an IPv4 address
    /// (docker's scheme: `02:42` and the four bytes), unique per network
    /// because addresses are.
    pub fn from_ipv4(address: Ipv4Addr) -> MacAddr {
        let [a, b, c, d] = address.octets();
        MacAddr([0x02, 0x42, a, b, c, d])
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl FromStr for MacAddr {
    type Err = BridgeError;
    fn from_str(text: &str) -> Result<MacAddr, BridgeError> {
        let invalid = |reason| BridgeError::Invalid {
            what: "MAC address",
            value: text.to_string(),
            reason,
        };
        let mut bytes = [0u8; 6];
        let mut parts = text.split(':');
        for byte in &mut bytes {
            let part = parts.next().ok_or(invalid("expected six hex bytes"))?;
            if part.len() != 2 {
                return Err(invalid("expected six hex bytes"));
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| invalid("expected six hex bytes"))?;
        }
        if parts.next().is_some() {
            return Err(invalid("expected six hex bytes"));
        }
        if bytes[0] & 1 != 0 {
            return Err(invalid("a multicast address cannot be an interface's"));
        }
        Ok(MacAddr(bytes))
    }
}

impl Serialize for MacAddr {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MacAddr {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Names reach nft's text and the kernel: only what both take plainly.
fn check_identifier(what: &'static str, value: &str) -> Result<(), BridgeError> {
    if value.is_empty()
        || value.len() > 128
        || !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(BridgeError::Invalid {
            what,
            value: value.to_string(),
            reason: "expected 1 to 128 letters, digits or underscores",
        });
    }
    Ok(())
}

/// An interface name: 1-15 characters the kernel and nft both take; no
/// `-` in a container's interface (it separates the parts of chain names).
fn check_interface(what: &'static str, value: &str, dash_allowed: bool) -> Result<(), BridgeError> {
    let ok_char =
        |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.' || (dash_allowed && c == '-');
    if value.is_empty()
        || value.len() > 15
        || !value.chars().all(ok_char)
        || value == "."
        || value == ".."
    {
        return Err(BridgeError::Invalid {
            what,
            value: value.to_string(),
            reason: "expected an interface name of at most 15 letters, digits, '_' or '.'",
        });
    }
    Ok(())
}

fn check_prefix(what: &'static str, prefix: u8) -> Result<(), BridgeError> {
    if !(1..=30).contains(&prefix) {
        return Err(BridgeError::Invalid {
            what,
            value: prefix.to_string(),
            reason: "a bridge subnet's prefix length is 1 to 30",
        });
    }
    Ok(())
}

impl BridgeNetwork {
    pub(super) fn validate(&self) -> Result<(), BridgeError> {
        check_identifier("network id", &self.id)?;
        check_interface("bridge name", &self.bridge, true)?;
        check_prefix("subnet prefix", self.subnet.prefix)?;
        if !self.subnet.contains(self.gateway) {
            return Err(BridgeError::Invalid {
                what: "gateway",
                value: self.gateway.to_string(),
                reason: "not inside the network's subnet",
            });
        }
        Ok(())
    }
}

impl Endpoint {
    pub(super) fn validate(&self) -> Result<(), BridgeError> {
        check_identifier("container id", &self.container_id)?;
        check_interface("bridge name", &self.bridge, true)?;
        check_interface("container interface", &self.interface, false)?;
        check_prefix("address prefix", self.prefix)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_the_kernel_limit() {
        assert_eq!(bridge_name_for("0123456789abcdef"), "skiff-01234567");
        assert!(bridge_name_for("0123456789abcdef").len() <= 15);
        let veth = host_veth_name("abc", "eth0");
        assert_eq!(veth.len(), 12);
        assert!(veth.starts_with("veth"));
        assert_ne!(veth, host_veth_name("abc", "eth1"));
        assert_eq!(veth, host_veth_name("abc", "eth0"));
    }

    #[test]
    fn mac_addresses_round_trip_and_refuse_multicast() {
        let mac = MacAddr::from_ipv4(Ipv4Addr::new(10, 88, 0, 2));
        assert_eq!(mac.to_string(), "02:42:0a:58:00:02");
        assert_eq!("02:42:0a:58:00:02".parse::<MacAddr>().unwrap(), mac);
        assert!("01:00:5e:00:00:01".parse::<MacAddr>().is_err());
        assert!("02:42:0a:58:00".parse::<MacAddr>().is_err());
        assert!("02:42:0a:58:00:02:03".parse::<MacAddr>().is_err());
    }

    #[test]
    fn subnet_membership() {
        let subnet = Subnet {
            address: Ipv4Addr::new(10, 88, 0, 0),
            prefix: 16,
        };
        assert!(subnet.contains(Ipv4Addr::new(10, 88, 255, 1)));
        assert!(!subnet.contains(Ipv4Addr::new(10, 89, 0, 1)));
        assert_eq!(subnet.to_string(), "10.88.0.0/16");
    }

    #[test]
    fn names_that_would_reach_nft_unquoted_are_refused() {
        assert!(check_identifier("network id", "abc; flush ruleset").is_err());
        assert!(check_identifier("network id", "abc_123").is_ok());
        assert!(check_interface("bridge name", "skiff-0123456789", true).is_err());
        assert!(check_interface("container interface", "eth-0", false).is_err());
        assert!(check_interface("bridge name", "br\"x", true).is_err());
    }
}
