//! Networks and published ports: the `network` verbs, `-p` and how
//! `port`, `ps` and `inspect` show it, rootless networking through pasta
//! (a published port serves from the host; the container finds its
//! network up at once; nothing is left after `rm -f` or a kill -9 of the
//! monitor), the /etc files `--add-host` and `--dns*` write, and bad input.
//! Root commands of the tests that start networked containers run in a
//! network namespace the test made (`common/netns.rs`).

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::time::Duration;

use common::containers::{STATE_TIMEOUT, is_hex, nonempty_lines};
use common::*;

/// Asserts `args` fail with exit 125 and a one-line error containing
/// `subject`, and that no container was left behind.
fn refused(ctx: &Ctx, args: &[&str], subject: &str) {
    let before = ctx.all_short_ids();
    let out = ctx.run_status(args);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(125), "{args:?}: {err}");
    assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
    assert!(err.contains(subject), "{args:?}: {err}");
    assert_eq!(ctx.all_short_ids(), before, "{args:?} left a container");
}

/// A TCP port nothing listens on now (the kernel's pick).
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The network mode that publishes ports for this user without a bridge:
/// pasta rootless; as root the default bridge network (create only).
fn own_network(ctx: &Ctx) -> &'static str {
    if ctx.is_rootless() { "pasta" } else { "bridge" }
}

/// `GET /path` from the host's loopback, retried until `deadline` while
/// the server is not yet listening.
fn http_get(port: u16, path: &str, deadline: Duration) -> String {
    let mut answer = String::new();
    wait_for(&format!("an answer on 127.0.0.1:{port}"), deadline, || {
        let Ok(mut stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let request = format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n");
        if stream.write_all(request.as_bytes()).is_err() {
            return false;
        }
        answer.clear();
        stream.read_to_string(&mut answer).is_ok() && answer.starts_with("HTTP/1")
    });
    answer
}

/// pasta processes whose command line names `needle` (a container's
/// run directory).
fn pasta_processes_naming(needle: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let text = String::from_utf8_lossy(&cmdline);
            text.starts_with("pasta") && text.contains(needle)
        })
        .collect()
}

#[test]
fn n01_networks_are_created_listed_inspected_and_removed() {
    for_each_user(|ctx| {
        // The default network exists from the start, under both names.
        let ls = ctx.run_ok(&["network", "ls", "--format", "{{.Name}} {{.Driver}}"]);
        assert_eq!(ls.trim(), "podman bridge", "{ls}");
        ctx.run_ok(&["network", "exists", "bridge"]);

        assert_eq!(
            ctx.run_ok(&["network", "create", "my_bridge"]).trim(),
            "my_bridge"
        );
        ctx.run_ok(&[
            "network",
            "create",
            "--subnet",
            "10.123.0.0/24",
            "--gateway",
            "10.123.0.254",
            "--ip-range",
            "10.123.0.128/25",
            "--internal",
            "--label",
            "team=a",
            "inner",
        ]);
        let names = ctx.run_ok(&["network", "ls", "-q"]);
        assert_eq!(nonempty_lines(&names), ["podman", "inner", "my_bridge"]);
        let filtered = ctx.run_ok(&["network", "ls", "-q", "--filter", "label=team=a"]);
        assert_eq!(filtered.trim(), "inner");

        let doc: serde_json::Value =
            serde_json::from_str(&ctx.run_ok(&["network", "inspect", "inner"])).unwrap();
        let inner = &doc[0];
        assert_eq!(inner["name"], "inner");
        assert_eq!(inner["driver"], "bridge");
        assert_eq!(inner["internal"], true);
        assert_eq!(inner["dns_enabled"], true);
        assert_eq!(inner["labels"]["team"], "a");
        assert_eq!(inner["subnets"][0]["subnet"], "10.123.0.0/24");
        assert_eq!(inner["subnets"][0]["gateway"], "10.123.0.254");
        assert_eq!(
            inner["subnets"][0]["lease_range"]["start_ip"],
            "10.123.0.128"
        );
        // my_bridge got the first automatic subnet, as podman's would.
        let subnet = ctx.run_ok(&[
            "network",
            "inspect",
            "--format",
            "{{range .subnets}}{{.subnet}}{{end}}",
            "my_bridge",
        ]);
        assert_eq!(subnet.trim(), "10.89.0.0/24");
        let id = ctx.run_ok(&["network", "inspect", "--format", "{{.id}}", "my_bridge"]);
        assert!(is_hex(id.trim(), 64), "{id}");

        ctx.run_ok(&["network", "rm", "my_bridge"]);
        assert_exit_code(
            &ctx.run_status(&["network", "exists", "my_bridge"]),
            1,
            "exists",
        );
        let pruned = ctx.run_ok(&["network", "prune", "-f"]);
        assert_eq!(pruned.trim(), "inner");
        assert_eq!(ctx.run_ok(&["network", "ls", "-q"]).trim(), "podman");
    });
}

