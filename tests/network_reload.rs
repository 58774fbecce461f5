//! `network reload`: after `nft flush ruleset` (a firewall restart) a
//! running container's published port serves again once reloaded, and
//! links left by this store's containers that hold no address go; rootless, reload
//! works in the shared namespace; a container that is not running is
//! refused.

mod common;

use common::containers::STATE_TIMEOUT;
use common::net_checks::*;
use common::*;

fn wget_in_netns(ctx: &Ctx, url: &str) -> std::process::Output {
    let mut cmd = ctx.enable_networking().command("busybox");
    // (busybox 1.35's wget crashes with -T.)
    cmd.args(["wget", "-qO-", url]);
    output_of(cmd, None, COMMAND_TIMEOUT)
}

fn in_netns_ok(ctx: &Ctx, program: &str, args: &[&str]) {
    let mut cmd = ctx.enable_networking().command(program);
    cmd.args(args);
    let out = output_of(cmd, None, COMMAND_TIMEOUT);
    assert_success(&out, &format!("{program} {args:?}"));
}

#[test]
fn after_a_ruleset_flush_reload_makes_published_ports_serve_again() {
    for_users(&[User::Root], |ctx| {
        ctx.enable_networking();
        ctx.load_busybox();
        ctx.run_ok(&["network", "create", "rl_net"]);
        let id = run_web(
            ctx,
            "web",
            "reloaded",
            &["--network", "rl_net", "-p", "8080:80"],
        );
        let url = "http://127.0.0.1:8080/hostname";
        wait_for("the published port to answer", STATE_TIMEOUT, || {
            wget_in_netns(ctx, url).status.success()
        });

        in_netns_ok(ctx, "nft", &["flush", "ruleset"]);
        assert!(
            !wget_in_netns(ctx, url).status.success(),
            "the port still answers after the flush"
        );
        // Veths skiff made for containers that are not running (their
        // alias names the owner): reload removes the one of a container
        // of this store, and leaves one of a container it does not know
        // (another --root's).
        let stopped = ctx.run_ok(&["create", "--network", "rl_net", "busybox", "true"]);
        for (veth, owner) in [
            ("vethdead", stopped.trim().to_string()),
            ("vethother", "d".repeat(64)),
        ] {
            let (end, peer) = (format!("{veth}0"), format!("{veth}1"));
            in_netns_ok(
                ctx,
                "ip",
                &["link", "add", &end, "type", "veth", "peer", "name", &peer],
            );
            let alias = format!("skiff-endpoint:{owner}:eth0");
            in_netns_ok(ctx, "ip", &["link", "set", &end, "alias", &alias]);
        }

        assert_eq!(ctx.run_ok(&["network", "reload", "web"]).trim(), id);
        let out = wget_in_netns(ctx, url);
        assert_eq!(stdout_of(&out).trim(), "reloaded", "{}", stderr_of(&out));
        let left = links(ctx);
        assert!(left.iter().all(|l| !l.starts_with("vethdead")), "{left:?}");
        assert!(left.iter().any(|l| l.starts_with("vethother0")), "{left:?}");
        // --all reloads every running container, printing each ID.
        assert_eq!(ctx.run_ok(&["network", "reload", "--all"]).trim(), id);
        ctx.run_ok(&["rm", "-f", "web", stopped.trim()]);
    });
}

#[test]
fn reload_works_rootless_and_refuses_what_is_not_running() {
    for_each_user(|ctx| {
        ctx.enable_networking();
        ctx.load_busybox();
        ctx.run_ok(&["network", "create", "rl_net2"]);
        let port = free_port();
        let publish = format!("127.0.0.1:{port}:80");
        let id = run_web(
            ctx,
            "web",
            "still-here",
            &["--network", "rl_net2", "-p", &publish],
        );
        let hostname = || -> String {
            if ctx.is_rootless() {
                http_get(port, "/hostname", STATE_TIMEOUT)
            } else {
                let url = format!("http://127.0.0.1:{port}/hostname");
                let mut got = String::new();
                wait_for("the published port to answer", STATE_TIMEOUT, || {
                    let out = wget_in_netns(ctx, &url);
                    got = stdout_of(&out);
                    out.status.success()
                });
                got
            }
        };
        assert!(hostname().ends_with("still-here\n"));

        assert_eq!(ctx.run_ok(&["network", "reload", "-l"]).trim(), id);
        assert!(hostname().ends_with("still-here\n"));

        ctx.run_ok(&[
            "create",
            "--name",
            "idle",
            "--network",
            "rl_net2",
            "busybox",
            "true",
        ]);
        let out = ctx.run_status(&["network", "reload", "idle"]);
        assert_eq!(out.status.code(), Some(125), "{}", stderr_of(&out));
        assert!(
            stderr_of(&out).contains("not running"),
            "{}",
            stderr_of(&out)
        );
        let out = ctx.run_status(&["network", "reload"]);
        assert_eq!(out.status.code(), Some(125), "{}", stderr_of(&out));
        ctx.run_ok(&["rm", "-f", "web", "idle"]);
    });
}
