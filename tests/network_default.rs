//! The default network (`podman`, alias `bridge`), used when no
//! `--network` is given, root and rootless alike: containers on it reach
//! each other by address but not by name (docker's rule); rootless, it is
//! the shared rootless network namespace's bridge, so a published port
//! serves from the host's loopback through a forwarding pasta; a start
//! that fails leaves no holder or pasta behind; and after `rm -f` of
//! everything no process, lease or marker is left. A rootless container
//! with an ID mapping of its own gets a pasta of its own instead.

mod common;

use std::net::{Ipv4Addr, TcpListener};

use common::containers::{STATE_TIMEOUT, nonempty_lines};
use common::net_checks::*;
use common::*;

/// Nothing of the default network is left: no lease, and rootless no
/// shared namespace (record, holder, pasta, start markers).
fn assert_nothing_left(ctx: &Ctx) {
    let leases = std::fs::read_to_string(ctx.root.join("networks/leases.json")).unwrap();
    let leases: serde_json::Value = serde_json::from_str(&leases).unwrap();
    assert_eq!(leases["leases"], serde_json::json!([]));
    if ctx.is_rootless() {
        // Killed processes may take a moment to be gone.
        wait_for("the holder and its pastas to end", STATE_TIMEOUT, || {
            network_processes_of(ctx).is_empty()
        });
        let networks = ctx.runroot.join("networks");
        assert!(!networks.join("rootless-netns.json").exists());
        let joining: Vec<_> = std::fs::read_dir(networks.join("joining"))
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(joining.is_empty(), "{joining:?}");
    }
}

#[test]
fn d01_containers_on_the_default_network_reach_each_other_by_address_not_by_name() {
    for_each_user(|ctx| {
        ctx.enable_networking();
        ctx.load_busybox();
        run_web(ctx, "web", "web-host", &[]);
        let ip = address_on(ctx, "web", "podman");
        assert!(ip.starts_with("10.88."), "{ip}");
        // The server may not listen yet when `run -d` returns: the client
        // tries for a while.
        let fetch = |host: &str| {
            format!(
                "for i in $(seq 50); do wget -qO- http://{host}/hostname && exit 0; sleep 0.1; done; exit 1"
            )
        };
        let got = ctx.run_ok(&["run", "--rm", "busybox", "sh", "-c", &fetch(&ip)]);
        assert_eq!(nonempty_lines(&got), ["web-host"]);
        // No name resolves on the default network, in either direction.
        let out = ctx.run_status(&["run", "--rm", "busybox", "wget", "-qO-", "http://web/"]);
        assert!(
            !out.status.success(),
            "a name resolved on the default network"
        );
        ctx.run_detached(&["--name", "peer", "busybox", "sleep", "600"]);
        let hosts = ctx.run_ok(&["exec", "web", "cat", "/etc/hosts"]);
        assert!(!hosts.contains("peer"), "{hosts}");
        // ... while the address works both ways.
        let peer = address_on(ctx, "peer", "podman");
        assert!(peer.starts_with("10.88.") && peer != ip, "{peer}");
        ctx.run_ok(&["exec", "web", "ping", "-c1", "-W2", &peer]);
        if ctx.is_rootless() {
            // Both are in the shared namespace's user namespace.
            let userns = |name: &str| {
                let pid = ctx.inspect_format(name, "{{.State.Pid}}");
                std::fs::read_link(format!("/proc/{pid}/ns/user")).unwrap()
            };
            assert_eq!(userns("web"), userns("peer"));
        }
        ctx.run_ok(&["rm", "-f", "web", "peer"]);
        assert_nothing_left(ctx);
    });
}

#[test]
fn d02_rootless_published_port_on_the_default_network_serves_from_loopback() {
    for_users(&[User::Rootless], |ctx| {
        ctx.enable_networking();
        ctx.load_busybox();
        let port = free_port();
        let publish = format!("127.0.0.1:{port}:80");
        let id = run_web(ctx, "web", "published", &["-p", &publish]);
        assert!(address_on(ctx, "web", "podman").starts_with("10.88."));
        let answer = http_get(port, "/hostname", STATE_TIMEOUT);
        assert!(answer.ends_with("published\n"), "{answer}");
        assert_eq!(
            ctx.run_ok(&["port", "web", "80"]).trim(),
            format!("127.0.0.1:{port}")
        );
        // Its forwarding pasta, named by its run directory.
        assert_eq!(pasta_processes_naming(&id).len(), 1);
        ctx.run_ok(&["rm", "-f", "web"]);
        assert_nothing_left(ctx);
        wait_for(&format!("port {port} to be free"), STATE_TIMEOUT, || {
            TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
        });
    });
}