#[test]
fn n02_bad_network_input_is_refused_in_one_line() {
    for_each_user(|ctx| {
        ctx.run_ok(&["network", "create", "--subnet", "10.124.0.0/16", "wide"]);
        let out = ctx.run_status(&["network", "create", "--subnet", "10.124.5.0/24", "narrow"]);
        assert_one_error_mentioning(&out, "overlaps 10.124.0.0/16", "overlapping subnet");
        assert_exit_code(&out, 125, "overlapping subnet");
        let out = ctx.run_status(&["network", "create", "--subnet", "10.88.1.0/24", "x"]);
        assert_one_error_mentioning(&out, "network podman", "overlap with the default");
        let out = ctx.run_status(&["network", "create", "wide"]);
        assert_one_error_mentioning(&out, "already used", "same name");
        ctx.run_ok(&["network", "create", "--ignore", "wide"]);
        let out = ctx.run_status(&["network", "create", "--opt", "mtu=9000", "o"]);
        assert_one_error_mentioning(&out, "mtu", "unsupported option");
        let out = ctx.run_status(&["network", "create", "-d", "macvlan", "m"]);
        assert_one_error_mentioning(&out, "macvlan", "unsupported driver");
        let out = ctx.run_status(&[
            "network",
            "create",
            "--subnet",
            "10.125.0.0/24",
            "--gateway",
            "10.126.0.1",
            "g",
        ]);
        assert_one_error_mentioning(&out, "10.126.0.1", "gateway outside");
        let out = ctx.run_status(&["network", "rm", "podman"]);
        assert_one_error_mentioning(&out, "cannot be removed", "default network");
        let out = ctx.run_status(&["network", "inspect", "nope"]);
        assert_exit_code(&out, 125, "inspect of a missing network");
        assert!(stderr_of(&out).contains("nope"), "{}", stderr_of(&out));
        assert_eq!(
            nonempty_lines(&ctx.run_ok(&["network", "ls", "-q"])),
            ["podman", "wide"]
        );

        ctx.load_busybox();
        refused(ctx, &["create", "--network", "nope", "busybox"], "nope");
        refused(
            ctx,
            &["create", "-p", "8080:80/sctp", "busybox"],
            "8080:80/sctp",
        );
        refused(ctx, &["create", "-p", "70000:80", "busybox"], "70000");
        refused(
            ctx,
            &["create", "--network", "none", "-p", "80", "busybox"],
            "published ports",
        );
        refused(
            ctx,
            &[
                "create",
                "--network",
                "host",
                "--network",
                "wide",
                "busybox",
            ],
            "cannot be combined",
        );
        refused(
            ctx,
            &["create", "--network", "ns:/run/netns/x", "busybox"],
            "ns:/run/netns/x",
        );
        refused(
            ctx,
            &["create", "--add-host", "nocolon", "busybox"],
            "--add-host",
        );
        refused(ctx, &["create", "--dns", "not-an-ip", "busybox"], "--dns");
        refused(
            ctx,
            &["create", "--network", "wide", "--ip", "10.9.9.9", "busybox"],
            "10.9.9.9",
        );
        if ctx.is_rootless() {
            refused(
                ctx,
                &[
                    "create",
                    "--network",
                    "wide",
                    "--userns",
                    "keep-id",
                    "busybox",
                ],
                "bridge network rootless",
            );
        }
    });
}

#[test]
fn n03_a_network_in_use_is_not_removed_unless_forced() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        ctx.run_ok(&["network", "create", "used"]);
        let id = ctx.run_ok(&["create", "--name", "member", "--network", "used", "busybox"]);
        let out = ctx.run_status(&["network", "rm", "used"]);
        assert_one_error_mentioning(&out, "network is being used", "rm of a used network");
        assert_exit_code(&out, 125, "rm of a used network");
        assert_eq!(ctx.run_ok(&["network", "prune", "-f"]).trim(), "");
        ctx.run_ok(&["network", "exists", "used"]);
        assert_eq!(ctx.run_ok(&["network", "rm", "-f", "used"]).trim(), "used");
        assert!(!ctx.all_short_ids().contains(&id.trim()[..12].to_string()));
    });
}

