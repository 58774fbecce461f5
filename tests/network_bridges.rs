//! Bridge networks, as root in a network namespace the test made
//! (`common/netns.rs`) and rootless in the user's shared rootless network
//! namespace: names resolve between peers whatever the start order,
//! networks are isolated, published ports serve from the host, connect
//! and disconnect act at once, `--ip`/`--mac-address`/`--ip-range`,
//! `ns:PATH`, and nothing is left after `rm -f`, a kill -9 of the monitor
//! or the last rootless container.

mod common;

use std::io::Read;
use std::net::{Ipv4Addr, TcpListener};

use common::containers::{STATE_TIMEOUT, nonempty_lines};
use common::net_checks::*;
use common::*;

#[test]
fn r01_containers_on_a_network_find_each_other_by_name_whatever_the_order() {
    for_each_user(|ctx| {
        ctx.enable_networking();
        ctx.load_busybox();
        ctx.run_ok(&["network", "create", "my_bridge"]);
        run_web(
            ctx,
            "app1",
            "app1-host",
            &["--network", "my_bridge", "--network-alias", "web"],
        );
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
        // The default network is a bridge too (rootless, in the shared
        // rootless namespace): reachable by address.
        let ip = address_on(ctx, "plain", "podman");
        ctx.run_ok(&["run", "--rm", "busybox", "ping", "-c1", "-W2", &ip]);
        ctx.run_ok(&["rm", "-f", "app1", "plain"]);
        // A network made with --disable-dns resolves no names either.
        ctx.run_ok(&["network", "create", "--disable-dns", "quiet"]);
        ctx.run_detached(&[
            "--name",
            "q1",
            "--network",
            "quiet",
            "busybox",
            "sleep",
            "600",
        ]);
        let out = ctx.run_status(&[
            "run",
            "--rm",
            "--network",
            "quiet",
            "busybox",
            "ping",
            "-c1",
            "-W1",
            "q1",
        ]);
        assert!(!out.status.success(), "a name resolved with --disable-dns");
        ctx.run_ok(&["rm", "-f", "q1"]);
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
        run_web(ctx, "web", "served", &["-p", "8080:80"]);
        run_web(
            ctx,
            "web2",
            "served2",
            &["--network", "web_net", "-p", "127.0.0.1:8081:80"],
        );
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
        kill_monitor(monitor);
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
            let id = run_web(ctx, "web", round, &["--network", "pub", "-p", &publish]);
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
