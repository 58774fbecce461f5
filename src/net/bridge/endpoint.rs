//! A container's place on a network: its veth pair, its address and route
//! inside its namespace, its published ports.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, UdpSocket};
use std::os::fd::{AsFd, BorrowedFd};

use super::netlink::{self, Rtnl};
use super::network::{link, open};
use super::{
    BridgeError, Endpoint, PortForward, Protocol, endpoint_alias, host_veth_name, nft, rules,
};

/// Attaches the container whose network namespace is `endpoint.netns`.
pub fn attach(endpoint: &Endpoint, forwards: &[PortForward]) -> Result<(), BridgeError> {
    endpoint.validate()?;
    let netns = File::open(&endpoint.netns).map_err(|source| BridgeError::Netns {
        path: endpoint.netns.clone(),
        source,
    })?;
    attach_fd(endpoint, netns.as_fd(), forwards)
}

/// Attaches a container given its network namespace as an open fd (the
/// caller may hold one from before the container's PID is known).
///
/// Three netlink round trips in the current namespace (the bridge's
/// index; the veth pair, made with its peer already in the container's
/// namespace; hairpin mode and alias on the host end), two in the
/// container's (the peer's index; lo and the peer up, the address and the
/// route in one batch), and one `nft` run only when ports are published:
/// about 1 ms without ports. On failure nothing is left: the veth pair is
/// deleted again.
pub fn attach_fd(
    endpoint: &Endpoint,
    netns: BorrowedFd<'_>,
    forwards: &[PortForward],
) -> Result<(), BridgeError> {
    endpoint.validate()?;
    let mut host = open()?;
    let bridge = link(&mut host, &endpoint.bridge)?.ok_or_else(|| BridgeError::NoBridge {
        bridge: endpoint.bridge.clone(),
    })?;
    for forward in forwards {
        check_port_free(forward)?;
    }
    if !forwards.is_empty() {
        let chain = rules::endpoint_chain(&endpoint.container_id, &endpoint.interface);
        if let Some(forward) = super::shadow::shadowed(&chain, forwards)? {
            return Err(port_in_use(forward));
        }
    }
    let veth = host_veth_name(&endpoint.container_id, &endpoint.interface);
    let alias = endpoint_alias(&endpoint.container_id, &endpoint.interface);
    create_pair(&mut host, endpoint, &veth, &alias, bridge.index, netns)?;
    let configured = host
        .run(vec![netlink::configure_port(&veth, &alias)])
        .map_err(BridgeError::netlink)
        .and_then(|()| configure_inside(endpoint, netns))
        .and_then(|()| publish(endpoint, forwards));
    if configured.is_err() {
        // Deleting one end deletes the pair.
        let _ = host.run(vec![netlink::delete_link(&veth)]);
    }
    configured
}

/// Makes the veth pair. A pair of that host name left by an earlier run
/// of this same endpoint (a restart that came before the kernel finished
/// removing the old namespace, or a crash) is deleted and made anew; any
/// other clash is an error.
fn create_pair(
    host: &mut Rtnl,
    endpoint: &Endpoint,
    veth: &str,
    alias: &str,
    bridge_index: u32,
    netns: BorrowedFd<'_>,
) -> Result<(), BridgeError> {
    let request = || {
        vec![netlink::create_veth(
            veth,
            bridge_index,
            &endpoint.interface,
            netns,
            endpoint.mac.0,
            endpoint.mtu,
        )]
    };
    let clash = || BridgeError::NameClash {
        name: format!("{veth} (or {} in the container)", endpoint.interface),
    };
    match host.run(request()) {
        Ok(()) => return Ok(()),
        Err(step) if step.source.raw_os_error() == Some(libc::EEXIST) => {}
        Err(step) => return Err(BridgeError::netlink(step)),
    }
    let ours = link(host, veth)?.is_some_and(|old| old.alias.as_deref() == Some(alias));
    if !ours {
        return Err(clash());
    }
    host.run(vec![netlink::delete_link(veth)])
        .map_err(BridgeError::netlink)?;
    match host.run(request()) {
        Ok(()) => Ok(()),
        Err(step) if step.source.raw_os_error() == Some(libc::EEXIST) => Err(clash()),
        Err(step) => Err(BridgeError::netlink(step)),
    }
}