#[test]
fn n04_published_ports_show_in_port_ps_and_inspect() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let (a, b) = (free_port(), free_port());
        let fixed = format!("{a}:80");
        let local = format!("127.0.0.1:{b}:81/udp");
        ctx.run_ok(&[
            "create",
            "--name",
            "web",
            "--network",
            own_network(ctx),
            "-p",
            &fixed,
            "-p",
            &local,
            "-p",
            "90",
            "--expose",
            "7000",
            "busybox",
        ]);
        // -P publishes what is exposed (--expose here; the image's EXPOSE
        // the same way) on free host ports.
        ctx.run_ok(&[
            "create",
            "--name",
            "all",
            "--network",
            own_network(ctx),
            "-P",
            "--expose",
            "7001-7002/udp",
            "busybox",
        ]);
        let all = ctx.run_ok(&["port", "all"]);
        let all_lines = nonempty_lines(&all);
        assert_eq!(all_lines.len(), 2, "{all}");
        assert!(all_lines[0].starts_with("7001/udp -> 0.0.0.0:"), "{all}");
        assert!(all_lines[1].starts_with("7002/udp -> 0.0.0.0:"), "{all}");
        ctx.run_ok(&["rm", "all"]);
        let listed = ctx.run_ok(&["port", "web"]);
        let lines = nonempty_lines(&listed);
        assert_eq!(lines.len(), 3, "{listed}");
        assert_eq!(lines[0], format!("80/tcp -> 0.0.0.0:{a}"));
        assert_eq!(lines[1], format!("81/udp -> 127.0.0.1:{b}"));
        let random: u16 = lines[2]
            .strip_prefix("90/tcp -> 0.0.0.0:")
            .unwrap_or_else(|| panic!("{listed}"))
            .parse()
            .unwrap();
        assert!(random > 0);
        assert_eq!(
            ctx.run_ok(&["port", "web", "80"]).trim(),
            format!("0.0.0.0:{a}")
        );
        let out = ctx.run_status(&["port", "web", "7000"]);
        assert!(stderr_of(&out).contains("7000/tcp"), "{}", stderr_of(&out));

        let ports = ctx.run_ok(&["ps", "-a", "--format", "{{.Ports}}"]);
        assert_eq!(
            ports.trim(),
            format!("0.0.0.0:{a}->80/tcp, 127.0.0.1:{b}->81/udp, 0.0.0.0:{random}->90/tcp")
        );
        let doc: serde_json::Value =
            serde_json::from_str(&ctx.run_ok(&["inspect", "web"])).unwrap();
        let doc = &doc[0];
        assert_eq!(
            doc["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"],
            a.to_string()
        );
        assert_eq!(
            doc["NetworkSettings"]["Ports"]["80/tcp"][0]["HostIp"],
            "0.0.0.0"
        );
        assert_eq!(
            doc["NetworkSettings"]["Ports"]["81/udp"][0]["HostIp"],
            "127.0.0.1"
        );
        assert!(doc["NetworkSettings"]["Ports"]["7000/tcp"].is_null());
        assert_eq!(
            doc["HostConfig"]["PortBindings"]["80/tcp"][0]["HostPort"],
            a.to_string()
        );
        assert_eq!(
            doc["Config"]["ExposedPorts"]["7000/tcp"],
            serde_json::json!({})
        );
    });
}

#[test]
fn n05_a_host_port_in_use_is_refused_and_nothing_is_created() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = taken.local_addr().unwrap().port();
        let spec = format!("127.0.0.1:{port}:80");
        refused(
            ctx,
            &[
                "create",
                "--network",
                own_network(ctx),
                "-p",
                &spec,
                "busybox",
            ],
            "already in use",
        );
        let twice = format!("{port}:80");
        refused(
            ctx,
            &[
                "create",
                "--network",
                own_network(ctx),
                "-p",
                &twice,
                "-p",
                &twice,
                "busybox",
            ],
            "published twice",
        );
    });
}

