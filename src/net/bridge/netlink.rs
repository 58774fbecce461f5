//! A synchronous rtnetlink socket: requests go out in batches (one
//! `send` for several messages, every one acknowledged) so an attach costs
//! a handful of system calls, not a process per step. No tokio: the run
//! path is single-threaded and blocking is what it wants.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::BorrowedFd;

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST, NetlinkHeader,
    NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::AddressFamily;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    InfoBridgePort, InfoData, InfoKind, InfoPortData, InfoPortKind, InfoVeth, LinkAttribute,
    LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

/// One request of a batch: the message, its extra flags (create, exclusive)
/// and what it does, for the error that names a failed step.
pub(super) struct Request {
    message: RouteNetlinkMessage,
    flags: u16,
    pub(super) what: String,
}

impl Request {
    /// A request built elsewhere in the backend (`forward_routes`).
    pub(super) fn new(message: RouteNetlinkMessage, flags: u16, what: String) -> Request {
        Request {
            message,
            flags,
            what,
        }
    }
}

/// A failed step of a batch: which one, and the kernel's answer.
#[derive(Debug)]
pub(super) struct StepError {
    pub(super) what: String,
    pub(super) source: io::Error,
}

/// A link as a dump reports it: enough to find skiff's own.
#[derive(Debug, Clone)]
pub(super) struct LinkSummary {
    pub(super) index: u32,
    pub(super) name: String,
    pub(super) alias: Option<String>,
    pub(super) up: bool,
}

const RECEIVE_DEADLINE_SECONDS: i64 = 30;

pub(super) struct Rtnl {
    socket: Socket,
    sequence: u32,
}

