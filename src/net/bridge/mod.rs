//! Bridge networks in the current network namespace: a Linux bridge per
//! network, a veth pair per container endpoint (links and addresses over
//! netlink), NAT, published ports and isolation with nftables (`nft -f -`).
//!
//! It works wherever the caller has CAP_NET_ADMIN over the current network
//! namespace and the container's: the host's as root, or the shared
//! rootless namespace inside a user namespace. It keeps no state of its
//! own: what exists is read back from the kernel (links carry an alias
//! naming their owner; nftables chains are named after them).
//!
//! The caller (network model, IPAM, engine) decides names and addresses
//! and passes plain data; see DESIGN.md "Bridge networks (`net/bridge`)".

mod endpoint;
mod forward_routes;
mod netlink;
mod network;
mod nft;
mod rules;
mod shadow;
mod stale;
mod types;

pub use endpoint::{attach, attach_fd, detach, detach_exited};
pub use forward_routes::{forwarder_tap, route_forwarder, unroute_forwarder};
pub use network::{attach_to, ensure_network, remove_network, restore_rules};
pub use stale::cleanup_stale;
pub use types::{
    BridgeNetwork, DEFAULT_BRIDGE, Endpoint, MacAddr, PortForward, Protocol, StaticRoute, Subnet,
    bridge_name_for, host_veth_name,
};

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    #[error("invalid {what} {value:?}: {reason}")]
    Invalid {
        what: &'static str,
        value: String,
        reason: &'static str,
    },
    /// A netlink step failed; `what` says which ("create bridge skiff0").
    #[error("{what}: {source}")]
    Netlink { what: String, source: io::Error },
    #[error("a network interface named {name} already exists and is not skiff's")]
    NameClash { name: String },
    #[error("network bridge {bridge} does not exist: create the network first")]
    NoBridge { bridge: String },
    #[error("host port {address}:{port}/{protocol} is already in use")]
    PortInUse {
        address: String,
        port: u16,
        protocol: Protocol,
    },
    #[error("cannot publish port {port}/{protocol} on {address}: {source}")]
    PortUnavailable {
        address: String,
        port: u16,
        protocol: Protocol,
        source: io::Error,
    },
    #[error("cannot open network namespace {}: {source}", path.display())]
    Netns { path: PathBuf, source: io::Error },
    #[error("cannot set {path}: {source}")]
    Sysctl { path: String, source: io::Error },
    #[error("cannot run nft (the nftables program): {source}")]
    NftUnavailable { source: io::Error },
    /// `what` says what was attempted ("set up nftables rules for network
    /// web"); `message` is nft's own.
    #[error("cannot {what}: {message}")]
    Nft { what: String, message: String },
}

impl BridgeError {
    fn netlink(step: netlink::StepError) -> BridgeError {
        BridgeError::Netlink {
            what: step.what,
            source: step.source,
        }
    }
}

/// Link aliases: how skiff recognises its own bridges and veths (and the
/// owner of a leftover veth) without any state file.
const NETWORK_ALIAS_PREFIX: &str = "skiff-network:";
const ENDPOINT_ALIAS_PREFIX: &str = "skiff-endpoint:";

fn network_alias(network: &BridgeNetwork) -> String {
    format!("{NETWORK_ALIAS_PREFIX}{}", network.id)
}

fn endpoint_alias(container_id: &str, interface: &str) -> String {
    format!("{ENDPOINT_ALIAS_PREFIX}{container_id}:{interface}")
}

/// The container id of an endpoint alias.
fn endpoint_alias_owner(alias: &str) -> Option<&str> {
    alias.strip_prefix(ENDPOINT_ALIAS_PREFIX)?.split(':').next()
}

/// Writes a sysctl of the current network namespace (net sysctls are per
/// namespace, resolved by the writing thread's namespace), skipping the
/// write when it already holds the value.
fn set_sysctl(path: &str, value: &str) -> Result<(), BridgeError> {
    if std::fs::read_to_string(path).is_ok_and(|current| current.trim() == value) {
        return Ok(());
    }
    std::fs::write(path, value).map_err(|source| BridgeError::Sysctl {
        path: path.to_string(),
        source,
    })
}
