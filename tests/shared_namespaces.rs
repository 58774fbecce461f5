//! Entering another container's namespaces (`--pid`, `--ipc`, `--uts`,
//! `--userns`, `--network container:NAME`), `--ipc none`, the dependency
//! that makes `rm` refuse the other container, and `--cap-add` of a
//! capability skiff itself lacks. Each test runs as root and rootless.

mod common;

use common::containers::STATE_TIMEOUT;
use common::proc_files::interfaces;
use common::*;

/// `readlink /proc/self/ns/KIND` inside: the namespace a process is in,
/// as the kernel names it (`ipc:[4026532…]`).
fn namespace_inside(ctx: &Ctx, args: &[&str], kind: &str) -> String {
    let mut full = args.to_vec();
    let path = format!("/proc/self/ns/{kind}");
    full.extend(["readlink", path.as_str()]);
    ctx.run_ok(&full).trim().to_string()
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

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

#[test]
fn pid_ipc_and_uts_joins_see_the_other_container() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let x = ctx.run_detached(&[
            "--name",
            "x",
            "--hostname",
            "xhost",
            "busybox",
            "sh",
            "-c",
            "echo shared > /dev/shm/note; exec sleep 300",
        ]);
        // The note is written before the sleep replaces the shell.
        wait_for("x's note in /dev/shm", STATE_TIMEOUT, || {
            ctx.run_status(&["exec", "x", "test", "-e", "/dev/shm/note"])
                .status
                .success()
        });

        // PID: x's sleep is PID 1 of what the joiner sees, in a /proc of
        // that namespace.
        let ps = ctx.run_ok(&[
            "run",
            "--rm",
            "--pid",
            "container:x",
            "busybox",
            "ps",
            "-o",
            "pid,args",
        ]);
        assert!(
            ps.lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["1", "sleep", "300"]),
            "{ps}"
        );
        let cmdline = ctx.run_ok(&[
            "run",
            "--rm",
            "--pid",
            "container:x",
            "busybox",
            "cat",
            "/proc/1/cmdline",
        ]);
        assert_eq!(cmdline, "sleep\x00300\x00");
        assert_eq!(
            namespace_inside(
                ctx,
                &["run", "--rm", "--pid", "container:x", "busybox"],
                "pid"
            ),
            namespace_inside(ctx, &["exec", "x"], "pid")
        );

        // IPC: the same namespace, and x's /dev/shm (docker shares it).
        assert_eq!(
            namespace_inside(
                ctx,
                &["run", "--rm", "--ipc", "container:x", "busybox"],
                "ipc"
            ),
            namespace_inside(ctx, &["exec", "x"], "ipc")
        );
        let note = ctx.run_ok(&[
            "run",
            "--rm",
            "--ipc",
            "container:x",
            "busybox",
            "cat",
            "/dev/shm/note",
        ]);
        assert_eq!(note, "shared\n");
        ctx.run_ok(&[
            "run",
            "--rm",
            "--ipc",
            "container:x",
            "busybox",
            "sh",
            "-c",
            "echo back > /dev/shm/reply",
        ]);
        assert_eq!(
            ctx.run_ok(&["exec", "x", "cat", "/dev/shm/reply"]),
            "back\n"
        );
        // A container of its own sees neither.
        assert_ne!(
            namespace_inside(ctx, &["run", "--rm", "busybox"], "ipc"),
            namespace_inside(ctx, &["exec", "x"], "ipc")
        );
        let own = ctx.run_status(&["run", "--rm", "busybox", "cat", "/dev/shm/note"]);
        assert_ne!(own.status.code(), Some(0));

        // UTS: x's hostname, and the joiner cannot rename it.
        let host = ctx.run_ok(&["run", "--rm", "--uts", "container:x", "busybox", "hostname"]);
        assert_eq!(host, "xhost\n");
        assert_eq!(ctx.run_ok(&["exec", "x", "hostname"]), "xhost\n");

        // Recorded by ID: a rename of x does not matter.
        ctx.run_ok(&["rename", "x", "x2"]);
        let y = ctx.run_detached(&[
            "--pid",
            "container:x2",
            "--ipc",
            "container:x2",
            "--uts",
            "container:x2",
            "busybox",
            "sleep",
            "300",
        ]);
        assert_eq!(
            ctx.inspect_format(
                &y,
                "{{.HostConfig.PidMode}} {{.HostConfig.IpcMode}} {{.HostConfig.UTSMode}}"
            ),
            format!("container:{x} container:{x} container:{x}")
        );
        ctx.run_ok(&["rm", "-f", "--depend", &x]);
    });
}

