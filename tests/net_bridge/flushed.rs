//! `nft flush ruleset` (a restart of nftables, a firewalld reload) takes
//! skiff's table while its bridges stay up: the next attach that publishes
//! ports puts the network's rules back and works.

use std::net::Ipv4Addr;
use std::process::Command;

use skiff::net::bridge::{attach, attach_to, detach, ensure_network, remove_network};

use super::fixtures::{
    Container, endpoint, fetch, in_private_netns, network, run_ok, skiff_leftovers,
};
use super::{require_root, tcp};

#[test]
fn after_the_ruleset_is_flushed_an_attach_with_ports_restores_the_rules() {
    require_root();
    in_private_netns(|| {
        let net = network("nf", "skiff0", 10, false);
        ensure_network(&net).unwrap();
        let (first, second) = (Container::new(), Container::new());
        let e1 = endpoint("first", &first, &net, "eth0", 2);
        attach(&e1, &[]).unwrap();

        run_ok(Command::new("nft").args(["flush", "ruleset"]));
        ensure_network(&net).unwrap();
        let e2 = endpoint("second", &second, &net, "eth0", 3);
        let forwards = [tcp(None, 8087, 80)];
        attach_to(&net, &e2, &forwards).unwrap();

        let served = second.serve_once(80, "after the flush");
        assert_eq!(fetch(Ipv4Addr::LOCALHOST, 8087).unwrap(), "after the flush");
        served.join().unwrap().unwrap();
        let table = run_ok(Command::new("nft").args(["list", "table", "inet", "skiff"]));
        for rule in [
            "jump n-nf-forward",
            "jump n-nf-nat",
            "ip daddr 127.0.0.0/8 ct status ! dnat drop",
            "tcp . 8087 : jump c-second-eth0",
        ] {
            assert!(table.contains(rule), "{rule} missing from {table}");
        }

        detach(&e2, &forwards).unwrap();
        detach(&e1, &[]).unwrap();
        remove_network(&net).unwrap();
        assert_eq!(skiff_leftovers(), Vec::<String>::new());
    });
}
