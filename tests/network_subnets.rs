//! `network create` keeps clear of subnets the host already routes, as
//! podman does: an automatic subnet skips them, an explicit one that
//! overlaps is refused. Root and rootless, each run in a network
//! namespace the test made and gave a route to 10.89.0.0/24 (an address on a
//! veth), so the host's own routes never matter.

mod common;

use std::os::fd::AsFd;
use std::process::{Child, Command, Output, Stdio};

use common::*;

/// A network namespace held by `unshare --net sleep`, with a route.
struct RoutedNetns(Child);

impl RoutedNetns {
    fn new() -> RoutedNetns {
        let script = "ip link set lo up && ip link add d0 type veth peer name d1 && ip link set d1 up && \
                      ip addr add 10.89.0.1/24 dev d0 && ip link set d0 up && \
                      echo up && exec sleep infinity";
        let mut child = Command::new("unshare")
            .args(["--net", "--", "sh", "-c", script])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("unshare --net");
        let mut line = [0u8; 3];
        std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut line)
            .expect("the namespace is set up");
        assert_eq!(&line, b"up\n");
        RoutedNetns(child)
    }

    /// Runs `cmd` (uid already set for the rootless user) inside: spawned
    /// from a thread that entered the namespace, as the child inherits it.
    fn output(&self, mut cmd: Command) -> Output {
        let path = format!("/proc/{}/ns/net", self.0.id());
        std::thread::scope(|scope| {
            scope
                .spawn(move || {
                    let netns = std::fs::File::open(&path).expect("the namespace file");
                    nix::sched::setns(netns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
                        .expect("setns into the test's namespace");
                    cmd.stdin(Stdio::null()).output().expect("skiff runs")
                })
                .join()
                .expect("the spawning thread")
        })
    }
}

impl Drop for RoutedNetns {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn network_create_keeps_clear_of_subnets_the_host_routes() {
    for_each_user(|ctx| {
        let netns = RoutedNetns::new();
        let out = netns.output(ctx.skiff(&["network", "create", "auto1"]));
        assert_success(&out, "network create auto1");
        let out = netns.output(ctx.skiff(&[
            "network",
            "inspect",
            "--format",
            "{{range .subnets}}{{.subnet}}{{end}}",
            "auto1",
        ]));
        assert_eq!(
            assert_success(&out, "network inspect").trim(),
            "10.89.1.0/24"
        );

        let out =
            netns.output(ctx.skiff(&["network", "create", "--subnet", "10.89.0.128/25", "clash"]));
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(125), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(
            err.contains("10.89.0.0/24, a subnet the host is on"),
            "{err}"
        );
        assert!(!ctx.run_ok(&["network", "ls"]).contains("clash"));
    });
}
