//! The bridge backend (`skiff::net::bridge`) as a library: bridges, veth
//! pairs, NAT, published ports and isolation. Root only (it is the root
//! backend; the rootless story runs it inside `unshare -Urn`), and every
//! test runs in a private network namespace it makes: the host's links and
//! rules are never touched. Traffic goes only to addresses inside those
//! namespaces and to 127.0.0.1.

#[path = "net_bridge/fixtures.rs"]
mod fixtures;

use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::process::Command;
use std::time::Duration;

use fixtures::{Container, endpoint, fetch, in_private_netns, network, run_ok, skiff_leftovers};
use skiff::net::bridge::{
    BridgeError, PortForward, Protocol, attach, attach_fd, detach, ensure_network, remove_network,
};

fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "tests/net_bridge.rs runs as root (scripts/test runs it so)"
    );
}

fn tcp(host_ip: Option<Ipv4Addr>, host_port: u16, container_port: u16) -> PortForward {
    PortForward {
        host_ip,
        host_port,
        container_port,
        protocol: Protocol::Tcp,
    }
}

#[test]
fn two_containers_on_one_network_reach_each_other_and_leave_nothing_behind() {
    require_root();
    in_private_netns(|| {
        let net = network("n1", "skiff0", 1, false);
        ensure_network(&net).unwrap();
        // Idempotent, and cheap the second time.
        ensure_network(&net).unwrap();
        let (c1, c2) = (Container::new(), Container::new());
        let (e1, e2) = (
            endpoint("c1", &c1, &net, "eth0", 2),
            endpoint("c2", &c2, &net, "eth0", 3),
        );
        attach(&e1, &[]).unwrap();
        attach_fd(&e2, std::os::fd::AsFd::as_fd(&c2.netns), &[]).unwrap();

        // What a user would check inside: address, MAC, default route, lo.
        let addresses = c1.ip(&["-j", "addr", "show"]);
        assert!(addresses.contains("\"local\":\"10.89.1.2\""), "{addresses}");
        assert!(
            addresses.contains("\"address\":\"02:42:0a:59:01:02\""),
            "{addresses}"
        );
        assert!(addresses.contains("\"ifname\":\"lo\""), "{addresses}");
        let routes = c1.ip(&["route", "show", "default"]);
        assert!(
            routes.contains("default via 10.89.1.1 dev eth0"),
            "{routes}"
        );

        let served = c1.serve_once(80, "hello from c1");
        assert_eq!(
            c2.fetch(Ipv4Addr::new(10, 89, 1, 2), 80).unwrap(),
            "hello from c1"
        );
        // Same bridge: no NAT between peers.
        assert_eq!(
            served.join().unwrap().unwrap().ip().to_string(),
            "10.89.1.3"
        );
        // The host reaches them through the bridge's gateway address.
        let served = c2.serve_once(81, "hello from c2");
        assert_eq!(
            fetch(Ipv4Addr::new(10, 89, 1, 3), 81).unwrap(),
            "hello from c2"
        );
        served.join().unwrap().unwrap();

        detach(&e1, &[]).unwrap();
        detach(&e1, &[]).unwrap();
        detach(&e2, &[]).unwrap();
        assert!(
            !c1.ip(&["link"]).contains("eth0"),
            "the container's end goes with the pair"
        );
        remove_network(&net).unwrap();
        remove_network(&net).unwrap();
        assert_eq!(skiff_leftovers(), Vec::<String>::new());
    });
}