impl Rtnl {
    /// A socket in the caller's network namespace.
    pub(super) fn open() -> io::Result<Rtnl> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        // The kernel answers at once; a deadline turns a lost answer into
        // an error instead of a hang.
        nix::sys::socket::setsockopt(
            &socket,
            nix::sys::socket::sockopt::ReceiveTimeout,
            &nix::sys::time::TimeVal::new(RECEIVE_DEADLINE_SECONDS, 0),
        )
        .map_err(io::Error::from)?;
        Ok(Rtnl {
            socket,
            sequence: 0,
        })
    }

    /// A socket in another network namespace. A netlink socket stays in
    /// the namespace it was made in, so a short-lived thread enters the
    /// namespace, makes the socket and ends: the caller's own thread never
    /// changes namespace (nothing to restore, nothing left half-switched
    /// on an error).
    pub(super) fn open_in(netns: BorrowedFd<'_>) -> io::Result<Rtnl> {
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    nix::sched::setns(netns, nix::sched::CloneFlags::CLONE_NEWNET)
                        .map_err(io::Error::from)?;
                    Rtnl::open()
                })
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("netns thread panicked")))
        })
    }

    fn next_sequence(&mut self) -> u32 {
        self.sequence = self.sequence.wrapping_add(1);
        self.sequence
    }

    fn serialize(&mut self, message: RouteNetlinkMessage, flags: u16) -> (u32, Vec<u8>) {
        let sequence = self.next_sequence();
        let mut packet =
            NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::from(message));
        packet.header.flags = NLM_F_REQUEST | flags;
        packet.header.sequence_number = sequence;
        packet.finalize();
        let mut buffer = vec![0; packet.buffer_len()];
        packet.serialize(&mut buffer);
        (sequence, buffer)
    }

    /// Sends every request in one write and waits for all the
    /// acknowledgements. The kernel runs them in order and goes on after a
    /// failure, so the first failure is returned once all have answered.
    pub(super) fn run(&mut self, requests: Vec<Request>) -> Result<(), StepError> {
        if requests.is_empty() {
            return Ok(());
        }
        let mut batch = Vec::new();
        let mut pending = Vec::new();
        for request in requests {
            let (sequence, bytes) = self.serialize(request.message, NLM_F_ACK | request.flags);
            batch.extend_from_slice(&bytes);
            pending.push((sequence, request.what));
        }
        let first_what = pending[0].1.clone();
        self.socket.send(&batch, 0).map_err(|source| StepError {
            what: first_what.clone(),
            source,
        })?;
        let mut first_error: Option<StepError> = None;
        let mut answered = 0;
        let mut buffer = vec![0u8; 65536];
        while answered < pending.len() {
            let size = self
                .socket
                .recv(&mut &mut buffer[..], 0)
                .map_err(|source| StepError {
                    what: first_what.clone(),
                    source,
                })?;
            for received in parse_all(&buffer[..size]) {
                let Some(position) = pending
                    .iter()
                    .position(|(sequence, _)| *sequence == received.sequence)
                else {
                    continue;
                };
                let failure = match received.message.map(|message| message.payload) {
                    Some(NetlinkPayload::Error(error)) => error
                        .code
                        .map(|code| io::Error::from_raw_os_error(-code.get())),
                    Some(_) => continue,
                    None => Some(unreadable()),
                };
                answered += 1;
                if let Some(source) = failure
                    && first_error.is_none()
                {
                    first_error = Some(StepError {
                        what: pending[position].1.clone(),
                        source,
                    });
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// The link called `name`, if there is one.
    pub(super) fn link(&mut self, name: &str) -> io::Result<Option<LinkSummary>> {
        let mut request = LinkMessage::default();
        request
            .attributes
            .push(LinkAttribute::IfName(name.to_string()));
        let (sequence, bytes) = self.serialize(RouteNetlinkMessage::GetLink(request), 0);
        self.socket.send(&bytes, 0)?;
        let mut buffer = vec![0u8; 65536];
        loop {
            let size = self.socket.recv(&mut &mut buffer[..], 0)?;
            for received in parse_all(&buffer[..size]) {
                if received.sequence != sequence {
                    continue;
                }
                let Some(message) = received.message else {
                    return Err(unreadable());
                };
                match message.payload {
                    NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(link)) => {
                        return Ok(Some(summarize(&link)));
                    }
                    NetlinkPayload::Error(error) => match error.code {
                        Some(code) if -code.get() == libc::ENODEV => return Ok(None),
                        Some(code) => return Err(io::Error::from_raw_os_error(-code.get())),
                        None => return Ok(None),
                    },
                    _ => {}
                }
            }
        }
    }

    /// Every link of this namespace.
    pub(super) fn links(&mut self) -> io::Result<Vec<LinkSummary>> {
        let (sequence, bytes) = self.serialize(
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            NLM_F_DUMP,
        );
        self.socket.send(&bytes, 0)?;
        let mut links = Vec::new();
        let mut buffer = vec![0u8; 65536];
        loop {
            let size = self.socket.recv(&mut &mut buffer[..], 0)?;
            for received in parse_all(&buffer[..size]) {
                // A link this crate cannot read is not one skiff made (its
                // bridges and veths are read fine): skipped.
                let Some(message) = received.message.filter(|_| received.sequence == sequence)
                else {
                    continue;
                };
                match message.payload {
                    NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(link)) => {
                        links.push(summarize(&link));
                    }
                    NetlinkPayload::Done(_) => return Ok(links),
                    NetlinkPayload::Error(error) => {
                        if let Some(code) = error.code {
                            return Err(io::Error::from_raw_os_error(-code.get()));
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

/// One message of a datagram: its sequence number, and the message when
/// it could be read.
struct Received {
    sequence: u32,
    message: Option<NetlinkMessage<RouteNetlinkMessage>>,
}

fn unreadable() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "unreadable netlink answer")
}

/// The messages of one datagram, split by their headers' lengths so one
/// the crate cannot read does not hide the others.
fn parse_all(mut bytes: &[u8]) -> Vec<Received> {
    let mut messages = Vec::new();
    // nlmsghdr: length u32, type u16, flags u16, sequence u32, port u32.
    while bytes.len() >= 16 {
        let length = u32::from_ne_bytes(bytes[0..4].try_into().unwrap()) as usize;
        let sequence = u32::from_ne_bytes(bytes[8..12].try_into().unwrap());
        if length < 16 || length > bytes.len() {
            break;
        }
        messages.push(Received {
            sequence,
            message: NetlinkMessage::deserialize(&bytes[..length]).ok(),
        });
        // Netlink messages are 4-byte aligned in a datagram.
        bytes = &bytes[((length + 3) & !3usize).min(bytes.len())..];
    }
    messages
}

fn summarize(link: &LinkMessage) -> LinkSummary {
    let mut summary = LinkSummary {
        index: link.header.index,
        name: String::new(),
        alias: None,
        up: link.header.flags.contains(LinkFlags::Up),
    };
    for attribute in &link.attributes {
        match attribute {
            LinkAttribute::IfName(name) => summary.name = name.clone(),
            LinkAttribute::IfAlias(alias) => summary.alias = Some(alias.clone()),
            _ => {}
        }
    }
    summary
}

// The requests skiff makes, as constructors: what each sends is visible in
// one place.

/// A bridge called `name`, of MTU `mtu` (None: the kernel's default); the
/// caller checked no link of that name exists.
pub(super) fn create_bridge(name: &str, mtu: Option<u32>) -> Request {
    let mut link = LinkMessage::default();
    link.attributes
        .push(LinkAttribute::IfName(name.to_string()));
    link.attributes.extend(mtu.map(LinkAttribute::Mtu));
    link.attributes
        .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
            InfoKind::Bridge,
        )]));
    Request {
        message: RouteNetlinkMessage::NewLink(link),
        flags: NLM_F_CREATE,
        what: format!("create bridge {name}"),
    }
}

/// Sets the alias skiff recognises its links by (a link of skiff's name
/// without it is someone else's).
pub(super) fn set_alias(name: &str, alias: &str) -> Request {
    let mut link = LinkMessage::default();
    link.attributes
        .push(LinkAttribute::IfName(name.to_string()));
    link.attributes
        .push(LinkAttribute::IfAlias(alias.to_string()));
    Request {
        message: RouteNetlinkMessage::SetLink(link),
        flags: 0,
        what: format!("set the alias of {name}"),
    }
}

pub(super) fn set_up(name: &str) -> Request {
    let mut link = LinkMessage::default();
    link.header.flags = LinkFlags::Up;
    link.header.change_mask = LinkFlags::Up;
    link.attributes
        .push(LinkAttribute::IfName(name.to_string()));
    Request {
        message: RouteNetlinkMessage::SetLink(link),
        flags: 0,
        what: format!("bring {name} up"),
    }
}

/// Adds `address/prefix` to the link `index`; with `NLM_F_REPLACE` an
/// address already there is no error (ensure_network is idempotent).
pub(super) fn add_address(index: u32, name: &str, address: Ipv4Addr, prefix: u8) -> Request {
    let mut message = AddressMessage::default();
    message.header.family = AddressFamily::Inet;
    message.header.prefix_len = prefix;
    message.header.index = index;
    message
        .attributes
        .push(AddressAttribute::Local(address.into()));
    message
        .attributes
        .push(AddressAttribute::Address(address.into()));
    Request {
        message: RouteNetlinkMessage::NewAddress(message),
        flags: NLM_F_CREATE | NLM_F_REPLACE,
        what: format!("add address {address}/{prefix} to {name}"),
    }
}

/// A veth pair: `host` on the bridge `bridge_index`, up, and its peer made
/// directly inside the namespace `netns` as `peer` with `mac`. Making
/// the peer there (IFLA_NET_NS_FD on the peer) avoids a second request to
/// move it and any clash with another container's `eth0` on the host.
/// `mtu` is given to both ends: the kernel gives the peer only its own
/// attributes.
pub(super) fn create_veth(
    host: &str,
    bridge_index: u32,
    peer: &str,
    netns: BorrowedFd<'_>,
    mac: [u8; 6],
    mtu: Option<u32>,
) -> Request {
    use std::os::fd::AsRawFd;
    // The peer cannot be created up: the kernel opens it before the pair
    // is linked (veth_open says ENOTCONN); it is brought up from inside.
    let mut peer_message = LinkMessage::default();
    peer_message
        .attributes
        .push(LinkAttribute::IfName(peer.to_string()));
    peer_message
        .attributes
        .push(LinkAttribute::NetNsFd(netns.as_raw_fd()));
    peer_message
        .attributes
        .push(LinkAttribute::Address(mac.to_vec()));
    peer_message.attributes.extend(mtu.map(LinkAttribute::Mtu));
    let mut link = LinkMessage::default();
    link.header.flags = LinkFlags::Up;
    link.header.change_mask = LinkFlags::Up;
    link.attributes
        .push(LinkAttribute::IfName(host.to_string()));
    link.attributes
        .push(LinkAttribute::Controller(bridge_index));
    link.attributes.extend(mtu.map(LinkAttribute::Mtu));
    link.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::Kind(InfoKind::Veth),
        LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_message))),
    ]));
    Request {
        message: RouteNetlinkMessage::NewLink(link),
        flags: NLM_F_CREATE | NLM_F_EXCL,
        what: format!("create veth pair {host}/{peer}"),
    }
}

