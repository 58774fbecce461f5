//! Published ports of containers on bridge networks, reached from
//! another machine. The test makes that machine: two network namespaces
//! joined by a veth pair, the "host" (192.0.2.1/24, default route via
//! the client: pasta picks its template interface by the default route)
//! and the "client" (192.0.2.2/24). skiff runs in the host namespace: as
//! root it is the test's own (`enable_networking`), rootless one more the
//! test makes, entered by nsenter as root before it becomes `skifftest`.
//! Nothing runs in, binds in or changes the real host's namespace.
//!
//! What a user checks: the port answers the client at the host's address,
//! the container sees the client's own address (not a gateway's), the
//! host's loopback still works, and when the container ends nothing of
//! its forwarding is left (rootless: no pasta, tap, rule, route or mark
//! element in the shared namespace), also after a kill -9 of its monitor.

mod common;

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpStream, UdpSocket};
use std::process::Command;
use std::time::Duration;

use common::containers::STATE_TIMEOUT;
use common::net_checks::{kill_monitor, pasta_processes_naming};
use common::netns::NetSandbox;
use common::processes::{assert_success, output_of};
use common::*;

const HOST: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

/// A network namespace kept by a sleeping `unshare --net` (loopback up).
fn namespace_holder() -> NetSandbox {
    NetSandbox::new(true)
}

/// Runs `ip ARGS…` (as root) inside the namespace `netns`.
fn ip_in(netns: &str, args: &[&str]) -> String {
    let mut cmd = Command::new("nsenter");
    cmd.arg(format!("--net={netns}"))
        .arg("--")
        .arg("ip")
        .args(args);
    let what = format!("ip {} in {netns}", args.join(" "));
    assert_success(&output_of(cmd, None, COMMAND_TIMEOUT), &what)
}

/// The two machines. `_own_host`: the host namespace when the test made
/// it (rootless; held until the end); root's is the context's.
struct Machines {
    _own_host: Option<NetSandbox>,
    client: NetSandbox,
    host: String,
}

impl Machines {
    fn new(ctx: &Ctx) -> Machines {
        let (own_host, host) = if ctx.is_rootless() {
            let holder = namespace_holder();
            let path = holder.netns_path().expect("a namespace of its own");
            (Some(holder), path)
        } else {
            let path = ctx.enable_networking().netns_path().expect("root's netns");
            (None, path)
        };
        let client = namespace_holder();
        let machines = Machines {
            _own_host: own_host,
            client,
            host,
        };
        let client_pid = machines.client.pid().expect("its holder").to_string();
        let client_ns = machines.client_ns();
        ip_in(
            &machines.host,
            &[
                "link",
                "add",
                "uplink",
                "type",
                "veth",
                "peer",
                "name",
                "downlink",
                "netns",
                &client_pid,
            ],
        );
        ip_in(
            &machines.host,
            &["addr", "add", "192.0.2.1/24", "dev", "uplink"],
        );
        ip_in(&machines.host, &["link", "set", "uplink", "up"]);
        ip_in(
            &machines.host,
            &["route", "add", "default", "via", "192.0.2.2"],
        );
        ip_in(
            &client_ns,
            &["addr", "add", "192.0.2.2/24", "dev", "downlink"],
        );
        ip_in(&client_ns, &["link", "set", "downlink", "up"]);
        machines
    }

    fn client_ns(&self) -> String {
        self.client.netns_path().expect("a namespace of its own")
    }

    /// `skiff ARGS…` on the host machine as the context's user.
    fn skiff(&self, ctx: &Ctx, args: &[&str]) -> Command {
        let inner = ctx.skiff(args);
        if !ctx.is_rootless() {
            return inner; // already entered by the context
        }
        // nsenter enters as root, then becomes the user (and drops the
        // supplementary groups) before running skiff.
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--net={}", self.host))
            .arg(format!("--setuid={}", ctx.uid))
            .arg(format!("--setgid={}", ctx.gid))
            .arg("--")
            .arg(inner.get_program())
            .args(inner.get_args())
            .env_clear();
        for (name, value) in inner.get_envs() {
            if let Some(value) = value {
                cmd.env(name, value);
            }
        }
        if let Some(dir) = inner.get_current_dir() {
            cmd.current_dir(dir);
        }
        cmd
    }

