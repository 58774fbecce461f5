//! Leftovers of runs whose monitor died without detaching.

use std::net::Ipv4Addr;
use std::process::Command;
use std::time::{Duration, Instant};

use skiff::net::bridge::{
    BridgeError, PortForward, Protocol, attach, cleanup_stale, detach, detach_exited,
    ensure_network, remove_network,
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
        cleanup_stale(&|owner| owner != "live").unwrap();

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

#[test]
fn an_exited_container_frees_its_ports_at_once_and_its_pair_goes_with_its_namespace() {
    require_root();
    in_private_netns(|| {
        let net = network("nx", "skiff0", 11, false);
        ensure_network(&net).unwrap();
        let first = Container::new();
        let e = endpoint("x", &first, &net, "eth0", 2);
        attach(&e, &[tcp(8110)]).unwrap();
        let veth = skiff::net::bridge::host_veth_name("x", "eth0");
        // The container ends: nothing holds its namespace any more.
        drop(first);
        detach_exited(&e, &[tcp(8110)]).unwrap();
        let table = run_ok(Command::new("nft").args(["list", "table", "inet", "skiff"]));
        assert!(
            !table.contains("8110") && !table.contains("c-x-"),
            "{table}"
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while run_ok(Command::new("ip").args(["-o", "link", "show"])).contains(&veth) {
            assert!(
                Instant::now() < deadline,
                "{veth} outlived its namespace by 10 s"
            );
            std::thread::sleep(Duration::from_millis(10));
        }

        // A restart of the same endpoint while the old pair is still there
        // (its namespace still held): the old pair is replaced.
        let (old, new) = (Container::new(), Container::new());
        let e_old = endpoint("x", &old, &net, "eth0", 2);
        attach(&e_old, &[]).unwrap();
        let e_new = endpoint("x", &new, &net, "eth0", 2);
        attach(&e_new, &[tcp(8110)]).unwrap();
        assert!(!old.ip(&["link"]).contains("eth0"));
        let served = new.serve_once(80, "restarted");
        assert_eq!(fetch(Ipv4Addr::LOCALHOST, 8110).unwrap(), "restarted");
        served.join().unwrap().unwrap();
        detach(&e_new, &[tcp(8110)]).unwrap();

        // A link of that name that is not skiff's is never taken over.
        run_ok(Command::new("ip").args(["link", "add", &veth, "type", "bridge"]));
        let error = attach(&e_new, &[]).unwrap_err();
        assert!(matches!(error, BridgeError::NameClash { .. }), "{error}");
        run_ok(Command::new("ip").args(["link", "del", &veth]));

        remove_network(&net).unwrap();
        assert_eq!(skiff_leftovers(), Vec::<String>::new());
    });
}