/// Hairpin mode on a bridge port, and the port's alias. With
/// br_netfilter (on by default), a container reaching its own published
/// port through the host is DNATed while being bridged and must be sent
/// back out of the port it came in by; without hairpin the bridge refuses.
pub(super) fn configure_port(host: &str, alias: &str) -> Request {
    let mut link = LinkMessage::default();
    link.attributes
        .push(LinkAttribute::IfName(host.to_string()));
    link.attributes
        .push(LinkAttribute::IfAlias(alias.to_string()));
    link.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::PortKind(InfoPortKind::Bridge),
        LinkInfo::PortData(InfoPortData::BridgePort(vec![InfoBridgePort::HairpinMode(
            true,
        )])),
    ]));
    // RTM_NEWLINK without NLM_F_CREATE changes an existing link, and only
    // that path applies port (slave) data; RTM_SETLINK ignores it.
    Request {
        message: RouteNetlinkMessage::NewLink(link),
        flags: 0,
        what: format!("set hairpin mode and alias on {host}"),
    }
}

pub(super) fn delete_link(name: &str) -> Request {
    let mut link = LinkMessage::default();
    link.attributes
        .push(LinkAttribute::IfName(name.to_string()));
    Request {
        message: RouteNetlinkMessage::DelLink(link),
        flags: 0,
        what: format!("delete link {name}"),
    }
}