#[test]
fn n06_add_host_and_dns_flags_write_the_etc_files() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            "--hostname",
            "box",
            "--add-host",
            "db:10.1.2.3",
            "--dns",
            "192.0.2.53",
            "--dns-search",
            "corp.example",
            "--dns-option",
            "ndots:2",
            "busybox",
            "sh",
            "-c",
            "cat /etc/hosts; echo ---; cat /etc/resolv.conf",
        ]);
        let (hosts, resolv) = out.split_once("---\n").unwrap();
        assert!(hosts.lines().any(|l| l == "10.1.2.3\tdb"), "{hosts}");
        assert!(hosts.lines().any(|l| l == "127.0.1.1\tbox"), "{hosts}");
        assert_eq!(
            nonempty_lines(resolv),
            [
                "search corp.example",
                "nameserver 192.0.2.53",
                "options ndots:2"
            ]
        );
        let doc = ctx.inspect_format_of_run(&["--add-host", "x:10.0.0.9", "--dns", "192.0.2.1"]);
        assert_eq!(doc["HostConfig"]["ExtraHosts"][0], "x:10.0.0.9");
        assert_eq!(doc["HostConfig"]["Dns"][0], "192.0.2.1");
    });
}

trait InspectCreated {
    fn inspect_format_of_run(&self, flags: &[&str]) -> serde_json::Value;
}

impl InspectCreated for Ctx {
    /// `inspect` of a container created with `flags` (and `--network none`).
    fn inspect_format_of_run(&self, flags: &[&str]) -> serde_json::Value {
        let mut args = vec!["create", "--network", "none"];
        args.extend(flags);
        args.push("busybox");
        let id = self.run_ok(&args);
        let doc: serde_json::Value =
            serde_json::from_str(&self.run_ok(&["inspect", id.trim()])).unwrap();
        doc[0].clone()
    }
}

#[test]
fn n07_rootless_default_network_is_up_before_the_command_runs() {
    // pasta is the rootless default; root's default is the bridge.
    for_users(&[User::Rootless], |ctx| {
        ctx.enable_networking();
        ctx.load_busybox();
        // The command's first act is to look: address and default route
        // are there already.
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "ip -4 addr show; ip route",
        ]);
        assert!(
            out.contains("inet ")
                && out
                    .lines()
                    .any(|l| l.contains("eth0") && l.contains("inet ")),
            "{out}"
        );
        assert!(out.lines().any(|l| l.starts_with("default via")), "{out}");
        // --network none still has loopback only, and starts no pasta.
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            "busybox",
            "ip",
            "-o",
            "link",
        ]);
        assert_eq!(nonempty_lines(&out).len(), 1, "{out}");
        assert!(out.contains("lo:"), "{out}");
    });
}

#[test]
fn n08_rootless_published_port_serves_from_the_host_and_nothing_is_left() {
    for_users(&[User::Rootless], |ctx| {
        ctx.enable_networking();
        ctx.load_busybox();
        let port = free_port();
        let publish = format!("127.0.0.1:{port}:80");
        let id = ctx.run_detached(&[
            "--name",
            "web",
            "--hostname",
            "served-here",
            "-p",
            &publish,
            "busybox",
            "httpd",
            "-f",
            "-p",
            "80",
            "-h",
            "/etc",
        ]);
        let answer = http_get(port, "/hostname", STATE_TIMEOUT);
        assert!(answer.ends_with("served-here\n"), "{answer}");
        // One pasta for the container, named by its run directory.
        assert_eq!(pasta_processes_naming(&id).len(), 1);
        ctx.run_ok(&["rm", "-f", "web"]);
        wait_for("its pasta to end", STATE_TIMEOUT, || {
            pasta_processes_naming(&id).is_empty()
        });
        // Its memory goes before its sockets as a process exits: wait.
        wait_for(&format!("port {port} to be free"), STATE_TIMEOUT, || {
            TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
        });
    });
}

#[test]
fn n09_after_a_kill_of_the_monitor_the_next_command_ends_its_pasta() {
    for_users(&[User::Rootless], |ctx| {
        ctx.enable_networking();
        ctx.load_busybox();
        let port = free_port();
        let publish = format!("{port}:80");
        let id = ctx.run_detached(&[
            "--name", "orphan", "-p", &publish, "busybox", "sleep", "600",
        ]);
        assert_eq!(pasta_processes_naming(&id).len(), 1);
        let monitor: i32 = ctx
            .inspect_format("orphan", "{{.State.ConmonPid}}")
            .parse()
            .unwrap();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(monitor),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        wait_for("the monitor to be gone", STATE_TIMEOUT, || {
            !std::path::Path::new(&format!("/proc/{monitor}")).exists()
                || std::fs::read_to_string(format!("/proc/{monitor}/stat"))
                    .is_ok_and(|s| s.contains(") Z "))
        });
        // Any command notices and ends the run, pasta included.
        ctx.run_ok(&["ps", "-a"]);
        assert_eq!(ctx.status_of("orphan"), "exited");
        assert!(
            pasta_processes_naming(&id).is_empty(),
            "pasta left after refresh"
        );
        ctx.run_ok(&["rm", "orphan"]);
    });
}

