use std::net::Ipv4Addr;
use std::path::PathBuf;

use super::*;
use crate::net::bridge::{MacAddr, Protocol, Subnet};

fn network(internal: bool) -> BridgeNetwork {
    BridgeNetwork {
        id: "abc123".to_string(),
        name: "my_bridge".to_string(),
        bridge: "skiff-abc123".to_string(),
        subnet: Subnet {
            address: Ipv4Addr::new(10, 89, 0, 0),
            prefix: 24,
        },
        gateway: Ipv4Addr::new(10, 89, 0, 1),
        internal,
        mtu: None,
    }
}

fn endpoint() -> Endpoint {
    Endpoint {
        container_id: "c0ffee".to_string(),
        netns: PathBuf::from("/proc/1/ns/net"),
        bridge: "skiff0".to_string(),
        interface: "eth0".to_string(),
        address: Ipv4Addr::new(10, 88, 0, 5),
        prefix: 16,
        mac: MacAddr::from_ipv4(Ipv4Addr::new(10, 88, 0, 5)),
        gateway: Ipv4Addr::new(10, 88, 0, 1),
        default_route: true,
        mtu: None,
        routes: Vec::new(),
    }
}

fn forward(host_ip: Option<Ipv4Addr>, host_port: u16, protocol: Protocol) -> PortForward {
    PortForward {
        host_ip,
        host_port,
        container_port: 80,
        protocol,
    }
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

#[test]
fn a_network_masquerades_outbound_and_is_isolated_from_other_bridges() {
    let text = super::network(&network(false));
    let lines = lines(&text);
    assert_eq!(lines[0], "add table inet skiff");
    for expected in [
        "add rule inet skiff n-abc123-forward oifname \"skiff-abc123\" return",
        "add rule inet skiff n-abc123-forward ct status dnat return",
        "add rule inet skiff n-abc123-forward oifname @bridges drop",
        "add rule inet skiff n-abc123-nat oifname != \"skiff-abc123\" masquerade",
        "add rule inet skiff n-abc123-nat ct status dnat masquerade",
        "add element inet skiff bridges { \"skiff-abc123\" }",
        "add element inet skiff from_bridge { \"skiff-abc123\" : jump n-abc123-forward }",
        "add element inet skiff from_subnet { 10.89.0.0/24 : jump n-abc123-nat }",
    ] {
        assert!(lines.contains(&expected), "missing {expected:?} in\n{text}");
    }
    // Every chain is flushed right after it is added, so a second run of
    // the batch does not duplicate rules.
    for (i, line) in lines.iter().enumerate() {
        if let Some(rest) = line.strip_prefix("add chain inet skiff ") {
            let name = rest.split(' ').next().unwrap();
            assert_eq!(lines[i + 1], format!("flush chain inet skiff {name}"));
        }
    }
}

#[test]
fn chains_come_before_the_maps_that_jump_to_them() {
    let text = super::network(&network(false));
    let last_chain = lines(&text)
        .iter()
        .rposition(|l| l.starts_with("add chain"))
        .unwrap();
    let first_map = text.lines().position(|l| l.starts_with("add map")).unwrap();
    let first_element = text
        .lines()
        .position(|l| l.starts_with("add element"))
        .unwrap();
    assert!(
        last_chain < first_map && first_map < first_element,
        "{text}"
    );
}

#[test]
fn an_internal_network_sends_nothing_out_and_masquerades_only_hairpin() {
    let text = super::network(&network(true));
    let forward: Vec<_> = text
        .lines()
        .filter(|l| l.starts_with("add rule inet skiff n-abc123-forward"))
        .collect();
    assert_eq!(
        forward,
        [
            "add rule inet skiff n-abc123-forward oifname \"skiff-abc123\" return",
            "add rule inet skiff n-abc123-forward drop",
        ]
    );
    assert!(!text.contains("oifname != \"skiff-abc123\" masquerade"));
}

#[test]
fn published_ports_dnat_to_the_container_per_address_and_protocol() {
    let text = endpoint_ports(
        &endpoint(),
        &[
            forward(None, 8080, Protocol::Tcp),
            forward(Some(Ipv4Addr::LOCALHOST), 8081, Protocol::Udp),
            forward(Some(Ipv4Addr::UNSPECIFIED), 8082, Protocol::Tcp),
        ],
    );
    assert_eq!(
        lines(&text),
        [
            "add chain inet skiff c-c0ffee-eth0",
            "flush chain inet skiff c-c0ffee-eth0",
            "add rule inet skiff c-c0ffee-eth0 meta l4proto tcp th dport 8080 dnat ip to 10.88.0.5:80",
            "add rule inet skiff c-c0ffee-eth0 ip daddr 127.0.0.1 meta l4proto udp th dport 8081 dnat ip to 10.88.0.5:80",
            "add rule inet skiff c-c0ffee-eth0 meta l4proto tcp th dport 8082 dnat ip to 10.88.0.5:80",
            "add element inet skiff ports_any { tcp . 8080 : jump c-c0ffee-eth0 }",
            "add element inet skiff ports_ip { 127.0.0.1 . udp . 8081 : jump c-c0ffee-eth0 }",
            "add element inet skiff ports_any { tcp . 8082 : jump c-c0ffee-eth0 }",
        ]
    );
}

#[test]
fn removing_ports_deletes_elements_before_the_chain_and_tolerates_absence() {
    let text = remove_endpoint_ports(&endpoint(), &[forward(None, 8080, Protocol::Tcp)]);
    assert_eq!(
        lines(&text),
        [
            "add element inet skiff ports_any { tcp . 8080 : jump c-c0ffee-eth0 }",
            "delete element inet skiff ports_any { tcp . 8080 }",
            "add chain inet skiff c-c0ffee-eth0",
            "flush chain inet skiff c-c0ffee-eth0",
            "delete chain inet skiff c-c0ffee-eth0",
        ]
    );
}

#[test]
fn endpoint_chain_names_give_back_container_and_interface() {
    let name = endpoint_chain("c0ffee", "eth1");
    assert_eq!(parse_endpoint_chain(&name), Some(("c0ffee", "eth1")));
    assert_eq!(parse_endpoint_chain("n-abc-nat"), None);
}

#[test]
fn removing_a_network_deletes_its_elements_and_chains() {
    let text = remove_network(&network(false));
    let tail: Vec<_> = text.lines().filter(|l| l.starts_with("delete")).collect();
    assert_eq!(
        tail,
        [
            "delete element inet skiff bridges { \"skiff-abc123\" }",
            "delete element inet skiff from_bridge { \"skiff-abc123\" }",
            "delete element inet skiff from_subnet { 10.89.0.0/24 }",
            "delete chain inet skiff n-abc123-forward",
            "delete chain inet skiff n-abc123-nat",
        ]
    );
}
