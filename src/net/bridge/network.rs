//! A network's bridge and rules: made on first use, removed with the
//! network.

use super::netlink::{self, Rtnl};
use super::{
    BridgeError, BridgeNetwork, NETWORK_ALIAS_PREFIX, network_alias, nft, rules, set_sysctl,
};

/// Makes the network usable: its nftables rules, forwarding on, the bridge
/// with the gateway address, up. Idempotent and cheap when done: a bridge
/// that is up is the last step, so finding one (with skiff's alias) means
/// the rest is in place and costs one netlink request.
///
/// Forwarding: `net.ipv4.ip_forward` is set to 1 in the current network
/// namespace; as root that is the host's, as podman and docker do (outbound
/// traffic of containers is routed). It is never set back: other software
/// may rely on it by then.
pub fn ensure_network(network: &BridgeNetwork) -> Result<(), BridgeError> {
    network.validate()?;
    let mut rtnl = open()?;
    let alias = network_alias(network);
    let existing = link(&mut rtnl, &network.bridge)?;
    if let Some(link) = &existing {
        if link.alias.as_deref() != Some(alias.as_str()) {
            return Err(BridgeError::NameClash {
                name: network.bridge.clone(),
            });
        }
        if link.up {
            return Ok(());
        }
    }
    // Rules first: a bridge that is up implies its rules exist.
    nft::apply(
        &format!("set up nftables rules for network {}", network.name),
        &rules::network(network),
    )?;
    set_sysctl("/proc/sys/net/ipv4/ip_forward", "1")?;
    if existing.is_none() {
        let created = rtnl.run(vec![netlink::create_bridge(&network.bridge, network.mtu)]);
        match created {
            Ok(()) => {}
            // Another skiff made it meanwhile; its alias is checked below.
            Err(step) if step.source.raw_os_error() == Some(libc::EEXIST) => {}
            Err(step) => return Err(BridgeError::netlink(step)),
        }
        rtnl.run(vec![netlink::set_alias(&network.bridge, &alias)])
            .map_err(BridgeError::netlink)?;
    }
    let bridge = link(&mut rtnl, &network.bridge)?.ok_or_else(|| BridgeError::NoBridge {
        bridge: network.bridge.clone(),
    })?;
    if bridge.alias.as_deref() != Some(alias.as_str()) {
        return Err(BridgeError::NameClash {
            name: network.bridge.clone(),
        });
    }
    // A published port reached through 127.0.0.1 is DNATed to a container
    // and leaves by the bridge with a loopback source; the kernel drops
    // that as martian unless the outgoing interface allows it.
    set_sysctl(
        &format!("/proc/sys/net/ipv4/conf/{}/route_localnet", network.bridge),
        "1",
    )?;
    rtnl.run(vec![netlink::add_address(
        bridge.index,
        &network.bridge,
        network.gateway,
        network.subnet.prefix,
    )])
    .map_err(BridgeError::netlink)?;
    // Up only once everything else succeeded (a batch goes on after a
    // failed step): up is what the fast path above trusts.
    rtnl.run(vec![netlink::set_up(&network.bridge)])
        .map_err(BridgeError::netlink)
}

/// [`attach`](super::attach) for an endpoint of `network`, mending the
/// network's rules when something flushed them (`nft flush ruleset`, as a
/// restart of nftables or a firewalld reload does) while its bridge stayed
/// up, which [`ensure_network`]'s fast path cannot see: publishing ports
/// then fails with ENOENT, the idempotent network batch is applied again
/// and the attach is tried once more. Without published ports no `nft`
/// runs, so nothing is noticed (or costs anything) then.
pub fn attach_to(
    network: &BridgeNetwork,
    endpoint: &super::Endpoint,
    forwards: &[super::PortForward],
) -> Result<(), BridgeError> {
    match super::attach(endpoint, forwards) {
        Err(BridgeError::Nft { message, .. }) if message.contains("No such file or directory") => {
            nft::apply(
                &format!("restore the nftables rules of network {}", network.name),
                &rules::network(network),
            )?;
            super::attach(endpoint, forwards)
        }
        other => other,
    }
}

/// Puts back the rules of `network` and those of `endpoint`'s published
/// ports: what `nft flush ruleset` (a restart of nftables, a firewalld
/// reload) removed while the bridge and the container stayed (`network
/// reload`). Both batches are idempotent, so rules still in place are
/// no error.
pub fn restore_rules(
    network: &BridgeNetwork,
    endpoint: &super::Endpoint,
    forwards: &[super::PortForward],
) -> Result<(), BridgeError> {
    network.validate()?;
    endpoint.validate()?;
    nft::apply(
        &format!("restore the nftables rules of network {}", network.name),
        &rules::network(network),
    )?;
    if forwards.is_empty() {
        return Ok(());
    }
    nft::apply(
        &format!(
            "restore the published ports of container {}",
            endpoint.container_id
        ),
        &rules::endpoint_ports(endpoint, forwards),
    )
}

/// Removes the network's bridge (its remaining ports are detached by the
/// kernel, not deleted) and its rules; the whole table when no skiff
/// bridge is left. Idempotent; a link of that name that is not skiff's is
/// left alone.
pub fn remove_network(network: &BridgeNetwork) -> Result<(), BridgeError> {
    network.validate()?;
    let mut rtnl = open()?;
    let alias = network_alias(network);
    if let Some(link) = link(&mut rtnl, &network.bridge)?
        && link.alias.as_deref() == Some(alias.as_str())
    {
        match rtnl.run(vec![netlink::delete_link(&network.bridge)]) {
            Ok(()) => {}
            Err(step) if step.source.raw_os_error() == Some(libc::ENODEV) => {}
            Err(step) => return Err(BridgeError::netlink(step)),
        }
    }
    let others = rtnl
        .links()
        .map_err(|source| BridgeError::Netlink {
            what: "list network interfaces".to_string(),
            source,
        })?
        .into_iter()
        .any(|link| {
            link.alias
                .is_some_and(|alias| alias.starts_with(NETWORK_ALIAS_PREFIX))
        });
    if others {
        nft::apply(
            &format!("remove the nftables rules of network {}", network.name),
            &rules::remove_network(network),
        )
    } else {
        nft::apply("remove skiff's nftables table", &rules::remove_table())
    }
}

pub(super) fn open() -> Result<Rtnl, BridgeError> {
    Rtnl::open().map_err(|source| BridgeError::Netlink {
        what: "open a netlink socket".to_string(),
        source,
    })
}

pub(super) fn link(
    rtnl: &mut Rtnl,
    name: &str,
) -> Result<Option<netlink::LinkSummary>, BridgeError> {
    rtnl.link(name).map_err(|source| BridgeError::Netlink {
        what: format!("look up interface {name}"),
        source,
    })
}