// --- bridge networks: root's in the test's own network namespace, rootless
// ones in the user's shared rootless network namespace ---------------------

/// `ip -j link` inside the test's namespace: interface names.
fn links(ctx: &Ctx) -> Vec<String> {
    let out = output_of(
        {
            let mut cmd = ctx.enable_networking().command("ip");
            cmd.args(["-j", "link"]);
            cmd
        },
        None,
        COMMAND_TIMEOUT,
    );
    let list: serde_json::Value =
        serde_json::from_str(&assert_success(&out, "ip -j link")).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|l| l["ifname"].as_str().unwrap().to_string())
        .collect()
}

/// `nft -j list ruleset` inside the test's namespace: chain names.
fn nft_chains(ctx: &Ctx) -> Vec<String> {
    let out = output_of(
        {
            let mut cmd = ctx.enable_networking().command("nft");
            cmd.args(["-j", "list", "ruleset"]);
            cmd
        },
        None,
        COMMAND_TIMEOUT,
    );
    let doc: serde_json::Value = serde_json::from_str(&assert_success(&out, "nft list")).unwrap();
    doc["nftables"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o.get("chain")?.get("name")?.as_str().map(String::from))
        .collect()
}

/// The container's address on `network`, from inspect.
fn address_on(ctx: &Ctx, container: &str, network: &str) -> String {
    ctx.inspect_format(
        container,
        &format!("{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}"),
    )
}

#[test]
fn r01_containers_on_a_network_find_each_other_by_name_whatever_the_order() {
    for_each_user(|ctx| {
        ctx.enable_networking();
        ctx.load_busybox();
        ctx.run_ok(&["network", "create", "my_bridge"]);
        ctx.run_detached(&[
            "--name",
            "app1",
            "--network",
            "my_bridge",
            "--network-alias",
            "web",
            "--hostname",
            "app1-host",
            "busybox",
            "httpd",
            "-f",
            "-p",
            "80",
            "-h",
            "/etc",
        ]);
        // A later container reaches the earlier one by name, alias and
        // hostname.
        let got = ctx.run_ok(&[
            "run", "--rm", "--network", "my_bridge", "busybox", "sh", "-c",
            "wget -qO- http://app1/hostname && wget -qO- http://web/hostname && wget -qO- http://app1-host/hostname && ping -c1 -W2 app1 >/dev/null && echo pinged",
        ]);
        assert_eq!(
            nonempty_lines(&got),
            ["app1-host", "app1-host", "app1-host", "pinged"]
        );
        // The earlier one resolves a later one: its /etc/hosts was updated.
        ctx.run_detached(&[
            "--name",
            "app2",
            "--network",
            "my_bridge",
            "busybox",
            "sleep",
            "600",
        ]);
        let app2 = address_on(ctx, "app2", "my_bridge");
        let seen = ctx.run_ok(&["exec", "app1", "sh", "-c", "ping -c1 -W2 app2 | head -1"]);
        assert!(seen.contains(&format!("({app2})")), "{seen}");
        // A removed container stops resolving.
        ctx.run_ok(&["rm", "-f", "app2"]);
        let out = ctx.run_status(&["exec", "app1", "ping", "-c1", "-W1", "app2"]);
        assert!(!out.status.success(), "app2 still resolves");
        let hosts = ctx.run_ok(&["exec", "app1", "cat", "/etc/hosts"]);
        assert!(!hosts.contains("app2"), "{hosts}");
        // The default network resolves no names (docker's rule).
        ctx.run_detached(&["--name", "plain", "busybox", "sleep", "600"]);
        let out = ctx.run_status(&["run", "--rm", "busybox", "ping", "-c1", "-W1", "plain"]);
        assert!(
            !out.status.success(),
            "a name resolved on the default network"
        );
        if !ctx.is_rootless() {
            // As root the default network is a bridge too: reachable by
            // address (rootless, each container has a pasta of its own).
            let ip = address_on(ctx, "plain", "podman");
            ctx.run_ok(&["run", "--rm", "busybox", "ping", "-c1", "-W2", &ip]);
        }
        ctx.run_ok(&["rm", "-f", "app1", "plain"]);
    });
}