    fn run_ok(&self, ctx: &Ctx, args: &[&str]) -> String {
        ctx.ok(self.skiff(ctx, args))
    }

    /// Runs `work` on a thread that entered the namespace `netns`.
    fn on<T: Send>(netns: &str, work: impl FnOnce() -> T + Send) -> T {
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let ns = File::open(netns).expect("the namespace exists");
                    nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET)
                        .expect("entering the namespace");
                    work()
                })
                .join()
                .expect("the thread in the namespace")
        })
    }
}

/// `GET path` from `to`, retried until the server answers; the first
/// line of the body.
fn http_get(to: SocketAddrV4, path: &str) -> String {
    let mut answer = String::new();
    wait_for(&format!("an answer on {to}"), STATE_TIMEOUT, || {
        let Ok(mut stream) = TcpStream::connect_timeout(&to.into(), Duration::from_secs(2)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let request = format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n");
        answer.clear();
        stream.write_all(request.as_bytes()).is_ok()
            && stream.read_to_string(&mut answer).is_ok()
            && answer.starts_with("HTTP/1.1 200")
    });
    // The CGI's own header ends with a bare newline: its body is the
    // line after the first empty one.
    answer
        .lines()
        .skip_while(|line| !line.trim().is_empty())
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

/// One datagram to `to` and its answer, retried until one comes.
fn udp_exchange(to: SocketAddrV4, message: &str) -> String {
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).expect("a UDP socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut answer = String::new();
    wait_for(&format!("a UDP answer from {to}"), STATE_TIMEOUT, || {
        if socket.send_to(message.as_bytes(), to).is_err() {
            return false;
        }
        let mut buffer = [0u8; 512];
        match socket.recv_from(&mut buffer) {
            Ok((n, from)) if from == to.into() => {
                answer = String::from_utf8_lossy(&buffer[..n]).into_owned();
                true
            }
            _ => false,
        }
    });
    answer
}

/// busybox httpd with a CGI script that prints the client's address.
const WEB: &str = "mkdir -p /www/cgi-bin \
    && printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho peer $REMOTE_ADDR\\n' > /www/cgi-bin/peer \
    && chmod +x /www/cgi-bin/peer && exec httpd -f -p 80 -h /www";

/// busybox has no UDP server: the host's python3 (its /usr mounted
/// read-only at /host, its libraries at /lib) answers each datagram with
/// the address it came from.
const UDP_PEER: &str = "import socket\n\
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
s.bind(('0.0.0.0', 53))\n\
while True:\n    data, peer = s.recvfrom(512)\n    s.sendto(b'peer ' + peer[0].encode(), peer)\n";

fn start_web(ctx: &Ctx, machines: &Machines, name: &str) -> String {
    let id = machines.run_ok(
        ctx,
        &[
            "run",
            "-d",
            "--name",
            name,
            "--network",
            "mynet",
            "-p",
            "8080:80",
            "-p",
            "5353:53/udp",
            "-v",
            "/usr:/host:ro",
            "-v",
            "/usr/lib:/lib:ro",
            "-v",
            "/usr/lib64:/lib64:ro",
            "busybox",
            "sh",
            "-c",
            &format!("/host/bin/python3 -c \"{UDP_PEER}\" & {WEB}"),
        ],
    );
    id.trim().to_string()
}

/// The client reaches both ports at the host's address and the container
/// sees the client's own address; the host reaches them too.
fn check_served(machines: &Machines) {
    let client = machines.client_ns();
    let (web, udp) = Machines::on(&client, || {
        (
            http_get(SocketAddrV4::new(HOST, 8080), "/cgi-bin/peer"),
            udp_exchange(SocketAddrV4::new(HOST, 5353), "hello"),
        )
    });
    // httpd listens on IPv6 and gives the IPv4-mapped form.
    assert_eq!(web.trim(), format!("peer [::ffff:{CLIENT}]"));
    assert_eq!(udp, format!("peer {CLIENT}"));
    // From the host itself: its loopback, and its own address (pasta
    // shows the latter as coming from the gateway, as for any container).
    for address in [Ipv4Addr::LOCALHOST, HOST] {
        let local = Machines::on(&machines.host, || {
            http_get(SocketAddrV4::new(address, 8080), "/cgi-bin/peer")
        });
        assert!(local.starts_with("peer "), "{address}: {local:?}");
    }
}

/// Rootless: what the shared namespace holds of forwarders (taps, rules,
/// routes, mark elements), as text to search; root has none.
fn forwarding_leftovers(ctx: &Ctx) -> Vec<String> {
    if !ctx.is_rootless() {
        return Vec::new();
    }
    let record = ctx.runroot.join("networks/rootless-netns.json");
    let shared: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(record).unwrap()).unwrap();
    let netns = format!("/proc/{}/ns/net", shared["holder"]["pid"]);
    let mut found = Vec::new();
    found.extend(
        ip_in(&netns, &["-o", "link"])
            .lines()
            .filter(|l| l.contains("skp"))
            .map(String::from),
    );
    found.extend(
        ip_in(&netns, &["rule"])
            .lines()
            .filter(|l| l.contains("fwmark"))
            .map(String::from),
    );
    found.extend(
        ip_in(&netns, &["route", "show", "table", "all"])
            .lines()
            .filter(|l| l.contains("skp"))
            .map(String::from),
    );
    let mut nft = Command::new("nsenter");
    nft.arg(format!("--net={netns}")).args([
        "--",
        "nft",
        "list",
        "map",
        "inet",
        "skiff",
        "forwarder_marks",
    ]);
    let listed = output_of(nft, None, COMMAND_TIMEOUT);
    found.extend(
        String::from_utf8_lossy(&listed.stdout)
            .lines()
            .filter(|l| l.contains("skp"))
            .map(String::from),
    );
    found
}

fn assert_nothing_left(ctx: &Ctx, id: &str) {
    wait_for("its pasta to end", STATE_TIMEOUT, || {
        pasta_processes_naming(id).is_empty()
    });
    wait_for(
        "nothing of its forwarding to be left",
        STATE_TIMEOUT,
        || forwarding_leftovers(ctx).is_empty(),
    );
}

fn prepare(ctx: &Ctx, machines: &Machines) {
    ctx.load_busybox();
    machines.run_ok(ctx, &["network", "create", "mynet"]);
    // Keeps the shared rootless namespace alive, so what is left in it
    // after the web container can be looked at.
    machines.run_ok(
        ctx,
        &[
            "run",
            "-d",
            "--name",
            "keeper",
            "--network",
            "mynet",
            "busybox",
            "sleep",
            "600",
        ],
    );
}

#[test]
fn p01_published_ports_answer_other_machines_with_their_real_address() {
    for_each_user(|ctx| {
        let machines = Machines::new(ctx);
        prepare(ctx, &machines);
        let id = start_web(ctx, &machines, "web");
        assert!(!forwarding_leftovers(ctx).is_empty() || !ctx.is_rootless());
        check_served(&machines);
        machines.run_ok(ctx, &["rm", "-f", "web"]);
        assert_nothing_left(ctx, &id);
        machines.run_ok(ctx, &["rm", "-f", "keeper"]);
        machines.run_ok(ctx, &["network", "rm", "mynet"]);
    });
}

#[test]
fn p02_after_a_kill_of_the_monitor_its_forwarding_goes_too() {
    for_users(&[User::Rootless], |ctx| {
        let machines = Machines::new(ctx);
        prepare(ctx, &machines);
        let id = start_web(ctx, &machines, "orphan");
        check_served(&machines);
        let monitor: i32 = machines
            .run_ok(
                ctx,
                &["inspect", "--format", "{{.State.ConmonPid}}", "orphan"],
            )
            .trim()
            .parse()
            .unwrap();
        kill_monitor(monitor);
        machines.run_ok(ctx, &["ps", "-a"]);
        assert_nothing_left(ctx, &id);
        // The same ports serve again from a new container.
        let again = start_web(ctx, &machines, "again");
        check_served(&machines);
        machines.run_ok(ctx, &["rm", "-f", "orphan", "again"]);
        assert_nothing_left(ctx, &again);
        machines.run_ok(ctx, &["rm", "-f", "keeper"]);
    });
}