/// The default route via `gateway` (replacing one that is there).
pub(super) fn default_route(gateway: Ipv4Addr, index: u32) -> Request {
    let route = route_via(gateway, index);
    Request {
        message: RouteNetlinkMessage::NewRoute(route),
        flags: NLM_F_CREATE | NLM_F_REPLACE,
        what: format!("add the default route via {gateway}"),
    }
}

/// A route to `static_route.destination` via its gateway.
pub(super) fn static_route(static_route: &super::StaticRoute, index: u32) -> Request {
    let mut route = route_via(static_route.gateway, index);
    route.header.destination_prefix_length = static_route.destination.prefix;
    route
        .attributes
        .push(RouteAttribute::Destination(RouteAddress::Inet(
            static_route.destination.address,
        )));
    if let Some(metric) = static_route.metric {
        route.attributes.push(RouteAttribute::Priority(metric));
    }
    Request {
        message: RouteNetlinkMessage::NewRoute(route),
        flags: NLM_F_CREATE | NLM_F_REPLACE,
        what: format!(
            "add the route to {} via {}",
            static_route.destination, static_route.gateway
        ),
    }
}

/// A unicast route of the main table via `gateway` out of `index`.
fn route_via(gateway: Ipv4Addr, index: u32) -> RouteMessage {
    let mut route = RouteMessage::default();
    route.header.address_family = AddressFamily::Inet;
    route.header.table = RouteHeader::RT_TABLE_MAIN;
    route.header.protocol = RouteProtocol::Boot;
    route.header.scope = RouteScope::Universe;
    route.header.kind = RouteType::Unicast;
    route
        .attributes
        .push(RouteAttribute::Gateway(RouteAddress::Inet(gateway)));
    route.attributes.push(RouteAttribute::Oif(index));
    route
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ack(sequence: u32) -> Vec<u8> {
        let mut error = netlink_packet_core::ErrorMessage::default();
        error.code = None;
        let mut message = NetlinkMessage::<RouteNetlinkMessage>::new(
            NetlinkHeader::default(),
            NetlinkPayload::Error(error),
        );
        message.header.sequence_number = sequence;
        message.finalize();
        let mut bytes = vec![0; message.buffer_len()];
        message.serialize(&mut bytes);
        bytes
    }

    #[test]
    fn an_unreadable_message_does_not_hide_the_next_one() {
        let mut datagram = ack(1);
        // A RTM_NEWLINK (16) whose body is too short for an ifinfomsg.
        let mut broken = vec![0u8; 20];
        broken[0..4].copy_from_slice(&20u32.to_ne_bytes());
        broken[4..6].copy_from_slice(&16u16.to_ne_bytes());
        broken[8..12].copy_from_slice(&2u32.to_ne_bytes());
        datagram.extend_from_slice(&broken);
        datagram.extend_from_slice(&ack(3));
        let received = parse_all(&datagram);
        let summary: Vec<_> = received
            .iter()
            .map(|r| (r.sequence, r.message.is_some()))
            .collect();
        assert_eq!(summary, [(1, true), (2, false), (3, true)]);
    }
}