#[test]
fn r02_containers_on_different_networks_cannot_talk_one_on_both_reaches_both() {
    for_each_user(|ctx| {
        ctx.enable_networking();
        ctx.load_busybox();
        ctx.run_ok(&["network", "create", "neta"]);
        ctx.run_ok(&["network", "create", "netb"]);
        ctx.run_detached(&[
            "--name",
            "a",
            "--network",
            "neta",
            "busybox",
            "sleep",
            "600",
        ]);
        ctx.run_detached(&[
            "--name",
            "b",
            "--network",
            "netb",
            "busybox",
            "sleep",
            "600",
        ]);
        let a = address_on(ctx, "a", "neta");
        let b = address_on(ctx, "b", "netb");
        assert!(!a.is_empty() && !b.is_empty() && a != b, "{a} {b}");
        let out = ctx.run_status(&["exec", "a", "ping", "-c1", "-W1", &b]);
        assert!(
            !out.status.success(),
            "neta reached netb: {}",
            stdout_of(&out)
        );
        let both = ctx.run_ok(&[
            "run",
            "--rm",
            "--network",
            "neta",
            "--network",
            "netb",
            "busybox",
            "sh",
            "-c",
            &format!("ping -c1 -W2 {a} >/dev/null && ping -c1 -W2 {b} >/dev/null && echo both"),
        ]);
        assert_eq!(both.trim(), "both");
        ctx.run_ok(&["rm", "-f", "a", "b"]);
        ctx.run_ok(&["network", "rm", "neta", "netb"]);
    });
}

#[test]
fn r03_a_published_port_serves_from_the_host_and_rm_leaves_nothing() {
    for_users(&[User::Root], |ctx| {
        let net = ctx.enable_networking();
        ctx.load_busybox();
        ctx.run_ok(&["network", "create", "web_net"]);
        ctx.run_detached(&[
            "--name",
            "web",
            "--hostname",
            "served",
            "-p",
            "8080:80",
            "busybox",
            "httpd",
            "-f",
            "-p",
            "80",
            "-h",
            "/etc",
        ]);
        ctx.run_detached(&[
            "--name",
            "web2",
            "--network",
            "web_net",
            "--hostname",
            "served2",
            "-p",
            "127.0.0.1:8081:80",
            "busybox",
            "httpd",
            "-f",
            "-p",
            "80",
            "-h",
            "/etc",
        ]);
        for (port, expected) in [("8080", "served"), ("8081", "served2")] {
            let url = format!("http://127.0.0.1:{port}/hostname");
            let mut got = String::new();
            wait_for(&format!("{url} to answer"), STATE_TIMEOUT, || {
                let mut cmd = net.command("busybox");
                cmd.args(["wget", "-qO-", &url]);
                let out = output_of(cmd, None, COMMAND_TIMEOUT);
                got = stdout_of(&out);
                out.status.success()
            });
            assert_eq!(got.trim(), expected);
        }
        let ip = address_on(ctx, "web", "podman");
        assert!(ip.starts_with("10.88."), "{ip}");
        assert_eq!(
            ctx.inspect_format("web", "{{.NetworkSettings.Gateway}}"),
            "10.88.0.1"
        );

        ctx.run_ok(&["rm", "-f", "web", "web2"]);
        ctx.run_ok(&["network", "rm", "web_net"]);
        // No veth and no port chain is left; the default network keeps
        // its bridge (as docker0), web_net's went with it.
        wait_for("no veth and no web_net bridge", STATE_TIMEOUT, || {
            links(ctx)
                .iter()
                .all(|l| !l.starts_with("veth") && !l.starts_with("skiff-"))
        });
        let chains = nft_chains(ctx);
        assert!(chains.iter().all(|c| !c.starts_with("c-")), "{chains:?}");
        let leases = std::fs::read_to_string(ctx.root.join("networks/leases.json")).unwrap();
        let leases: serde_json::Value = serde_json::from_str(&leases).unwrap();
        assert_eq!(leases["leases"], serde_json::json!([]));
    });
}

#[test]
fn r04_after_a_kill_of_the_monitor_the_next_command_releases_address_and_links() {
    for_users(&[User::Root], |ctx| {
        ctx.enable_networking();
        ctx.load_busybox();
        ctx.run_detached(&[
            "--name", "orphan", "-p", "8082:80", "busybox", "sleep", "600",
        ]);
        assert!(links(ctx).iter().any(|l| l.starts_with("veth")));
        let monitor: i32 = ctx
            .inspect_format("orphan", "{{.State.ConmonPid}}")
            .parse()
            .unwrap();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(monitor),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        wait_for("the monitor to be gone", STATE_TIMEOUT, || {
            std::fs::read_to_string(format!("/proc/{monitor}/stat"))
                .map_or(true, |s| s.contains(") Z "))
        });
        ctx.run_ok(&["ps", "-a"]);
        assert_eq!(ctx.status_of("orphan"), "exited");
        // The veth goes with the container's namespace, which the kernel
        // tears down in the background.
        wait_for("its veth to go", STATE_TIMEOUT, || {
            links(ctx).iter().all(|l| !l.starts_with("veth"))
        });
        assert!(
            nft_chains(ctx).iter().all(|c| !c.starts_with("c-")),
            "{:?}",
            nft_chains(ctx)
        );
        // Its address is free again: the next container gets the first.
        ctx.run_detached(&["--name", "next", "busybox", "sleep", "600"]);
        assert_eq!(address_on(ctx, "next", "podman"), "10.88.0.2");
        ctx.run_ok(&["rm", "-f", "orphan", "next"]);
    });
}

