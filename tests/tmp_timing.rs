#[path = "net_bridge/fixtures.rs"]
mod fixtures;
use fixtures::*;
use skiff::net::bridge::*;
use std::time::Instant;
#[test]
fn timing() {
    in_private_netns(|| {
        let net = network("nt", "skiff0", 10, false);
        let t = Instant::now();
        ensure_network(&net).unwrap();
        eprintln!("ensure (new): {:?}", t.elapsed());
        let t = Instant::now();
        ensure_network(&net).unwrap();
        eprintln!("ensure (exists): {:?}", t.elapsed());
        for i in 0..5 {
            let c = Container::new();
            let e = endpoint("t", &c, &net, "eth0", 2);
            let t = Instant::now();
            attach(&e, &[]).unwrap();
            let a = t.elapsed();
            let t = Instant::now();
            detach(&e, &[]).unwrap();
            let d = t.elapsed();
            let fw = [PortForward {
                host_ip: None,
                host_port: 8080,
                container_port: 80,
                protocol: Protocol::Tcp,
            }];
            let t = Instant::now();
            attach(&e, &fw).unwrap();
            let ap = t.elapsed();
            let t = Instant::now();
            detach(&e, &fw).unwrap();
            let dp = t.elapsed();
            let t = Instant::now();
            attach(&e, &fw).unwrap();
            let ap2 = t.elapsed();
            drop(c);
            let t = Instant::now();
            detach(&e, &fw).unwrap();
            let dgone = t.elapsed();
            let t = Instant::now();
            let out = std::process::Command::new("nft")
                .args(["-f", "-"])
                .stdin(std::process::Stdio::null())
                .output()
                .unwrap();
            let nftnop = t.elapsed();
            let _ = out;
            eprintln!(
                "   attach {ap2:?} detach after netns gone (ports) {dgone:?}, nft no-op exec {nftnop:?}"
            );
            eprintln!("{i}: attach {a:?} detach {d:?} | with port: attach {ap:?} detach {dp:?}");
        }
        remove_network(&net).unwrap();
    });
}
