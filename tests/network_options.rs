//! `network create --opt`: the MTU (podman's `mtu`, docker's
//! `com.docker.network.driver.mtu`) reaches the container's interface and,
//! as root in the test's own network namespace, the bridge and the host
//! veth; the bridge's name (`--interface-name`, docker's
//! `com.docker.network.bridge.name`); bad and unknown options are refused
//! with nothing created; `--dns` gives the members their name servers,
//! `--route` their static routes; `--ipam-driver` takes host-local only.

mod common;

use common::containers::nonempty_lines;
use common::*;

/// `ip -j link show` inside the test's namespace (root only): each link's
/// name, MTU and bridge.
fn root_links(ctx: &Ctx) -> Vec<(String, u64, Option<String>)> {
    let out = output_of(
        {
            let mut cmd = ctx.enable_networking().command("ip");
            cmd.args(["-j", "link", "show"]);
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
        .map(|l| {
            (
                l["ifname"].as_str().unwrap().to_string(),
                l["mtu"].as_u64().unwrap(),
                l["master"].as_str().map(String::from),
            )
        })
        .collect()
}

#[test]
fn o01_an_mtu_option_reaches_the_containers_interface() {
    for_each_user(|ctx| {
        ctx.enable_networking();
        ctx.load_busybox();
        ctx.run_ok(&["network", "create", "-o", "mtu=1400", "n"]);
        let options = ctx.run_ok(&["network", "inspect", "--format", "{{json .options}}", "n"]);
        let options: serde_json::Value = serde_json::from_str(options.trim()).unwrap();
        assert_eq!(options, serde_json::json!({"mtu": "1400"}));
        let mtu = ctx.run_ok(&[
            "run",
            "--rm",
            "--network",
            "n",
            "busybox",
            "cat",
            "/sys/class/net/eth0/mtu",
        ]);
        assert_eq!(mtu.trim(), "1400");

        // docker's spellings: the MTU and the bridge's name.
        ctx.run_ok(&[
            "network",
            "create",
            "--opt",
            "com.docker.network.driver.mtu=1280",
            "--opt",
            "com.docker.network.bridge.name=br-opt",
            "d",
        ]);
        let shown = ctx.run_ok(&[
            "network",
            "inspect",
            "--format",
            "{{.network_interface}} {{json .options}}",
            "d",
        ]);
        assert_eq!(shown.trim(), r#"br-opt {"mtu":"1280"}"#);
        ctx.run_detached(&["--name", "c", "--network", "d", "busybox", "sleep", "600"]);
        let mtu = ctx.run_ok(&["exec", "c", "cat", "/sys/class/net/eth0/mtu"]);
        assert_eq!(mtu.trim(), "1280");
        // A network without the option keeps the kernel's default.
        let mtu = ctx.run_ok(&[
            "run",
            "--rm",
            "--network",
            "podman",
            "busybox",
            "cat",
            "/sys/class/net/eth0/mtu",
        ]);
        assert_ne!(mtu.trim(), "1280");
        if !ctx.is_rootless() {
            // The bridge has the asked name and MTU, and so has its port.
            let links = root_links(ctx);
            let bridge = links.iter().find(|l| l.0 == "br-opt");
            assert_eq!(bridge.map(|l| l.1), Some(1280), "{links:?}");
            let ports: Vec<u64> = links
                .iter()
                .filter(|l| l.2.as_deref() == Some("br-opt"))
                .map(|l| l.1)
                .collect();
            assert_eq!(ports, [1280], "{links:?}");
        }
        ctx.run_ok(&["rm", "-f", "c"]);
        ctx.run_ok(&["network", "rm", "d"]);
        if !ctx.is_rootless() {
            let links = root_links(ctx);
            assert!(links.iter().all(|l| l.0 != "br-opt"), "{links:?}");
        }
    });
}

#[test]
fn o02_bad_and_unknown_options_are_refused_and_nothing_is_created() {
    for_each_user(|ctx| {
        ctx.run_ok(&["network", "create", "--interface-name", "br-taken", "first"]);
        let cases: &[(&[&str], &str)] = &[
            (&["-o", "mtu=67"], "67"),
            (&["-o", "mtu=65536"], "65536"),
            (&["--opt", "mtu=big"], "big"),
            (&["-o", "com.docker.network.driver.mtu=0"], "mtu"),
            (&["-o", "vlan=5"], "vlan"),
            (&["-o", "mtu=1400", "-o", "isolate=true"], "isolate"),
            (
                &["-o", "com.docker.network.bridge.name=name-of-16-chars"],
                "name-of-16-chars",
            ),
            (&["--interface-name", "br/x"], "br/x"),
            (&["--interface-name", "br-taken"], "br-taken"),
            (&["--interface-name", "skiff0"], "skiff0"),
        ];
        for (flags, subject) in cases {
            let mut args = vec!["network", "create"];
            args.extend_from_slice(flags);
            args.push("bad");
            let out = ctx.run_status(&args);
            assert_exit_code(&out, 125, &format!("{flags:?}"));
            assert_one_error_mentioning(&out, subject, &format!("{flags:?}"));
        }
        let out = ctx.run_status(&["network", "create", "-o", "vlan=5", "bad"]);
        assert_one_error_mentioning(&out, "supported are mtu", "the supported options listed");
        let mut listed = nonempty_lines(&ctx.run_ok(&["network", "ls", "-q"]));
        listed.sort();
        assert_eq!(listed, ["first", "podman"]);
    });
}

#[test]
fn network_dns_servers_replace_the_hosts_unless_run_gives_its_own() {
    for_each_user(|ctx| {
        ctx.enable_networking();
        ctx.load_busybox();
        let out = ctx.run_status(&["network", "create", "--dns", "not-an-ip", "bad"]);
        assert_eq!(out.status.code(), Some(125), "{}", stderr_of(&out));
        assert!(stderr_of(&out).contains("invalid --dns \"not-an-ip\""));
        assert!(!ctx.run_ok(&["network", "ls"]).contains("bad"));

        ctx.run_ok(&[
            "network",
            "create",
            "--dns",
            "192.0.2.53,192.0.2.54",
            "dnsnet",
        ]);
        let inspected = ctx.run_ok(&[
            "network",
            "inspect",
            "--format",
            "{{range .network_dns_servers}}{{.}} {{end}}",
            "dnsnet",
        ]);
        assert_eq!(inspected.trim(), "192.0.2.53 192.0.2.54");
        let resolv = |extra: &[&str]| -> Vec<String> {
            let mut args = vec!["run", "--rm", "--network", "dnsnet"];
            args.extend_from_slice(extra);
            args.extend(["busybox", "cat", "/etc/resolv.conf"]);
            nonempty_lines(&ctx.run_ok(&args))
                .into_iter()
                .filter(|l| l.starts_with("nameserver"))
                .collect()
        };
        assert_eq!(
            resolv(&[]),
            ["nameserver 192.0.2.53", "nameserver 192.0.2.54"]
        );
        assert_eq!(resolv(&["--dns", "192.0.2.99"]), ["nameserver 192.0.2.99"]);
    });
}

#[test]
fn network_routes_reach_every_member_and_bad_ones_are_refused() {
    for_each_user(|ctx| {
        ctx.enable_networking();
        ctx.load_busybox();
        for (args, subject) in [
            (
                vec![
                    "--subnet",
                    "10.89.7.0/24",
                    "--route",
                    "192.0.2.0/24,10.89.8.1",
                ],
                "not a host address of the network's subnet 10.89.7.0/24",
            ),
            (
                vec!["--route", "192.0.2.0/24"],
                "expected DESTINATION,GATEWAY",
            ),
            (
                vec!["--ipam-driver", "dhcp"],
                "unsupported IPAM driver dhcp",
            ),
        ] {
            let mut full = vec!["network", "create"];
            full.extend(args);
            full.push("bad");
            let out = ctx.run_status(&full);
            let err = stderr_of(&out);
            assert_eq!(out.status.code(), Some(125), "{full:?}: {err}");
            assert!(err.contains(subject), "{full:?}: {err}");
        }
        assert!(!ctx.run_ok(&["network", "ls"]).contains("bad"));

        ctx.run_ok(&[
            "network",
            "create",
            "--ipam-driver",
            "host-local",
            "--subnet",
            "10.89.7.0/24",
            "--route",
            "192.0.2.0/24,10.89.7.254,50",
            "rnet",
        ]);
        let inspected = ctx.run_ok(&[
            "network",
            "inspect",
            "--format",
            "{{range .routes}}{{.destination}} {{.gateway}} {{.metric}}{{end}}",
            "rnet",
        ]);
        assert_eq!(inspected.trim(), "192.0.2.0/24 10.89.7.254 50");
        let routes = ctx.run_ok(&["run", "--rm", "--network", "rnet", "busybox", "ip", "route"]);
        assert!(
            nonempty_lines(&routes)
                .iter()
                .any(|l| l.starts_with("192.0.2.0/24 via 10.89.7.254 dev eth0")
                    && l.contains("metric 50")),
            "{routes}"
        );
    });
}
