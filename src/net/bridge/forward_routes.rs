//! The way back for connections a forwarding pasta delivers through its
//! tap (rootless published ports on bridge networks, from clients that
//! are not on the host's loopback).
//!
//! Such a pasta (`net::pasta::forwarder_arguments`) runs on the shared
//! rootless namespace with a tap of its own, `skp<id>`. A connection from
//! another machine reaches it on the host port; pasta sends it into the
//! tap with the client's real source and, as destination, the host's
//! address, which the shared namespace has too (its own pasta gave it).
//! The bridge's `prerouting` DNAT (`fib daddr type local`) then leads it
//! to the container like any packet for a local address. What this
//! module adds:
//! - the tap up, without reverse-path filtering (the client's address is
//!   routed by the namespace's default route, not by the tap, and the
//!   kernel's filter refuses every packet of a link without an address)
//!   and without IPv6 (nothing of skiff's is IPv6; pasta would answer
//!   router solicitations with the host's prefix);
//! - a conntrack mark for connections that come in by the tap
//!   (`forwarder_marks`: tap name → mark), copied onto the packet mark of
//!   their replies coming from a bridge;
//! - an `ip rule fwmark MARK lookup TABLE` and, in that table, a default
//!   route out of the tap: the replies leave through the pasta that holds
//!   the connection, not through the namespace's default route (the
//!   other pasta, which knows nothing of it).
//!
//! Mark and table are one number derived from the container id, so what
//! a run added is found again from the id alone (a `refresh` after a
//! kill -9 of the monitor has nothing more). The route goes with the tap
//! when its pasta ends; the rule and the map element are removed by
//! [`unroute_forwarder`].