#[test]
fn r05_network_connect_and_disconnect_of_a_running_container() {
    for_each_user(|ctx| {
        ctx.enable_networking();
        ctx.load_busybox();
        ctx.run_ok(&["network", "create", "front"]);
        ctx.run_ok(&["network", "create", "back"]);
        ctx.run_detached(&[
            "--name",
            "db",
            "--network",
            "back",
            "busybox",
            "sleep",
            "600",
        ]);
        ctx.run_detached(&[
            "--name",
            "web",
            "--network",
            "front",
            "busybox",
            "sleep",
            "600",
        ]);
        let out = ctx.run_status(&["exec", "web", "ping", "-c1", "-W1", "db"]);
        assert!(!out.status.success(), "db resolved before connect");

        ctx.run_ok(&["network", "connect", "--alias", "www", "back", "web"]);
        let back = address_on(ctx, "web", "back");
        assert!(back.starts_with("10.89."), "{back}");
        let seen = ctx.run_ok(&[
            "exec",
            "web",
            "sh",
            "-c",
            "ip -o -4 addr show eth1; ping -c1 -W2 db >/dev/null && echo db",
        ]);
        assert!(
            seen.contains(&back) && seen.trim_end().ends_with("db"),
            "{seen}"
        );
        // The peer resolves the newcomer and its alias.
        ctx.run_ok(&["exec", "db", "ping", "-c1", "-W2", "www"]);

        ctx.run_ok(&["network", "disconnect", "back", "web"]);
        let out = ctx.run_status(&["exec", "web", "ip", "link", "show", "eth1"]);
        assert!(!out.status.success(), "eth1 still there");
        let out = ctx.run_status(&["exec", "db", "ping", "-c1", "-W1", "web"]);
        assert!(!out.status.success(), "web still resolves on back");
        let hosts = ctx.run_ok(&["exec", "web", "cat", "/etc/hosts"]);
        assert!(!hosts.contains("\tdb "), "{hosts}");
        let out = ctx.run_status(&["network", "disconnect", "back", "web"]);
        assert_one_error_mentioning(&out, "not connected", "second disconnect");
        ctx.run_ok(&["rm", "-f", "db", "web"]);
    });
}

#[test]
fn r06_fixed_address_mac_and_ip_range() {
    for_each_user(|ctx| {
        ctx.enable_networking();
        ctx.load_busybox();
        ctx.run_ok(&[
            "network",
            "create",
            "--internal",
            "--subnet",
            "10.130.0.0/24",
            "--ip-range",
            "10.130.0.64/26",
            "inside",
        ]);
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "--network",
            "inside",
            "--ip",
            "10.130.0.7",
            "--mac-address",
            "92:d0:c6:0a:29:33",
            "busybox",
            "sh",
            "-c",
            "ip -o -4 addr show eth0; cat /sys/class/net/eth0/address",
        ]);
        assert!(out.contains("inet 10.130.0.7/24"), "{out}");
        assert!(out.lines().any(|l| l == "92:d0:c6:0a:29:33"), "{out}");
        // Without --ip, addresses come from the --ip-range.
        ctx.run_detached(&[
            "--name",
            "ranged",
            "--network",
            "inside",
            "busybox",
            "sleep",
            "600",
        ]);
        assert_eq!(address_on(ctx, "ranged", "inside"), "10.130.0.64");
        // A fixed address in use is refused at start, naming it.
        let out = ctx.run_status(&[
            "run",
            "--rm",
            "--network",
            "inside",
            "--ip",
            "10.130.0.64",
            "busybox",
            "true",
        ]);
        assert!(!out.status.success());
        assert!(
            stderr_of(&out).contains("10.130.0.64 is already in use"),
            "{}",
            stderr_of(&out)
        );
        ctx.run_ok(&["rm", "-f", "ranged"]);
    });
}