#[test]
fn containers_on_different_networks_cannot_talk_but_one_on_both_reaches_both() {
    require_root();
    in_private_netns(|| {
        let (a, b) = (
            network("na", "skiff-na", 2, false),
            network("nb", "skiff-nb", 3, false),
        );
        ensure_network(&a).unwrap();
        ensure_network(&b).unwrap();
        let (ca, cb, both) = (Container::new(), Container::new(), Container::new());
        let ea = endpoint("ca", &ca, &a, "eth0", 2);
        let eb = endpoint("cb", &cb, &b, "eth0", 2);
        let (both_a, both_b) = (
            endpoint("both", &both, &a, "eth0", 3),
            endpoint("both", &both, &b, "eth1", 3),
        );
        for e in [&ea, &eb, &both_a, &both_b] {
            attach(e, &[]).unwrap();
        }

        let _listener = cb.serve_once(80, "b");
        let refused = ca.fetch(Ipv4Addr::new(10, 89, 3, 2), 80);
        assert!(refused.is_err(), "network a reached network b: {refused:?}");
        // The one on both networks reaches each directly.
        assert_eq!(both.fetch(Ipv4Addr::new(10, 89, 3, 2), 80).unwrap(), "b");
        let served = ca.serve_once(80, "a");
        assert_eq!(both.fetch(Ipv4Addr::new(10, 89, 2, 2), 80).unwrap(), "a");
        served.join().unwrap().unwrap();

        for e in [&ea, &eb, &both_a, &both_b] {
            detach(e, &[]).unwrap();
        }
        remove_network(&a).unwrap();
        // The table stays while a network is left, without a's rules.
        let table = run_ok(Command::new("nft").args(["list", "table", "inet", "skiff"]));
        assert!(
            !table.contains("skiff-na") && !table.contains("n-na-"),
            "{table}"
        );
        assert!(table.contains("skiff-nb"), "{table}");
        remove_network(&b).unwrap();
        assert_eq!(skiff_leftovers(), Vec::<String>::new());
    });
}

#[test]
fn published_ports_serve_the_host_on_localhost_and_a_container_through_the_host() {
    require_root();
    in_private_netns(|| {
        let net = network("np", "skiff0", 4, false);
        ensure_network(&net).unwrap();
        let (web, client) = (Container::new(), Container::new());
        let ew = endpoint("web", &web, &net, "eth0", 2);
        let ec = endpoint("client", &client, &net, "eth0", 3);
        let forwards = [
            tcp(None, 8080, 80),
            tcp(Some(Ipv4Addr::LOCALHOST), 8081, 81),
            PortForward {
                protocol: Protocol::Udp,
                ..tcp(None, 8053, 53)
            },
        ];
        attach(&ew, &forwards).unwrap();
        attach(&ec, &[]).unwrap();

        // From the host itself, on 127.0.0.1: the container sees the
        // gateway as the peer (masqueraded so it can answer).
        let served = web.serve_once(80, "port 80");
        assert_eq!(fetch(Ipv4Addr::LOCALHOST, 8080).unwrap(), "port 80");
        assert_eq!(
            served.join().unwrap().unwrap().ip().to_string(),
            "10.89.4.1"
        );
        let served = web.serve_once(81, "port 81");
        assert_eq!(fetch(Ipv4Addr::LOCALHOST, 8081).unwrap(), "port 81");
        served.join().unwrap().unwrap();
        // UDP: a datagram to 127.0.0.1:8053 reaches the container's port 53
        // and its answer comes back.
        let socket = web.run(|| UdpSocket::bind("0.0.0.0:53").unwrap());
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let answer = std::thread::spawn(move || {
            let mut buffer = [0u8; 64];
            let (size, peer) = socket.recv_from(&mut buffer).unwrap();
            socket.send_to(&buffer[..size], peer).unwrap();
        });
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        sender
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        sender.send_to(b"ping over udp", "127.0.0.1:8053").unwrap();
        let mut buffer = [0u8; 64];
        let size = sender.recv(&mut buffer).unwrap();
        assert_eq!(&buffer[..size], b"ping over udp");
        answer.join().unwrap();
        // 8081 is published on 127.0.0.1 only, not on the gateway address.
        let _listener = web.serve_once(81, "wrong");
        assert!(fetch(net.gateway, 8081).is_err());
        // A peer through the host's address, and the container itself
        // (hairpin).
        let served = web.serve_once(80, "via host");
        assert_eq!(client.fetch(net.gateway, 8080).unwrap(), "via host");
        served.join().unwrap().unwrap();
        let served = web.serve_once(80, "to myself");
        assert_eq!(web.fetch(net.gateway, 8080).unwrap(), "to myself");
        served.join().unwrap().unwrap();

        detach(&ew, &forwards).unwrap();
        detach(&ew, &forwards).unwrap();
        let table = run_ok(Command::new("nft").args(["list", "table", "inet", "skiff"]));
        assert!(
            !table.contains("8080") && !table.contains("c-web-"),
            "{table}"
        );
        detach(&ec, &[]).unwrap();
        remove_network(&net).unwrap();
        assert_eq!(skiff_leftovers(), Vec::<String>::new());
    });
}

