//! Private network namespaces for the bridge tests: the "host" is a fresh
//! namespace entered by the test's own thread (so the real host's links and
//! rules are never touched), "containers" are namespaces kept alive by an
//! open fd, and servers and clients are sockets made inside them.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd};
use std::path::PathBuf;
use std::process::Command;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sched::{CloneFlags, setns, unshare};
use skiff::net::bridge::{BridgeNetwork, Endpoint, MacAddr, Subnet};

/// Runs `test` on a thread of its own in a new network namespace with lo
/// up. Everything the test spawns or opens from that thread lives there.
pub fn in_private_netns(test: impl FnOnce() + Send) {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                unshare(CloneFlags::CLONE_NEWNET)
                    .expect("unshare(CLONE_NEWNET): the test needs CAP_SYS_ADMIN");
                run_ok(Command::new("ip").args(["link", "set", "lo", "up"]));
                test();
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    });
}

/// A container's network namespace: new, empty, alive while this lives.
pub struct Container {
    pub netns: File,
}

impl Container {
    pub fn new() -> Container {
        let netns = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    unshare(CloneFlags::CLONE_NEWNET).expect("unshare a container netns");
                    File::open("/proc/thread-self/ns/net").expect("open the new netns")
                })
                .join()
                .unwrap()
        });
        Container { netns }
    }

    /// A path naming this namespace for anyone in this process (and for
    /// `ip`/`nsenter`, which this process starts).
    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!(
            "/proc/{}/fd/{}",
            std::process::id(),
            self.netns.as_raw_fd()
        ))
    }

    /// Runs `work` on a thread inside this namespace (sockets it makes stay
    /// there).
    pub fn run<T: Send>(&self, work: impl FnOnce() -> T + Send) -> T {
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    setns(self.netns.as_fd(), CloneFlags::CLONE_NEWNET).expect("setns");
                    work()
                })
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    /// `ip ARGS…` inside this namespace.
    pub fn ip(&self, args: &[&str]) -> String {
        run_ok(
            Command::new("nsenter")
                .arg(format!("--net={}", self.path().display()))
                .arg("ip")
                .args(args),
        )
    }

    /// Listens on `port` inside the namespace and serves `reply` to one
    /// connection; the handle gives the peer's address as seen here, or
    /// None when nobody came within 10 s.
    pub fn serve_once(&self, port: u16, reply: &'static str) -> JoinHandle<Option<SocketAddr>> {
        let listener =
            self.run(|| TcpListener::bind(("0.0.0.0", port)).expect("bind in container"));
        std::thread::spawn(move || {
            listener.set_nonblocking(true).unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                match listener.accept() {
                    Ok((mut stream, peer)) => {
                        stream.set_nonblocking(false).unwrap();
                        stream.write_all(reply.as_bytes()).unwrap();
                        return Some(peer);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        if Instant::now() > deadline {
                            return None;
                        }
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) => panic!("accept: {e}"),
                }
            }
        })
    }

    /// Connects from inside this namespace (see [`fetch`]).
    pub fn fetch(&self, address: Ipv4Addr, port: u16) -> Result<String, String> {
        self.run(|| fetch(address, port))
    }
}

/// Connects to `address:port` from the calling thread's namespace with a
/// short deadline and reads what the server says.
pub fn fetch(address: Ipv4Addr, port: u16) -> Result<String, String> {
    let target = SocketAddr::V4(SocketAddrV4::new(address, port));
    let mut stream = TcpStream::connect_timeout(&target, Duration::from_millis(1500))
        .map_err(|e| format!("connect {target}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut text = String::new();
    stream
        .read_to_string(&mut text)
        .map_err(|e| format!("read from {target}: {e}"))?;
    Ok(text)
}

pub fn run_ok(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

pub fn network(id: &str, bridge: &str, third_octet: u8, internal: bool) -> BridgeNetwork {
    BridgeNetwork {
        id: id.to_string(),
        name: format!("net_{id}"),
        bridge: bridge.to_string(),
        subnet: Subnet {
            address: Ipv4Addr::new(10, 89, third_octet, 0),
            prefix: 24,
        },
        gateway: Ipv4Addr::new(10, 89, third_octet, 1),
        internal,
        mtu: None,
    }
}

/// The endpoint of `container` on `network` with host number `host`.
pub fn endpoint(
    container_id: &str,
    container: &Container,
    network: &BridgeNetwork,
    interface: &str,
    host: u8,
) -> Endpoint {
    let [a, b, c, _] = network.subnet.address.octets();
    let address = Ipv4Addr::new(a, b, c, host);
    Endpoint {
        container_id: container_id.to_string(),
        netns: container.path(),
        bridge: network.bridge.clone(),
        interface: interface.to_string(),
        address,
        prefix: network.subnet.prefix,
        mac: MacAddr::from_ipv4(address),
        gateway: network.gateway,
        default_route: interface == "eth0",
        mtu: network.mtu,
        routes: Vec::new(),
    }
}

/// What of skiff's the current namespace still holds: links whose name or
/// alias is skiff's, and an nftables table named skiff.
pub fn skiff_leftovers() -> Vec<String> {
    let links: serde_json::Value = serde_json::from_str(&run_ok(
        Command::new("ip").args(["-j", "-d", "link", "show"]),
    ))
    .unwrap();
    let mut left: Vec<String> = links
        .as_array()
        .unwrap()
        .iter()
        .filter(|link| {
            let name = link["ifname"].as_str().unwrap_or_default();
            let alias = link["ifalias"].as_str().unwrap_or_default();
            name.starts_with("skiff") || name.starts_with("veth") || alias.starts_with("skiff")
        })
        .map(|link| format!("link {}", link["ifname"]))
        .collect();
    let ruleset: serde_json::Value =
        serde_json::from_str(&run_ok(Command::new("nft").args(["-j", "list", "ruleset"]))).unwrap();
    for object in ruleset["nftables"].as_array().unwrap() {
        if object["table"]["name"] == "skiff" {
            left.push(format!("nftables table {}", object["table"]["family"]));
        }
    }
    left
}
