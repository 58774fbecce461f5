//! Checks the network tests share: refusals that leave nothing behind,
//! free ports, HTTP from the host's loopback, pasta processes, and what
//! the test's own network namespace holds (links, nftables chains).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::time::Duration;

use super::*;

/// Asserts `args` fail with exit 125 and a one-line error containing
/// `subject`, and that no container was left behind.
pub fn refused(ctx: &Ctx, args: &[&str], subject: &str) {
    let before = ctx.all_short_ids();
    let out = ctx.run_status(args);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(125), "{args:?}: {err}");
    assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
    assert!(err.contains(subject), "{args:?}: {err}");
    assert_eq!(ctx.all_short_ids(), before, "{args:?} left a container");
}

/// A TCP port nothing listens on now (the kernel's pick).
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The network mode that publishes ports for this user without a bridge:
/// pasta rootless; as root the default bridge network (create only).
pub fn own_network(ctx: &Ctx) -> &'static str {
    if ctx.is_rootless() { "pasta" } else { "bridge" }
}

/// `GET /path` from the host's loopback, retried until `deadline` while
/// the server is not yet listening.
pub fn http_get(port: u16, path: &str, deadline: Duration) -> String {
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

/// Processes whose command line and name `wanted(cmdline, comm)` takes.
fn processes_where(wanted: impl Fn(&str, &str) -> bool) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            wanted(&String::from_utf8_lossy(&cmdline), comm.trim())
        })
        .collect()
}

/// pasta processes whose command line names `needle` (a container's
/// run directory).
pub fn pasta_processes_naming(needle: &str) -> Vec<i32> {
    processes_where(|cmdline, _| cmdline.starts_with("pasta") && cmdline.contains(needle))
}

/// `ip -j link` inside the test's namespace: interface names.
pub fn links(ctx: &Ctx) -> Vec<String> {
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
pub fn nft_chains(ctx: &Ctx) -> Vec<String> {
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

/// `run -d --name NAME --hostname HOSTNAME OPTIONS… busybox httpd` serving
/// /etc on port 80 (so `/hostname` answers HOSTNAME); returns the ID.
pub fn run_web(ctx: &Ctx, name: &str, hostname: &str, options: &[&str]) -> String {
    let mut args = vec!["--name", name, "--hostname", hostname];
    args.extend_from_slice(options);
    args.extend(["busybox", "httpd", "-f", "-p", "80", "-h", "/etc"]);
    ctx.run_detached(&args)
}

/// Kills the monitor of a detached container (`monitor`, its
/// `.State.ConmonPid`) with SIGKILL and waits until it is gone (a zombie
/// counts as gone), as a crash would leave things.
pub fn kill_monitor(monitor: i32) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(monitor),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_for(
        "the monitor to be gone",
        super::containers::STATE_TIMEOUT,
        || {
            std::fs::read_to_string(format!("/proc/{monitor}/stat"))
                .map_or(true, |s| s.contains(") Z "))
        },
    );
}

/// The container's address on `network`, from inspect.
pub fn address_on(ctx: &Ctx, container: &str, network: &str) -> String {
    ctx.inspect_format(
        container,
        &format!("{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}"),
    )
}

/// Live processes of the rootless shared network namespace of this
/// test's store: its holder (`skiff-netns`) and pastas (the shared one
/// and forwarders), recognised by the runroot on their command line.
pub fn network_processes_of(ctx: &Ctx) -> Vec<i32> {
    let runroot = ctx.runroot.display().to_string();
    processes_where(|cmdline, comm| {
        cmdline.contains(&runroot) && (cmdline.starts_with("pasta") || comm == "skiff-netns")
    })
}
