//! Leftovers of runs whose monitor died without detaching.

use std::net::Ipv4Addr;
use std::process::Command;

use skiff::net::bridge::{
    PortForward, Protocol, attach, cleanup_stale, detach, ensure_network, remove_network,
};

use super::fixtures::{
    Container, endpoint, fetch, in_private_netns, network, run_ok, skiff_leftovers,
};
use super::require_root;

fn tcp(host_port: u16) -> PortForward {
    PortForward {
        host_ip: None,
        host_port,
        container_port: 80,
        protocol: Protocol::Tcp,
    }
}

#[test]
fn cleanup_removes_the_endpoints_of_dead_runs_and_keeps_the_live_ones() {
    require_root();
    in_private_netns(|| {
        let net = network("ns", "skiff0", 8, false);
        ensure_network(&net).unwrap();
        let (dead, gone, live) = (Container::new(), Container::new(), Container::new());
        let e_dead = endpoint("dead", &dead, &net, "eth0", 2);
        let e_gone = endpoint("gone", &gone, &net, "eth0", 3);
        let e_live = endpoint("live", &live, &net, "eth0", 4);
        attach(&e_dead, &[tcp(8101)]).unwrap();
        attach(&e_gone, &[tcp(8102)]).unwrap();
        attach(&e_live, &[tcp(8103)]).unwrap();
        // "gone": its namespace ended, which took the veth pair with it;
        // its published port is still in the table.
        drop(gone);
        // "dead": its namespace is still held (by a leftover process, say)
        // but its run is over: the caller does not list it as live.
        cleanup_stale(&["live"]).unwrap();

        let links = run_ok(Command::new("ip").args(["-o", "link", "show"]));
        assert!(
            !links.contains(&skiff::net::bridge::host_veth_name("dead", "eth0")),
            "{links}"
        );
        assert!(!dead.ip(&["link"]).contains("eth0"));
        let table = run_ok(Command::new("nft").args(["list", "table", "inet", "skiff"]));
        for gone in ["c-dead-", "c-gone-", "8101", "8102"] {
            assert!(!table.contains(gone), "{gone} left in {table}");
        }
        // The live one is untouched and still serves.
        let served = live.serve_once(80, "alive");
        assert_eq!(fetch(Ipv4Addr::LOCALHOST, 8103).unwrap(), "alive");
        served.join().unwrap().unwrap();
        // Detaching with a wrong list of ports still removes them all.
        detach(&e_live, &[tcp(9999)]).unwrap();
        let table = run_ok(Command::new("nft").args(["list", "table", "inet", "skiff"]));
        assert!(
            !table.contains("c-live-") && !table.contains("8103"),
            "{table}"
        );
        remove_network(&net).unwrap();
        assert_eq!(skiff_leftovers(), Vec::<String>::new());
    });
}
