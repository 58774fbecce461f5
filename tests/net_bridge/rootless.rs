//! The rootless shared network namespace uses the same backend with only
//! the capabilities of a user namespace: this test runs the story as the
//! unprivileged test user inside `unshare -Urn` (root of a new user
//! namespace, a new network namespace it owns), by running one ignored
//! test of this binary there.

use std::net::Ipv4Addr;
use std::os::unix::process::CommandExt;
use std::process::Command;

use skiff::net::bridge::{PortForward, Protocol, attach, detach, ensure_network, remove_network};

use super::fixtures::{Container, endpoint, fetch, network, run_ok, skiff_leftovers};
use super::require_root;

const TEST_USER: &str = "skifftest";
const INNER_ENV: &str = "SKIFF_NET_BRIDGE_INNER";
const INNER_TEST: &str = "rootless::inner_story_in_a_user_namespace";

#[test]
fn an_unprivileged_user_namespace_can_run_the_bridge_backend() {
    run_inner_as_test_user(&["unshare", "-Urn", "--"], INNER_TEST);
}

#[test]
fn without_privileges_the_error_names_what_was_refused() {
    run_inner_as_test_user(&[], "rootless::inner_unprivileged_is_refused");
}

/// Runs one ignored test of this binary as the test user, under
/// `wrapper` (a command that ends by running its arguments).
fn run_inner_as_test_user(wrapper: &[&str], test: &str) {
    require_root();
    let Some(user) = nix::unistd::User::from_name(TEST_USER).ok().flatten() else {
        if std::env::var_os("CI").is_some()
            || std::env::var_os("SKIFF_TEST_REQUIRE_ROOTLESS").is_some()
        {
            panic!("the test user {TEST_USER:?} does not exist; scripts/test creates it");
        }
        eprintln!("!!! SKIPPING ROOTLESS: user {TEST_USER:?} does not exist");
        return;
    };
    let exe = std::env::current_exe().unwrap();
    let mut command = match wrapper.split_first() {
        Some((program, args)) => {
            let mut command = Command::new(program);
            command.args(args).arg(&exe);
            command
        }
        None => Command::new(&exe),
    };
    let output = command
        .args([
            "--exact",
            test,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(INNER_ENV, "1")
        .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
        .current_dir("/")
        .uid(user.uid.as_raw())
        .gid(user.gid.as_raw())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{test} failed as {TEST_USER}:\n{stdout}\n{stderr}"
    );
}

/// As the test user with no namespace of its own: it can change nothing,
/// and the error says which step was refused.
#[test]
#[ignore = "run by without_privileges_the_error_names_what_was_refused"]
fn inner_unprivileged_is_refused() {
    assert!(
        std::env::var_os(INNER_ENV).is_some(),
        "run only by the rootless test"
    );
    assert!(!nix::unistd::geteuid().is_root(), "must run unprivileged");
    let error = ensure_network(&network("nu", "skiff0", 13, false)).unwrap_err();
    let text = error.to_string();
    assert!(
        text.starts_with("cannot set up nftables rules for network net_nu: ")
            && text.contains("Operation not permitted"),
        "{text}"
    );
}

/// Only meaningful inside the namespace the test above makes: it refuses
/// to run anywhere else (an `--ignored` run as root on the host would
/// otherwise change the host's links and rules).
#[test]
#[ignore = "run by an_unprivileged_user_namespace_can_run_the_bridge_backend"]
fn inner_story_in_a_user_namespace() {
    assert!(
        std::env::var_os(INNER_ENV).is_some(),
        "run only by the rootless test"
    );
    let uid_map = std::fs::read_to_string("/proc/self/uid_map").unwrap();
    let fields: Vec<&str> = uid_map.split_whitespace().collect();
    assert!(
        fields.len() == 3 && fields[0] == "0" && fields[1] != "0",
        "not inside an unprivileged user namespace: {uid_map}"
    );

    // unshare -n leaves lo down.
    run_ok(Command::new("ip").args(["link", "set", "lo", "up"]));
    let net = network("nr", "skiff0", 9, false);
    ensure_network(&net).unwrap();
    let (c1, c2) = (Container::new(), Container::new());
    let e1 = endpoint("r1", &c1, &net, "eth0", 2);
    let e2 = endpoint("r2", &c2, &net, "eth0", 3);
    let forward = PortForward {
        host_ip: Some(Ipv4Addr::LOCALHOST),
        host_port: 8080,
        container_port: 80,
        protocol: Protocol::Tcp,
    };
    attach(&e1, &[forward]).unwrap();
    attach(&e2, &[]).unwrap();

    let served = c1.serve_once(80, "rootless peer");
    assert_eq!(
        c2.fetch(Ipv4Addr::new(10, 89, 9, 2), 80).unwrap(),
        "rootless peer"
    );
    served.join().unwrap().unwrap();
    // Where pasta delivers a published port: 127.0.0.1 of this namespace.
    let served = c1.serve_once(80, "rootless port");
    assert_eq!(fetch(Ipv4Addr::LOCALHOST, 8080).unwrap(), "rootless port");
    served.join().unwrap().unwrap();

    detach(&e1, &[forward]).unwrap();
    detach(&e2, &[]).unwrap();
    remove_network(&net).unwrap();
    assert_eq!(skiff_leftovers(), Vec::<String>::new());
}