/// Inside the container: lo up, the address, the default route.
fn configure_inside(endpoint: &Endpoint, netns: BorrowedFd<'_>) -> Result<(), BridgeError> {
    let mut inside = Rtnl::open_in(netns).map_err(|source| BridgeError::Netlink {
        what: "enter the container's network namespace".to_string(),
        source,
    })?;
    let peer = link(&mut inside, &endpoint.interface)?.ok_or_else(|| BridgeError::Netlink {
        what: format!("find {} in the container", endpoint.interface),
        source: std::io::Error::from_raw_os_error(libc::ENODEV),
    })?;
    let mut requests = vec![
        netlink::set_up("lo"),
        netlink::set_up(&endpoint.interface),
        netlink::add_address(
            peer.index,
            &endpoint.interface,
            endpoint.address,
            endpoint.prefix,
        ),
    ];
    if endpoint.default_route {
        requests.push(netlink::default_route(endpoint.gateway, peer.index));
    }
    for route in &endpoint.routes {
        requests.push(netlink::static_route(route, peer.index));
    }
    inside.run(requests).map_err(BridgeError::netlink)
}

fn publish(endpoint: &Endpoint, forwards: &[PortForward]) -> Result<(), BridgeError> {
    if forwards.is_empty() {
        return Ok(());
    }
    let what = format!("publish the ports of container {}", endpoint.container_id);
    nft::apply(&what, &rules::endpoint_ports(endpoint, forwards)).map_err(|error| match error {
        // An element of that key with another verdict: another container
        // publishes that port. nft names the failing command.
        BridgeError::Nft { what, message }
            if message.contains("File exists") || message.contains("busy") =>
        {
            forwards
                .iter()
                .find(|forward| message.contains(&format!("{{ {} :", rules::port_key(forward))))
                .map(port_in_use)
                .unwrap_or(BridgeError::Nft { what, message })
        }
        other => other,
    })
}

fn port_in_use(forward: &PortForward) -> BridgeError {
    BridgeError::PortInUse {
        address: forward.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED).to_string(),
        port: forward.host_port,
        protocol: forward.protocol,
    }
}

/// A host port a process of this namespace listens on would be shadowed
/// by the DNAT rule: refused, as docker and podman do. Checked by binding
/// it (and letting go at once).
fn check_port_free(forward: &PortForward) -> Result<(), BridgeError> {
    let address = SocketAddrV4::new(
        forward.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED),
        forward.host_port,
    );
    let bound = match forward.protocol {
        Protocol::Tcp => TcpListener::bind(address).map(drop),
        Protocol::Udp => UdpSocket::bind(address).map(drop),
    };
    match bound {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AddrInUse => Err(port_in_use(forward)),
        Err(source) => Err(BridgeError::PortUnavailable {
            address: address.ip().to_string(),
            port: forward.host_port,
            protocol: forward.protocol,
            source,
        }),
    }
}

/// Detaches an endpoint: its veth pair and its published ports. Idempotent:
/// a pair already gone (the container's namespace ended, which deletes it)
/// or rules already removed are no error.
///
/// Deleting a link waits for the kernel's RCU grace periods (10-40 ms
/// here); when the container has exited, [`detach_exited`] leaves that to
/// the kernel.
pub fn detach(endpoint: &Endpoint, forwards: &[PortForward]) -> Result<(), BridgeError> {
    endpoint.validate()?;
    let veth = host_veth_name(&endpoint.container_id, &endpoint.interface);
    let mut host = open()?;
    match host.run(vec![netlink::delete_link(&veth)]) {
        Ok(()) => {}
        Err(step) if step.source.raw_os_error() == Some(libc::ENODEV) => {}
        Err(step) => return Err(BridgeError::netlink(step)),
    }
    remove_ports(endpoint, forwards)
}

/// Detaches the endpoint of a container that has exited (the end of a
/// run): its published ports are removed now (its address may be given to
/// another container at once), and its veth pair is left to the kernel,
/// which deletes it with the container's network namespace, off the
/// caller's time. The caller must hold no fd of that namespace. Should
/// something else keep the namespace alive, the pair stays until
/// [`cleanup_stale`](super::cleanup_stale) (which the container is no
/// longer live for) or the next attach of the same endpoint removes it.
pub fn detach_exited(endpoint: &Endpoint, forwards: &[PortForward]) -> Result<(), BridgeError> {
    endpoint.validate()?;
    remove_ports(endpoint, forwards)
}

fn remove_ports(endpoint: &Endpoint, forwards: &[PortForward]) -> Result<(), BridgeError> {
    if forwards.is_empty() {
        return Ok(());
    }
    let what = format!(
        "remove the published ports of container {}",
        endpoint.container_id
    );
    match nft::apply(&what, &rules::remove_endpoint_ports(endpoint, forwards)) {
        Ok(()) => Ok(()),
        // No table at all: nothing of this endpoint's can be left.
        Err(_) if nft::list_table()?.is_none() => Ok(()),
        // The fast path refused (forwards differing from the attach's):
        // remove exactly what the table holds for this endpoint.
        Err(_) => {
            super::stale::remove_endpoint_rules(&endpoint.container_id, Some(&endpoint.interface))
        }
    }
}
