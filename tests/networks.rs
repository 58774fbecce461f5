//! Networks and published ports: the `network` verbs, `-p` and how
//! `port`, `ps` and `inspect` show it, the /etc files `--add-host` and
//! `--dns*` write, bad input, and rootless `--network pasta` (a
//! published port serves from the host; the container finds its network
//! up at once; nothing is left after `rm -f` or a kill -9 of the
//! monitor). Bridge networks are in `network_bridges.rs`.

mod common;

use std::net::{Ipv4Addr, TcpListener};

use common::containers::{STATE_TIMEOUT, is_hex, nonempty_lines};
use common::net_checks::*;
use common::*;

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

        ctx.run_ok(&["network", "create", "--disable-dns", "quiet"]);
        let dns = ctx.run_ok(&[
            "network",
            "inspect",
            "--format",
            "{{.dns_enabled}}",
            "quiet",
        ]);
        assert_eq!(dns.trim(), "false");
        ctx.run_ok(&["network", "rm", "quiet"]);
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
        let out = ctx.run_status(&["network", "create", "--opt", "vlan=5", "o"]);
        assert_one_error_mentioning(&out, "vlan", "unsupported option");
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
        // Names that would add or cut lines in peers' /etc/hosts.
        refused(
            ctx,
            &[
                "create",
                "--network",
                "wide",
                "--network-alias",
                "db\n10.0.0.9 bank",
                "busybox",
            ],
            "invalid network alias",
        );
        refused(
            ctx,
            &["create", "--hostname", "a b", "busybox"],
            "invalid --hostname",
        );
        let c = ctx.run_ok(&["create", "--network", "wide", "busybox"]);
        let out = ctx.run_status(&["network", "connect", "--alias", "x#y", "wide", c.trim()]);
        assert_one_error_mentioning(&out, "invalid network alias", "connect --alias");
        ctx.run_ok(&["rm", c.trim()]);
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
        assert_eq!(
            ctx.inspect_format("all", "{{.HostConfig.PublishAllPorts}}"),
            "true"
        );
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
fn n07_rootless_network_is_up_before_the_command_runs() {
    // The default network (the shared rootless namespace's bridge) and
    // `--network pasta` (a pasta of the container's own, configuring its
    // namespace while init sets up).
    for_users(&[User::Rootless], |ctx| {
        ctx.enable_networking();
        ctx.load_busybox();
        for network in [&[][..], &["--network", "pasta"][..]] {
            // The command's first act is to look: address and default
            // route are there already.
            let mut args = vec!["run", "--rm"];
            args.extend(network);
            args.extend(["busybox", "sh", "-c", "ip -4 addr show; ip route"]);
            let out = ctx.run_ok(&args);
            assert!(
                out.lines()
                    .any(|l| l.contains("inet ") && !l.contains("127.0.0.1")),
                "{network:?}: {out}"
            );
            assert!(
                out.lines().any(|l| l.starts_with("default via")),
                "{network:?}: {out}"
            );
        }
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
fn n08_rootless_pasta_published_port_serves_from_the_host_and_nothing_is_left() {
    for_users(&[User::Rootless], |ctx| {
        ctx.enable_networking();
        ctx.load_busybox();
        let port = free_port();
        let publish = format!("127.0.0.1:{port}:80");
        let id = run_web(
            ctx,
            "web",
            "served-here",
            &["--network", "pasta", "-p", &publish],
        );
        let answer = http_get(port, "/hostname", STATE_TIMEOUT);
        assert!(answer.ends_with("served-here\n"), "{answer}");
        // `port -a`: each running container's ID, then its mappings;
        // `port -l PORT`: the latest container's.
        let all = ctx.run_ok(&["port", "-a"]);
        assert_eq!(
            nonempty_lines(&all),
            [id.clone(), format!("80/tcp -> 127.0.0.1:{port}")]
        );
        assert_eq!(
            ctx.run_ok(&["port", "-l", "80"]).trim(),
            format!("127.0.0.1:{port}")
        );
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
            "--name",
            "orphan",
            "--network",
            "pasta",
            "-p",
            &publish,
            "busybox",
            "sleep",
            "600",
        ]);
        assert_eq!(pasta_processes_naming(&id).len(), 1);
        let monitor: i32 = ctx
            .inspect_format("orphan", "{{.State.ConmonPid}}")
            .parse()
            .unwrap();
        kill_monitor(monitor);
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
