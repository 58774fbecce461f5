//! The nftables rules skiff's bridges need, as the text `nft -f -` reads:
//! pure functions of the network or the endpoint, so unit tests read the
//! rules without a kernel.
//!
//! One table, `inet skiff`, holds everything. Per-network and per-endpoint
//! state is chains plus elements of verdict maps that jump to them, never
//! a rule added to a shared chain: removing a network or an endpoint is
//! deleting its elements and its chains, exactly, without listing rule
//! handles first.
//!
//! Every batch is idempotent: `add` of a table, chain, set or an identical
//! element is a no-op when it exists, and a chain's rules are written after
//! a `flush` of it in the same (atomic) transaction. Removal adds what it
//! deletes first (`add` then `delete`), so deleting what is already gone
//! succeeds; an element that exists with another verdict (a port another
//! container holds) makes the batch fail instead of deleting it.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use super::{BridgeNetwork, Endpoint, PortForward};

pub(super) const TABLE: &str = "inet skiff";

/// Chains, then sets and maps, then rules, then elements: nft 1.0.6
/// refuses an interval-map element jumping to a chain made in the same
/// batch after the map, so chains come first.
#[derive(Default)]
struct Batch {
    chains: String,
    maps: String,
    rules: String,
    elements: String,
    tail: String,
}

impl Batch {
    fn chain(&mut self, name: &str, base: Option<&str>) {
        match base {
            Some(spec) => writeln!(self.chains, "add chain {TABLE} {name} {{ {spec} }}"),
            None => writeln!(self.chains, "add chain {TABLE} {name}"),
        }
        .unwrap();
        writeln!(self.chains, "flush chain {TABLE} {name}").unwrap();
    }

    fn rule(&mut self, chain: &str, rule: &str) {
        writeln!(self.rules, "add rule {TABLE} {chain} {rule}").unwrap();
    }

    fn element(&mut self, map: &str, element: &str) {
        writeln!(self.elements, "add element {TABLE} {map} {{ {element} }}").unwrap();
    }

    fn text(self) -> String {
        format!(
            "add table {TABLE}\n{}{}{}{}{}",
            self.chains, self.maps, self.rules, self.elements, self.tail
        )
    }
}

/// The table's fixed part: base chains hooked into the kernel, the maps
/// they dispatch through, and the rules that never change.
fn base(batch: &mut Batch) {
    batch.chain(
        "forward",
        Some("type filter hook forward priority filter; policy accept;"),
    );
    batch.chain(
        "postrouting",
        Some("type nat hook postrouting priority srcnat; policy accept;"),
    );
    batch.chain(
        "prerouting",
        Some("type nat hook prerouting priority dstnat; policy accept;"),
    );
    batch.chain(
        "output",
        Some("type nat hook output priority -100; policy accept;"),
    );
    batch.chain(
        "input",
        Some("type filter hook input priority filter; policy accept;"),
    );
    batch.chain("hostports", None);
    // Interface names of skiff's bridges: isolation drops traffic routed
    // from one to another.
    writeln!(batch.maps, "add set {TABLE} bridges {{ type ifname; }}").unwrap();
    // Bridge name -> its network's forward chain (traffic coming from it).
    writeln!(
        batch.maps,
        "add map {TABLE} from_bridge {{ type ifname : verdict; }}"
    )
    .unwrap();
    // Subnet -> its network's masquerade chain.
    writeln!(
        batch.maps,
        "add map {TABLE} from_subnet {{ type ipv4_addr : verdict; flags interval; }}"
    )
    .unwrap();
    // Published ports: on every local address, and on one address.
    writeln!(
        batch.maps,
        "add map {TABLE} ports_any {{ type inet_proto . inet_service : verdict; }}"
    )
    .unwrap();
    writeln!(
        batch.maps,
        "add map {TABLE} ports_ip {{ type ipv4_addr . inet_proto . inet_service : verdict; }}"
    )
    .unwrap();
    batch.rule("forward", "iifname vmap @from_bridge");
    // A published port reached from the host through 127.0.0.1: the
    // bridge has route_localnet so the DNATed packet may leave with that
    // source, and the source becomes the gateway so the container can
    // answer (netavark does the same).
    batch.rule(
        "postrouting",
        "ip saddr 127.0.0.0/8 oifname @bridges ct status dnat masquerade",
    );
    batch.rule("postrouting", "ip saddr vmap @from_subnet");
    // route_localnet on the bridges also lets a container send to the
    // host's 127.0.0.0/8 through its gateway (CVE-2020-8558): only the
    // replies and DNATed packets of published 127.0.0.1 ports may come in.
    batch.rule(
        "input",
        "iifname @bridges ip daddr 127.0.0.0/8 ct status & dnat == 0 drop",
    );
    // Only traffic to an address of this host is a published port; the
    // output hook covers connections made from the host itself.
    batch.rule("prerouting", "fib daddr type local jump hostports");
    batch.rule("output", "fib daddr type local jump hostports");
    batch.rule(
        "hostports",
        "ip daddr . meta l4proto . th dport vmap @ports_ip",
    );
    batch.rule("hostports", "meta l4proto . th dport vmap @ports_any");
}

fn forward_chain(network: &BridgeNetwork) -> String {
    format!("n-{}-forward", network.id)
}

fn nat_chain(network: &BridgeNetwork) -> String {
    format!("n-{}-nat", network.id)
}

