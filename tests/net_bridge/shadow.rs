//! One container publishing a port on 127.0.0.1 and another the same port
//! on every address would shadow each other (two maps): the second is
//! refused, whichever comes first, and nothing of it is left.

use std::net::Ipv4Addr;

use skiff::net::bridge::{
    BridgeError, PortForward, Protocol, attach, detach, ensure_network, remove_network,
};

use super::fixtures::{Container, endpoint, fetch, in_private_netns, network, skiff_leftovers};
use super::{require_root, tcp};

#[test]
fn a_port_on_one_address_and_the_same_port_on_every_address_are_refused_in_either_order() {
    require_root();
    in_private_netns(|| {
        let net = network("ns", "skiff0", 9, false);
        ensure_network(&net).unwrap();
        let (first, second) = (Container::new(), Container::new());
        let e1 = endpoint("first", &first, &net, "eth0", 2);
        let e2 = endpoint("second", &second, &net, "eth0", 3);
        let on_localhost = [tcp(Some(Ipv4Addr::LOCALHOST), 8085, 80)];
        let everywhere = [tcp(None, 8085, 80)];
        for (held, refused) in [(&on_localhost, &everywhere), (&everywhere, &on_localhost)] {
            attach(&e1, held).unwrap();
            let error = attach(&e2, refused).unwrap_err();
            assert!(
                matches!(error, BridgeError::PortInUse { port: 8085, .. }),
                "{error}"
            );
            assert!(error.to_string().contains(":8085/tcp"), "{error}");
            assert!(
                !second.ip(&["link"]).contains("eth0"),
                "no half-made endpoint"
            );
            // The first container still serves the port.
            let served = first.serve_once(80, "first's");
            assert_eq!(fetch(Ipv4Addr::LOCALHOST, 8085).unwrap(), "first's");
            served.join().unwrap().unwrap();
            detach(&e1, held).unwrap();
        }
        // The same port over UDP, or another port, is no clash; nor is one
        // container publishing again what it holds.
        attach(&e1, &on_localhost).unwrap();
        attach(&e1, &on_localhost).unwrap();
        let others = [
            PortForward {
                protocol: Protocol::Udp,
                ..everywhere[0]
            },
            tcp(None, 8086, 80),
        ];
        attach(&e2, &others).unwrap();
        detach(&e2, &others).unwrap();
        // Both at once from one container.
        detach(&e1, &on_localhost).unwrap();
        let error = attach(&e1, &[on_localhost[0], everywhere[0]]).unwrap_err();
        assert!(
            matches!(error, BridgeError::PortInUse { port: 8085, .. }),
            "{error}"
        );

        remove_network(&net).unwrap();
        assert_eq!(skiff_leftovers(), Vec::<String>::new());
    });
}