use std::fmt::Write as _;

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE};
use netlink_packet_route::AddressFamily;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::route::{
    RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::rule::{RuleAction, RuleAttribute, RuleMessage};

use super::netlink::{self, Request};
use super::network::{link, open};
use super::rules::TABLE;
use super::{BridgeError, nft, set_sysctl};

/// The priority of skiff's rules: before the main table (32766).
const RULE_PRIORITY: u32 = 1000;
/// Marks and tables are `MARK_BASE | 28 bits of the id's hash`: clear of
/// the kernel's reserved tables (0, 253-255) and of small numbers people
/// pick by hand.
const MARK_BASE: u32 = 0x1000_0000;
const MAP: &str = "forwarder_marks";
const CHAIN: &str = "forwarders";

/// The tap of container `container_id`'s forwarding pasta.
pub fn forwarder_tap(container_id: &str) -> String {
    let short = container_id.get(..8).unwrap_or(container_id);
    format!("skp{short}")
}

/// The conntrack/packet mark and routing table of a container's
/// forwarder (FNV-1a of the id: any id, hex or not, gives one).
pub(super) fn forwarder_mark(container_id: &str) -> u32 {
    let hash = container_id.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    MARK_BASE | (hash & 0x0fff_ffff)
}

/// The nftables part: the chain and map (idempotent) and this tap's
/// element.
fn marking_rules(tap: &str, mark: u32) -> String {
    let mut text = format!("add table {TABLE}\n");
    writeln!(text, "add set {TABLE} bridges {{ type ifname; }}").unwrap();
    writeln!(text, "add map {TABLE} {MAP} {{ type ifname : mark; }}").unwrap();
    // Mangle priority: before the nat prerouting chain and, above all,
    // before the routing decision the packet mark is for.
    writeln!(
        text,
        "add chain {TABLE} {CHAIN} {{ type filter hook prerouting priority mangle; policy accept; }}"
    )
    .unwrap();
    writeln!(text, "flush chain {TABLE} {CHAIN}").unwrap();
    // A connection that comes in by a forwarder's tap remembers which.
    writeln!(
        text,
        "add rule {TABLE} {CHAIN} ct state new ct mark set iifname map @{MAP}"
    )
    .unwrap();
    // Its replies, from the container, are routed by that mark (the
    // un-DNAT to the host's address comes later, in postrouting).
    writeln!(
        text,
        "add rule {TABLE} {CHAIN} iifname @bridges ct direction reply meta mark set ct mark"
    )
    .unwrap();
    writeln!(
        text,
        "add element {TABLE} {MAP} {{ \"{tap}\" : {mark:#x} }}"
    )
    .unwrap();
    text
}

fn unmarking_rules(tap: &str) -> String {
    format!("delete element {TABLE} {MAP} {{ \"{tap}\" }}\n")
}

fn table_route(table: u32, index: Option<u32>) -> RouteMessage {
    let mut route = RouteMessage::default();
    route.header.address_family = AddressFamily::Inet;
    route.header.table = RouteHeader::RT_TABLE_UNSPEC;
    route.header.protocol = RouteProtocol::Boot;
    route.header.scope = RouteScope::Link;
    route.header.kind = RouteType::Unicast;
    route.attributes.push(RouteAttribute::Table(table));
    route.attributes.extend(index.map(RouteAttribute::Oif));
    route
}

fn fwmark_rule(mark: u32) -> RuleMessage {
    let mut rule = RuleMessage::default();
    rule.header.family = AddressFamily::Inet;
    rule.header.action = RuleAction::ToTable;
    rule.attributes.extend([
        RuleAttribute::Priority(RULE_PRIORITY),
        RuleAttribute::FwMark(mark),
        RuleAttribute::FwMask(u32::MAX),
        RuleAttribute::Table(mark),
    ]);
    rule
}

/// Makes the forwarder of `container_id` (its pasta is running, its tap
/// exists in the current namespace) answer clients that come in by its
/// tap. Idempotent.
pub fn route_forwarder(container_id: &str) -> Result<(), BridgeError> {
    let tap = forwarder_tap(container_id);
    let mark = forwarder_mark(container_id);
    let mut rtnl = open()?;
    let index = link(&mut rtnl, &tap)?
        .ok_or_else(|| BridgeError::Netlink {
            what: format!("find the forwarder's interface {tap}"),
            source: std::io::Error::from_raw_os_error(libc::ENODEV),
        })?
        .index;
    // Reverse-path filtering refuses anything arriving by a link without
    // an address, loose or strict (fib_validate_source); the effective
    // value is the larger of the link's and `all`'s, and `all` comes from
    // the host's at the namespace's birth. This is the shared namespace's
    // own setting: each link keeps its own value.
    set_sysctl(&format!("/proc/sys/net/ipv4/conf/{tap}/rp_filter"), "0")?;
    set_sysctl("/proc/sys/net/ipv4/conf/all/rp_filter", "0")?;
    let ipv6 = format!("/proc/sys/net/ipv6/conf/{tap}/disable_ipv6");
    if std::path::Path::new(&ipv6).exists() {
        set_sysctl(&ipv6, "1")?;
    }
    nft::apply(
        &format!("mark connections arriving by {tap}"),
        &marking_rules(&tap, mark),
    )?;
    // Up before its route (the kernel refuses a route out of a link that
    // is down); what arrives meanwhile is answered by the next
    // retransmission.
    rtnl.run(vec![netlink::set_up(&tap)])
        .map_err(BridgeError::netlink)?;
    rtnl.run(vec![Request::new(
        RouteNetlinkMessage::NewRoute(table_route(mark, Some(index))),
        NLM_F_CREATE | NLM_F_REPLACE,
        format!("add the default route of table {mark:#x} out of {tap}"),
    )])
    .map_err(BridgeError::netlink)?;
    // Rules may exist twice over: EXCL, and one already there is ours.
    match rtnl.run(vec![Request::new(
        RouteNetlinkMessage::NewRule(fwmark_rule(mark)),
        NLM_F_CREATE | NLM_F_EXCL,
        format!("add the rule fwmark {mark:#x} lookup {mark:#x}"),
    )]) {
        Ok(()) => {}
        Err(step) if step.source.raw_os_error() == Some(libc::EEXIST) => {}
        Err(step) => return Err(BridgeError::netlink(step)),
    }
    Ok(())
}

/// Removes what [`route_forwarder`] added for `container_id`, whether its
/// pasta still runs or not. Idempotent.
pub fn unroute_forwarder(container_id: &str) -> Result<(), BridgeError> {
    let tap = forwarder_tap(container_id);
    let mark = forwarder_mark(container_id);
    let mut rtnl = open()?;
    for (message, what) in [
        (
            RouteNetlinkMessage::DelRule(fwmark_rule(mark)),
            format!("delete the rule fwmark {mark:#x}"),
        ),
        // Gone with the tap, unless its pasta is still ending.
        (
            RouteNetlinkMessage::DelRoute(table_route(mark, None)),
            format!("delete the default route of table {mark:#x}"),
        ),
    ] {
        match rtnl.run(vec![Request::new(message, 0, what)]) {
            Ok(()) => {}
            Err(step)
                if matches!(
                    step.source.raw_os_error(),
                    Some(libc::ENOENT | libc::ESRCH | libc::ENODEV)
                ) => {}
            Err(step) => return Err(BridgeError::netlink(step)),
        }
    }
    // The element, when the map has it (never re-made just to delete it:
    // the table may be gone with the last network).
    let listed = nft::list_map_elements(MAP)?;
    if listed
        .iter()
        .any(|element| element.get(0).and_then(|key| key.as_str()) == Some(tap.as_str()))
    {
        nft::apply(
            &format!("stop marking connections arriving by {tap}"),
            &unmarking_rules(&tap),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_container_id_gives_one_tap_and_one_mark_clear_of_reserved_tables() {
        let id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(forwarder_tap(id), "skp01234567");
        let mark = forwarder_mark(id);
        assert_eq!(mark, forwarder_mark(id));
        assert_ne!(mark, forwarder_mark("f123456789abcdef"));
        assert!((MARK_BASE..2 * MARK_BASE).contains(&mark), "{mark:#x}");
    }

    #[test]
    fn connections_by_the_tap_are_marked_and_their_replies_carry_the_mark() {
        let text = marking_rules("skp01234567", 0x1234_5678);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.contains(
            &"add rule inet skiff forwarders ct state new ct mark set iifname map @forwarder_marks"
        ));
        assert!(lines.contains(
            &"add rule inet skiff forwarders iifname @bridges ct direction reply meta mark set ct mark"
        ));
        assert_eq!(
            lines.last(),
            Some(&"add element inet skiff forwarder_marks { \"skp01234567\" : 0x12345678 }")
        );
        assert_eq!(
            unmarking_rules("skp01234567"),
            "delete element inet skiff forwarder_marks { \"skp01234567\" }\n"
        );
    }
}
