//! The host's loopback services stay out of reach of containers, though
//! the bridges have route_localnet (CVE-2020-8558): a container that routes
//! 127.0.0.1 through its gateway is dropped, while a port published on
//! 127.0.0.1 still serves the host.

use std::net::{Ipv4Addr, UdpSocket};
use std::time::Duration;

use skiff::net::bridge::{attach, detach, ensure_network, remove_network};

use super::fixtures::{Container, endpoint, fetch, in_private_netns, network, skiff_leftovers};
use super::{require_root, tcp};

#[test]
fn a_container_routing_127_0_0_1_through_its_gateway_does_not_reach_the_hosts_loopback() {
    require_root();
    in_private_netns(|| {
        let net = network("nl", "skiff0", 8, false);
        ensure_network(&net).unwrap();
        let container = Container::new();
        let e = endpoint("local", &container, &net, "eth0", 2);
        let forwards = [tcp(Some(Ipv4Addr::LOCALHOST), 8082, 80)];
        attach(&e, &forwards).unwrap();

        // A service the host binds on 127.0.0.1 only, and (a control that
        // the container's route works at all) one on the gateway address.
        let loopback_only = UdpSocket::bind("127.0.0.1:9099").unwrap();
        let on_gateway = UdpSocket::bind((net.gateway, 9098)).unwrap();
        for socket in [&loopback_only, &on_gateway] {
            socket
                .set_read_timeout(Some(Duration::from_millis(1500)))
                .unwrap();
        }
        // A container with NET_ADMIN sends 127.0.0.1 out of eth0 towards
        // the gateway.
        container.ip(&[
            "route",
            "del",
            "local",
            "127.0.0.1",
            "dev",
            "lo",
            "table",
            "local",
        ]);
        container.ip(&[
            "route",
            "del",
            "local",
            "127.0.0.0/8",
            "dev",
            "lo",
            "table",
            "local",
        ]);
        container.ip(&[
            "route",
            "add",
            "127.0.0.1/32",
            "via",
            "10.89.8.1",
            "dev",
            "eth0",
        ]);
        let send = |address: Ipv4Addr, port: u16| {
            container.run(|| {
                let socket = UdpSocket::bind("0.0.0.0:0").unwrap();
                socket
                    .send_to(b"from the container", (address, port))
                    .unwrap();
            })
        };
        let mut buffer = [0u8; 64];
        send(net.gateway, 9098);
        let (size, _) = on_gateway
            .recv_from(&mut buffer)
            .expect("the control: a datagram to the gateway address arrives");
        assert_eq!(&buffer[..size], b"from the container");
        send(Ipv4Addr::LOCALHOST, 9099);
        let reached = loopback_only.recv_from(&mut buffer);
        assert!(
            reached.is_err(),
            "a container reached the host's 127.0.0.1:9099: {reached:?}"
        );

        // The published 127.0.0.1 port still serves the host.
        let served = container.serve_once(80, "published");
        assert_eq!(fetch(Ipv4Addr::LOCALHOST, 8082).unwrap(), "published");
        served.join().unwrap().unwrap();

        detach(&e, &forwards).unwrap();
        remove_network(&net).unwrap();
        assert_eq!(skiff_leftovers(), Vec::<String>::new());
    });
}