#[test]
fn d03_rootless_start_waits_for_the_shared_pasta_and_a_failed_start_leaves_nothing() {
    for_users(&[User::Rootless], |ctx| {
        ctx.enable_networking();
        ctx.load_busybox();
        // Starts that fail after entering a fresh shared namespace (its
        // pasta possibly still configuring it): in the command, in the
        // container's own set-up, detached or not.
        let failing: [&[&str]; 3] = [
            &["run", "--rm", "busybox", "no-such-command"],
            &["run", "--rm", "--workdir", "/etc/passwd", "busybox", "true"],
            &["run", "-d", "--name", "bad", "busybox", "no-such-command"],
        ];
        for args in failing {
            let out = ctx.run_status(args);
            assert!(!out.status.success(), "{args:?} succeeded");
            ctx.run_status(&["rm", "-f", "bad"]);
            assert_nothing_left(ctx);
        }
        // A start returns once its command runs, which is after the shared
        // namespace's pasta configured it: its PID file names it by then.
        ctx.run_detached(&["--name", "first", "busybox", "sleep", "600"]);
        let networks = ctx.runroot.join("networks");
        let shared: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(networks.join("rootless-netns.json")).unwrap(),
        )
        .unwrap();
        let pasta = shared["pasta"]["pid"].as_i64().unwrap();
        let written = std::fs::read_to_string(networks.join("pasta.pid")).unwrap();
        assert_eq!(written.trim(), pasta.to_string());
        // A failing start beside a running container leaves the namespace
        // to it, and nothing of its own.
        let out = ctx.run_status(&["run", "--rm", "busybox", "no-such-command"]);
        assert!(!out.status.success());
        assert_eq!(network_processes_of(ctx).len(), 2, "holder and pasta");
        ctx.run_ok(&["rm", "-f", "first"]);
        assert_nothing_left(ctx);
    });
}

#[test]
fn d04_rootless_own_id_mapping_gets_a_pasta_of_its_own_by_default() {
    for_users(&[User::Rootless], |ctx| {
        ctx.enable_networking();
        ctx.load_busybox();
        let uid = ctx.uid.to_string();
        for userns in ["keep-id", "auto"] {
            let out = ctx.run_ok(&[
                "run",
                "--rm",
                "--userns",
                userns,
                "busybox",
                "sh",
                "-c",
                "id -u; ip -o -4 addr show scope global",
            ]);
            let lines = nonempty_lines(&out);
            if userns == "keep-id" {
                assert_eq!(lines[0], uid, "{out}");
            }
            // pasta gives it the host's address, not one of 10.88.0.0/16.
            assert!(
                lines
                    .iter()
                    .skip(1)
                    .any(|l| l.contains("inet ") && !l.contains(" 10.88.")),
                "--userns {userns}: {out}"
            );
        }
        ctx.run_ok(&["network", "create", "mapped"]);
        refused(
            ctx,
            &[
                "run",
                "--rm",
                "--userns",
                "keep-id",
                "--network",
                "mapped",
                "busybox",
                "true",
            ],
            "use --network pasta, none or host",
        );
        wait_for("no pasta of the runs is left", STATE_TIMEOUT, || {
            network_processes_of(ctx).is_empty()
        });
    });
}

#[test]
fn d05_rootless_shared_namespace_whose_id_maps_fail_is_an_error_not_a_hang() {
    for_users(&[User::Rootless], |ctx| {
        ctx.enable_networking();
        ctx.load_busybox();
        // A newuidmap that refuses, found first on PATH: the shared
        // namespace cannot get its ID maps while its pasta is starting.
        let fake = ctx.make_dir("fake-bin");
        let tool = ctx.write_file(
            "fake-bin/newuidmap",
            "#!/bin/sh\necho refused >&2\nexit 1\n",
        );
        std::fs::set_permissions(&tool, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let mut cmd = ctx.skiff(&["run", "--rm", "busybox", "true"]);
        cmd.env(
            "PATH",
            format!(
                "{}:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                fake.display()
            ),
        );
        // Bounded by COMMAND_TIMEOUT: a hang fails here.
        let out = output_of(cmd, None, COMMAND_TIMEOUT);
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(125), "{err}");
        assert!(err.contains("newuidmap"), "{err}");
        wait_for("no holder or pasta is left", STATE_TIMEOUT, || {
            network_processes_of(ctx).is_empty()
        });
        assert!(!ctx.runroot.join("networks/rootless-netns.json").exists());
        // Nothing holds the networks lock: the next start works.
        assert_eq!(
            ctx.run_ok(&["run", "--rm", "busybox", "echo", "ok"]).trim(),
            "ok"
        );
        assert_nothing_left(ctx);
    });
}