#[test]
fn network_join_reaches_the_other_containers_loopback() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let x = ctx.run_detached(&[
            "--name",
            "web",
            "--hostname",
            "webhost",
            "busybox",
            "sh",
            "-c",
            "mkdir /www && echo hello > /www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /www",
        ]);
        // Retried until httpd listens, for at most 10 s.
        let fetch = "for i in $(seq 100); do wget -qO- http://127.0.0.1:8080/ && exit 0; sleep 0.1; done; exit 1";
        let page = ctx.run_ok(&[
            "run",
            "--rm",
            "--network",
            "container:web",
            "busybox",
            "sh",
            "-c",
            fetch,
        ]);
        assert_eq!(page, "hello\n");
        // Its own loopback has nothing listening there.
        let alone = ctx.run_status(&[
            "run",
            "--rm",
            "busybox",
            "wget",
            "-qO-",
            "http://127.0.0.1:8080/",
        ]);
        assert_ne!(alone.status.code(), Some(0));

        // The same interfaces, hostname and name-resolution files.
        let joiner = ["run", "--rm", "--network", "container:web", "busybox"];
        let inside = |args: &[&str], command: &str| {
            let mut full = args.to_vec();
            full.extend(["sh", "-c", command]);
            ctx.run_ok(&full)
        };
        let devices = "cat /proc/net/dev";
        assert_eq!(
            interfaces(&inside(&joiner, devices)),
            interfaces(&inside(&["exec", "web"], devices))
        );
        let files = "hostname; cat /etc/hostname /etc/hosts /etc/resolv.conf";
        let ours = inside(&joiner, files);
        assert!(ours.starts_with("webhost\nwebhost\n"), "{ours}");
        assert_eq!(ours, inside(&["exec", "web"], files));
        assert_eq!(
            namespace_inside(
                ctx,
                &["run", "--rm", "--net", "container:web", "busybox"],
                "net"
            ),
            namespace_inside(ctx, &["exec", "web"], "net")
        );

        let z = ctx.run_detached(&["--network", "container:web", "busybox", "sleep", "300"]);
        assert_eq!(
            ctx.inspect_format(&z, "{{.HostConfig.NetworkMode}}"),
            format!("container:{x}")
        );
        // A hostname of its own would not be its network's.
        refused(
            ctx,
            &[
                "run",
                "--rm",
                "--hostname",
                "h",
                "--network",
                "container:web",
                "busybox",
                "true",
            ],
            "--hostname",
        );
        ctx.run_ok(&["rm", "-f", "--depend", "web"]);
    });
}

#[test]
fn userns_join_shares_the_id_mapping() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let x = ctx.run_detached(&["--name", "x", "busybox", "sleep", "300"]);
        let theirs = ctx.run_ok(&["exec", "x", "cat", "/proc/self/uid_map"]);
        let ours = ctx.run_ok(&[
            "run",
            "--rm",
            "--userns",
            "container:x",
            "busybox",
            "cat",
            "/proc/self/uid_map",
        ]);
        assert_eq!(ours, theirs);
        assert_eq!(
            namespace_inside(
                ctx,
                &["run", "--rm", "--userns", "container:x", "busybox"],
                "user"
            ),
            namespace_inside(ctx, &["exec", "x"], "user")
        );
        // Its other namespaces stay its own.
        assert_ne!(
            namespace_inside(
                ctx,
                &["run", "--rm", "--userns", "container:x", "busybox"],
                "pid"
            ),
            namespace_inside(ctx, &["exec", "x"], "pid")
        );
        let y = ctx.run_detached(&["--userns", "container:x", "busybox", "sleep", "300"]);
        assert_eq!(
            ctx.inspect_format(&y, "{{.HostConfig.UsernsMode}}"),
            format!("container:{x}")
        );
        ctx.run_ok(&["rm", "-f", "--depend", "x"]);
    });
}

#[test]
fn ipc_none_has_no_dev_shm_and_private_has_one() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "--ipc",
            "none",
            "busybox",
            "sh",
            "-c",
            "test -e /dev/shm && echo yes || echo no",
        ]);
        assert_eq!(out, "no\n");
        for mode in ["private", "shareable"] {
            let out = ctx.run_ok(&[
                "run",
                "--rm",
                "--ipc",
                mode,
                "busybox",
                "sh",
                "-c",
                "test -d /dev/shm && echo yes",
            ]);
            assert_eq!(out, "yes\n", "{mode}");
        }
        let id = ctx.run_ok(&["create", "--ipc", "none", "busybox", "true"]);
        assert_eq!(
            ctx.inspect_format(id.trim(), "{{.HostConfig.IpcMode}}"),
            "none"
        );
        ctx.run_ok(&["rm", id.trim()]);
    });
}