#[test]
fn a_busy_host_port_is_refused_and_nothing_is_left_half_made() {
    require_root();
    in_private_netns(|| {
        let net = network("nq", "skiff0", 5, false);
        ensure_network(&net).unwrap();
        let (first, second, third) = (Container::new(), Container::new(), Container::new());
        // A process of the host listens on 127.0.0.1:8090.
        let _host_server = TcpListener::bind("127.0.0.1:8090").unwrap();
        let e1 = endpoint("first", &first, &net, "eth0", 2);
        let error = attach(&e1, &[tcp(Some(Ipv4Addr::LOCALHOST), 8090, 80)]).unwrap_err();
        assert!(
            matches!(error, BridgeError::PortInUse { port: 8090, .. }),
            "{error}"
        );
        assert_eq!(
            error.to_string(),
            "host port 127.0.0.1:8090/tcp is already in use"
        );
        assert!(
            !first.ip(&["link"]).contains("eth0"),
            "no half-made endpoint"
        );

        // A port another container publishes.
        let e2 = endpoint("second", &second, &net, "eth0", 3);
        attach(&e2, &[tcp(None, 8091, 80)]).unwrap();
        let e3 = endpoint("third", &third, &net, "eth0", 4);
        let error = attach(&e3, &[tcp(None, 8091, 80)]).unwrap_err();
        assert!(
            matches!(error, BridgeError::PortInUse { port: 8091, .. }),
            "{error}"
        );
        assert!(
            !third.ip(&["link"]).contains("eth0"),
            "no half-made endpoint"
        );
        let served = second.serve_once(80, "still second's");
        assert_eq!(fetch(Ipv4Addr::LOCALHOST, 8091).unwrap(), "still second's");
        served.join().unwrap().unwrap();

        detach(&e2, &[tcp(None, 8091, 80)]).unwrap();
        remove_network(&net).unwrap();
        assert_eq!(skiff_leftovers(), Vec::<String>::new());
    });
}

#[path = "net_bridge/flushed.rs"]
mod flushed;
#[path = "net_bridge/localnet.rs"]
mod localnet;
#[path = "net_bridge/outside.rs"]
mod outside;
#[path = "net_bridge/rootless.rs"]
mod rootless;
#[path = "net_bridge/shadow.rs"]
mod shadow;
#[path = "net_bridge/stale.rs"]
mod stale;

#[test]
fn bad_input_and_foreign_links_are_refused_before_anything_is_made() {
    require_root();
    in_private_netns(|| {
        let mut outside_subnet = network("nbad", "skiff0", 12, false);
        outside_subnet.gateway = Ipv4Addr::new(10, 90, 0, 1);
        let error = ensure_network(&outside_subnet).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid gateway \"10.90.0.1\": not inside the network's subnet"
        );
        let mut injected = network("nbad", "skiff0", 12, false);
        injected.id = "x; flush ruleset".to_string();
        assert!(matches!(
            ensure_network(&injected).unwrap_err(),
            BridgeError::Invalid {
                what: "network id",
                ..
            }
        ));
        assert_eq!(skiff_leftovers(), Vec::<String>::new());

        // A bridge of that name that skiff did not make is not taken over.
        run_ok(Command::new("ip").args(["link", "add", "skiff0", "type", "bridge"]));
        let error = ensure_network(&network("nbad", "skiff0", 12, false)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "a network interface named skiff0 already exists and is not skiff's"
        );
        run_ok(Command::new("ip").args(["link", "del", "skiff0"]));

        // Attaching to a network that was never made.
        let container = Container::new();
        let e = endpoint(
            "lost",
            &container,
            &network("nbad", "skiff0", 12, false),
            "eth0",
            2,
        );
        let error = attach(&e, &[]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "network bridge skiff0 does not exist: create the network first"
        );
        assert_eq!(skiff_leftovers(), Vec::<String>::new());
    });
}