#[test]
fn r07_network_ns_path_enters_an_existing_namespace() {
    // Root only: rootless, the namespace belongs to another user
    // namespace than the container's (refused at create, n02).
    for_users(&[User::Root], |ctx| {
        ctx.load_busybox();
        // A namespace of the test's own, with an interface to recognise.
        let mut holder = std::process::Command::new("unshare")
            .args([
                "--net",
                "--",
                "sh",
                "-c",
                "ip link add probe7 type veth peer name probe8 && echo up && exec sleep infinity",
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut up = [0u8; 3];
        holder.stdout.take().unwrap().read_exact(&mut up).unwrap();
        let path = format!("ns:/proc/{}/ns/net", holder.id());
        let out = ctx.run_status(&[
            "run",
            "--rm",
            "--network",
            &path,
            "busybox",
            "cat",
            "/proc/net/dev",
        ]);
        let _ = holder.kill();
        let _ = holder.wait();
        let dev = assert_success(&out, "run --network ns:PATH");
        assert!(dev.contains("probe7:"), "{dev}");
    });
}

#[test]
fn r08_rootless_shared_network_namespace_lives_only_while_used() {
    for_users(&[User::Rootless], |ctx| {
        ctx.enable_networking();
        ctx.load_busybox();
        ctx.run_ok(&["network", "create", "shared"]);
        let record = ctx.runroot.join("networks/rootless-netns.json");
        assert!(!record.exists());
        ctx.run_detached(&[
            "--name",
            "one",
            "--network",
            "shared",
            "busybox",
            "sleep",
            "600",
        ]);
        ctx.run_detached(&[
            "--name",
            "two",
            "--network",
            "shared",
            "busybox",
            "sleep",
            "600",
        ]);
        let shared: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&record).unwrap()).unwrap();
        let holder = shared["holder"]["pid"].as_i64().unwrap();
        let pasta = shared["pasta"]["pid"].as_i64().unwrap();
        let alive = |pid: i64| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| !s.contains(") Z ") && !s.contains(") X "))
        };
        assert!(alive(holder) && alive(pasta));
        // Both containers are in the holder's user namespace.
        let userns = |pid: i64| std::fs::read_link(format!("/proc/{pid}/ns/user")).unwrap();
        let one: i64 = ctx.inspect_format("one", "{{.State.Pid}}").parse().unwrap();
        assert_eq!(userns(one), userns(holder));
        let two = address_on(ctx, "two", "shared");
        ctx.run_ok(&["exec", "one", "ping", "-c1", "-W2", &two]);

        ctx.run_ok(&["rm", "-f", "one"]);
        assert!(alive(holder), "ended while a container still uses it");
        ctx.run_ok(&["rm", "-f", "two"]);
        wait_for("the holder and its pasta to end", STATE_TIMEOUT, || {
            !alive(holder) && !alive(pasta)
        });
        assert!(!record.exists());
        let leases = std::fs::read_to_string(ctx.root.join("networks/leases.json")).unwrap();
        assert!(leases.contains("\"leases\": []"), "{leases}");
    });
}

#[test]
fn r09_rootless_bridge_network_publishes_ports_through_pasta() {
    for_users(&[User::Rootless], |ctx| {
        ctx.enable_networking();
        ctx.load_busybox();
        ctx.run_ok(&["network", "create", "pub"]);
        // Keeps the shared namespace (and its rules) alive throughout.
        ctx.run_detached(&[
            "--name",
            "keeper",
            "--network",
            "pub",
            "busybox",
            "sleep",
            "600",
        ]);
        let port = free_port();
        let publish = format!("127.0.0.1:{port}:80");
        for round in ["first", "second"] {
            let id = ctx.run_detached(&[
                "--name",
                "web",
                "--hostname",
                round,
                "--network",
                "pub",
                "-p",
                &publish,
                "busybox",
                "httpd",
                "-f",
                "-p",
                "80",
                "-h",
                "/etc",
            ]);
            let answer = http_get(port, "/hostname", STATE_TIMEOUT);
            assert!(answer.ends_with(&format!("{round}\n")), "{answer}");
            // Its forwarding pasta ends with it, and so do its port rules:
            // the second round publishes the same port again.
            ctx.run_ok(&["rm", "-f", "web"]);
            wait_for("its pasta to end", STATE_TIMEOUT, || {
                pasta_processes_naming(&id).is_empty()
            });
            wait_for(&format!("port {port} to be free"), STATE_TIMEOUT, || {
                TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
            });
        }
        ctx.run_ok(&["rm", "-f", "keeper"]);
    });
}