#[test]
fn the_other_container_must_exist_and_run() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        for flag in ["--pid", "--ipc", "--uts", "--userns", "--network"] {
            refused(
                ctx,
                &["run", "--rm", flag, "container:nope", "busybox", "true"],
                "\"nope\"",
            );
        }
        ctx.run_ok(&["create", "--name", "idle", "busybox", "true"]);
        refused(
            ctx,
            &["run", "--rm", "--pid", "container:idle", "busybox", "true"],
            "not running",
        );
        refused(
            ctx,
            &["run", "--rm", "--ipc", "container:", "busybox", "true"],
            "--ipc",
        );
        refused(
            ctx,
            &[
                "run",
                "--rm",
                "--cgroupns",
                "container:idle",
                "busybox",
                "true",
            ],
            "--cgroupns",
        );

        // Checked again at each start: the PID changes between runs.
        ctx.run_ok(&["run", "-d", "--name", "x", "busybox", "sleep", "300"]);
        let y = ctx.run_detached(&["--ipc", "container:x", "busybox", "sleep", "300"]);
        ctx.run_ok(&["stop", "-t", "0", &y]);
        ctx.run_ok(&["stop", "-t", "0", "x"]);
        let out = ctx.run_status(&["start", &y]);
        assert_eq!(out.status.code(), Some(125), "{}", stderr_of(&out));
        assert!(
            stderr_of(&out).contains("not running"),
            "{}",
            stderr_of(&out)
        );
        ctx.run_ok(&["start", "x"]);
        ctx.run_ok(&["start", &y]);
        assert_eq!(
            namespace_inside(ctx, &["exec", &y], "ipc"),
            namespace_inside(ctx, &["exec", "x"], "ipc")
        );

        // Two different containers: as root each namespace is entered
        // directly; rootless they belong to two user namespaces, and a
        // process can be in one only.
        ctx.run_ok(&[
            "run",
            "-d",
            "--name",
            "b",
            "--hostname",
            "bhost",
            "busybox",
            "sleep",
            "300",
        ]);
        let args = [
            "run",
            "--rm",
            "--pid",
            "container:x",
            "--uts",
            "container:b",
            "busybox",
            "hostname",
        ];
        if ctx.is_rootless() {
            refused(ctx, &args, "only one other container");
        } else {
            assert_eq!(ctx.run_ok(&args), "bhost\n");
        }
        ctx.run_ok(&["rm", "-f", "--depend", "x", "idle", "b"]);
    });
}

#[test]
fn rm_refuses_a_container_others_joined_unless_depend() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let x = ctx.run_detached(&["--name", "x", "busybox", "sleep", "300"]);
        let y = ctx.run_detached(&["--pid", "container:x", "busybox", "sleep", "300"]);
        let out = ctx.run_status(&["rm", "-f", "x"]);
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(125), "{err}");
        assert_eq!(
            err.trim(),
            format!(
                "Error: container {x} has dependent containers which must be removed before it: {y}"
            )
        );
        assert_eq!(ctx.status_of("x"), "running");
        assert_eq!(ctx.status_of(&y), "running");

        let out = ctx.run_ok(&["rm", "-f", "--depend", "x"]);
        assert_eq!(out, format!("{y}\nx\n"));
        assert!(ctx.all_short_ids().is_empty(), "{:?}", ctx.all_short_ids());
    });
}

#[test]
fn joiners_outlive_the_other_container_except_in_its_pid_namespace() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        ctx.run_detached(&["--name", "x", "busybox", "sleep", "300"]);
        let in_pid = ctx.run_detached(&["--pid", "container:x", "busybox", "sleep", "300"]);
        let in_net = ctx.run_detached(&[
            "--network",
            "container:x",
            "--ipc",
            "container:x",
            "busybox",
            "sleep",
            "300",
        ]);
        ctx.run_ok(&["kill", "x"]);
        assert_eq!(ctx.run_ok(&["wait", "x"]), "137\n");
        // The kernel kills a PID namespace's processes with its init.
        assert_eq!(ctx.run_ok(&["wait", &in_pid]), "137\n");
        assert_eq!(ctx.status_of(&in_pid), "exited");
        // The network and IPC namespaces live on with their joiner.
        assert_eq!(ctx.status_of(&in_net), "running");
        let lo = ctx.run_ok(&["exec", &in_net, "cat", "/proc/net/dev"]);
        assert!(interfaces(&lo).contains(&"lo".to_string()), "{lo}");
        ctx.run_ok(&["rm", "-f", "--depend", "x"]);
    });
}

/// The capability names by bit, as the kernel numbers them.
const CAPABILITY_NAMES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// A capability this process (and so skiff, started from it) does not
/// have in its bounding set, if any.
fn capability_not_held() -> Option<&'static str> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let bounding = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .map(|hex| u64::from_str_radix(hex.trim(), 16).unwrap())
        .unwrap();
    CAPABILITY_NAMES
        .iter()
        .enumerate()
        .find(|(bit, _)| bounding & (1 << bit) == 0)
        .map(|(_, name)| *name)
}

#[test]
fn cap_add_of_a_capability_skiff_lacks_is_refused() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        // `ALL` and `--privileged` quietly take what skiff has.
        ctx.run_ok(&["run", "--rm", "--cap-add", "ALL", "busybox", "true"]);
        ctx.run_ok(&["run", "--rm", "--privileged", "busybox", "true"]);
        let Some(missing) = capability_not_held() else {
            eprintln!(
                "this host's bounding set holds every capability: no --cap-add to refuse, assertion skipped"
            );
            return;
        };
        let lower = missing.to_lowercase();
        for name in [missing.to_string(), format!("CAP_{missing}"), lower] {
            refused(
                ctx,
                &["run", "--rm", "--cap-add", &name, "busybox", "true"],
                &format!("CAP_{missing}"),
            );
            refused(
                ctx,
                &["create", "--cap-add", &name, "busybox", "true"],
                &format!("CAP_{missing}"),
            );
        }
    });
}
