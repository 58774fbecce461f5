//! Outbound traffic: an "outside" namespace joined to the private host by
//! a veth (uplink). It routes back only to the internal network's subnet:
//! there only the forward rules keep a container in; the open network's
//! containers get out with the host's address (masqueraded).

use std::net::Ipv4Addr;
use std::process::Command;

use skiff::net::bridge::{attach, detach, ensure_network, remove_network};

use super::fixtures::{Container, endpoint, in_private_netns, network, run_ok, skiff_leftovers};
use super::require_root;

const OUTSIDE: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);

/// The outside namespace, reached from the host through `uplink0`.
fn outside() -> Container {
    let outside = Container::new();
    let path = outside.path();
    run_ok(
        Command::new("ip")
            .args([
                "link", "add", "uplink0", "type", "veth", "peer", "name", "eth0", "netns",
            ])
            .arg(&path),
    );
    run_ok(Command::new("ip").args(["addr", "add", "10.99.0.1/24", "dev", "uplink0"]));
    run_ok(Command::new("ip").args(["link", "set", "uplink0", "up"]));
    outside.ip(&["addr", "add", "10.99.0.2/24", "dev", "eth0"]);
    outside.ip(&["link", "set", "eth0", "up"]);
    outside.ip(&["route", "add", "10.89.7.0/24", "via", "10.99.0.1"]);
    outside
}

#[test]
fn outbound_traffic_is_masqueraded_but_an_internal_network_has_no_way_out() {
    require_root();
    in_private_netns(|| {
        let world = outside();
        let (open, closed) = (
            network("no", "skiff-no", 6, false),
            network("ni", "skiff-ni", 7, true),
        );
        ensure_network(&open).unwrap();
        ensure_network(&closed).unwrap();
        let (c_open, c_closed, c_peer) = (Container::new(), Container::new(), Container::new());
        let e_open = endpoint("open", &c_open, &open, "eth0", 2);
        let e_closed = endpoint("closed", &c_closed, &closed, "eth0", 2);
        let e_peer = endpoint("peer", &c_peer, &closed, "eth0", 3);
        for e in [&e_open, &e_closed, &e_peer] {
            attach(e, &[]).unwrap();
        }

        let served = world.serve_once(80, "outside");
        assert_eq!(c_open.fetch(OUTSIDE, 80).unwrap(), "outside");
        assert_eq!(
            served.join().unwrap().unwrap().ip().to_string(),
            "10.99.0.1",
            "the outside sees the host's address"
        );

        let _listener = world.serve_once(81, "must not be reached");
        let escaped = c_closed.fetch(OUTSIDE, 81);
        assert!(
            escaped.is_err(),
            "an internal network reached outside: {escaped:?}"
        );
        // Peers on the internal network still talk.
        let served = c_peer.serve_once(80, "peer");
        assert_eq!(
            c_closed.fetch(Ipv4Addr::new(10, 89, 7, 3), 80).unwrap(),
            "peer"
        );
        served.join().unwrap().unwrap();

        for e in [&e_open, &e_closed, &e_peer] {
            detach(e, &[]).unwrap();
        }
        remove_network(&open).unwrap();
        remove_network(&closed).unwrap();
        assert_eq!(skiff_leftovers(), Vec::<String>::new());
    });
}