/// Everything a network needs, the table's fixed part included.
pub(super) fn network(network: &BridgeNetwork) -> String {
    let mut batch = Batch::default();
    base(&mut batch);
    let bridge = &network.bridge;
    let forward = forward_chain(network);
    let nat = nat_chain(network);
    batch.chain(&forward, None);
    batch.chain(&nat, None);
    // Routed back into the same bridge (a container reaching a published
    // port of a peer through the host): its own business.
    batch.rule(&forward, &format!("oifname \"{bridge}\" return"));
    if network.internal {
        // Nothing leaves an internal network but towards its peers.
        batch.rule(&forward, "drop");
    } else {
        // A published port of a container on another network is reachable,
        // as from anywhere else; replies of such a connection too.
        batch.rule(&forward, "ct status dnat return");
        // Isolation: never routed to another skiff network.
        batch.rule(&forward, "oifname @bridges drop");
        // Outbound traffic leaves with the address of the interface it
        // leaves by.
        batch.rule(&nat, &format!("oifname != \"{bridge}\" masquerade"));
    }
    // A container reaching a published port through the host, served on
    // this same bridge: the answer must come back through the host too.
    batch.rule(&nat, "ct status dnat masquerade");
    batch.element("bridges", &format!("\"{bridge}\""));
    batch.element("from_bridge", &format!("\"{bridge}\" : jump {forward}"));
    batch.element("from_subnet", &format!("{} : jump {nat}", network.subnet));
    batch.text()
}

/// Removes one network's chains and elements, leaving the table.
pub(super) fn remove_network(network: &BridgeNetwork) -> String {
    // Re-adding first makes the deletes succeed whatever is left.
    let mut text = self::network(network);
    let bridge = &network.bridge;
    for (map, key) in [
        ("bridges", format!("\"{bridge}\"")),
        ("from_bridge", format!("\"{bridge}\"")),
        ("from_subnet", network.subnet.to_string()),
    ] {
        writeln!(text, "delete element {TABLE} {map} {{ {key} }}").unwrap();
    }
    for chain in [forward_chain(network), nat_chain(network)] {
        writeln!(text, "delete chain {TABLE} {chain}").unwrap();
    }
    text
}

/// Removes the whole table (the last network went).
pub(super) fn remove_table() -> String {
    format!("add table {TABLE}\ndelete table {TABLE}\n")
}

/// The chain holding one endpoint's DNAT rules: named after the container
/// and the interface, so leftovers are found by name.
pub(super) fn endpoint_chain(container_id: &str, interface: &str) -> String {
    format!("c-{container_id}-{interface}")
}

/// The container id and interface of an endpoint chain's name.
pub(super) fn parse_endpoint_chain(name: &str) -> Option<(&str, &str)> {
    let rest = name.strip_prefix("c-")?;
    rest.rsplit_once('-')
}

fn port_map(forward: &PortForward) -> &'static str {
    match host_ip(forward) {
        Some(_) => "ports_ip",
        None => "ports_any",
    }
}

/// The key of a forward's element in its map, as nft writes it.
pub(super) fn port_key(forward: &PortForward) -> String {
    match host_ip(forward) {
        Some(ip) => format!("{ip} . {} . {}", forward.protocol, forward.host_port),
        None => format!("{} . {}", forward.protocol, forward.host_port),
    }
}

/// 0.0.0.0 means every address, as for `-p 0.0.0.0:8080:80`.
pub(super) fn host_ip(forward: &PortForward) -> Option<Ipv4Addr> {
    forward.host_ip.filter(|ip| !ip.is_unspecified())
}

/// An endpoint's published ports: its chain with one DNAT rule per port
/// and one element per port jumping to it.
pub(super) fn endpoint_ports(endpoint: &Endpoint, forwards: &[PortForward]) -> String {
    let chain = endpoint_chain(&endpoint.container_id, &endpoint.interface);
    let mut text = format!("add chain {TABLE} {chain}\nflush chain {TABLE} {chain}\n");
    for forward in forwards {
        let destination = match host_ip(forward) {
            Some(ip) => format!("ip daddr {ip} "),
            None => String::new(),
        };
        writeln!(
            text,
            "add rule {TABLE} {chain} {destination}meta l4proto {} th dport {} dnat ip to {}:{}",
            forward.protocol, forward.host_port, endpoint.address, forward.container_port
        )
        .unwrap();
    }
    for forward in forwards {
        writeln!(
            text,
            "add element {TABLE} {} {{ {} : jump {chain} }}",
            port_map(forward),
            port_key(forward)
        )
        .unwrap();
    }
    text
}

/// Removes an endpoint's published ports: its elements, then its chain.
pub(super) fn remove_endpoint_ports(endpoint: &Endpoint, forwards: &[PortForward]) -> String {
    let chain = endpoint_chain(&endpoint.container_id, &endpoint.interface);
    let mut text = String::new();
    for forward in forwards {
        let (map, key) = (port_map(forward), port_key(forward));
        writeln!(text, "add element {TABLE} {map} {{ {key} : jump {chain} }}").unwrap();
        writeln!(text, "delete element {TABLE} {map} {{ {key} }}").unwrap();
    }
    text.push_str(&remove_chain(&chain));
    text
}

/// Deletes a chain whether or not it exists (nothing may jump to it).
pub(super) fn remove_chain(chain: &str) -> String {
    format!(
        "add chain {TABLE} {chain}\nflush chain {TABLE} {chain}\ndelete chain {TABLE} {chain}\n"
    )
}

/// Deletes one element given by its map and key text.
pub(super) fn remove_element(map: &str, key: &str) -> String {
    format!("delete element {TABLE} {map} {{ {key} }}\n")
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
