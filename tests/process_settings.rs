//! `--ulimit`, `--umask`, `--tz`, `--shm-size`, `--sysctl` and the
//! namespaces a container may share with the host (`--pid`, `--ipc`,
//! `--uts`, `--cgroupns host`): what a user sees inside, what `exec` and
//! `inspect` see, and the values refused before anything is created.
//! Each test runs as root and rootless.

mod common;

use std::fs;
use std::process::{Command, Stdio};

use common::proc_files::*;
use common::*;

/// The soft and hard values of one line of /proc/self/limits
/// ("Max open files  1024  2048  files").
fn limits_line(limits: &str, name: &str) -> (String, String) {
    let line = limits
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no {name:?} line in {limits}"));
    let fields: Vec<&str> = line[name.len()..].split_whitespace().collect();
    (fields[0].to_string(), fields[1].to_string())
}

/// The namespace link of this (the test's) process, as a host process
/// sees it.
fn host_namespace(kind: &str) -> String {
    fs::read_link(format!("/proc/self/ns/{kind}"))
        .unwrap()
        .display()
        .to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn inspect(ctx: &Ctx, name: &str) -> serde_json::Value {
    let out = ctx.run_ok(&["inspect", name]);
    let json: serde_json::Value = serde_json::from_str(&out).expect("inspect prints JSON");
    json[0].clone()
}

#[test]
fn ulimits_and_umask_hold_for_the_command_and_exec() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let script = "cat /proc/self/limits; echo umask=$(umask); touch /tmp/f; stat -c %a /tmp/f";
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "--ulimit",
            "nofile=1024:2048",
            "--ulimit",
            "nproc=100",
            "--umask",
            "0027",
            "busybox",
            "sh",
            "-c",
            script,
        ]);
        assert_eq!(
            limits_line(&out, "Max open files"),
            ("1024".into(), "2048".into())
        );
        assert_eq!(
            limits_line(&out, "Max processes"),
            ("100".into(), "100".into())
        );
        assert!(out.contains("umask=0027\n"), "{out}");
        // 0666 & ~0027
        assert!(out.ends_with("640\n"), "{out}");

        // Without --umask: docker's 0022.
        let out = ctx.run_ok(&["run", "--rm", "busybox", "sh", "-c", "umask"]);
        assert_eq!(out, "0022\n");

        // `exec` gets the container's limits and umask too.
        ctx.run_ok(&[
            "run",
            "-d",
            "--name",
            "limited",
            "--ulimit",
            "nofile=512:1024",
            "--umask",
            "077",
            "busybox",
            "sleep",
            "600",
        ]);
        let out = ctx.run_ok(&[
            "exec",
            "limited",
            "sh",
            "-c",
            "cat /proc/self/limits; umask",
        ]);
        assert_eq!(
            limits_line(&out, "Max open files"),
            ("512".into(), "1024".into())
        );
        assert!(out.ends_with("0077\n"), "{out}");
        let c = inspect(ctx, "limited");
        assert_eq!(
            c["HostConfig"]["Ulimits"],
            serde_json::json!([{"Name": "RLIMIT_NOFILE", "Soft": 512, "Hard": 1024}])
        );
        assert_eq!(c["Config"]["Umask"], "0077");
        ctx.run_ok(&["rm", "-f", "limited"]);
    });
}

#[test]
fn shm_size_sysctl_and_time_zone() {
    let paris = fs::read("/usr/share/zoneinfo/Europe/Paris").expect("the host has tzdata");
    let local = fs::read("/etc/localtime").expect("the host has /etc/localtime");
    for_each_user(|ctx| {
        ctx.load_busybox();
        ctx.run_ok(&[
            "create",
            "--name",
            "tuned",
            "--shm-size",
            "256m",
            "--sysctl",
            "kernel.shmmax=123456789",
            "--sysctl",
            "net.ipv4.ip_forward=1",
            "--tz",
            "Europe/Paris",
            "busybox",
            "sh",
            "-c",
            "cat /proc/sys/kernel/shmmax /proc/sys/net/ipv4/ip_forward; cat /proc/mounts",
        ]);
        let out = ctx.run_ok(&["start", "-a", "tuned"]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[..2], ["123456789", "1"], "{out}");
        let mounts = parse_mounts(&lines[2..].join("\n"));
        let shm = mount_at(&mounts, "/dev/shm").expect("/dev/shm is mounted");
        assert!(
            shm.options.iter().any(|o| o == "size=262144k"),
            "{:?}",
            shm.options
        );
        let c = inspect(ctx, "tuned");
        assert_eq!(c["HostConfig"]["ShmSize"], 256 * 1024 * 1024);
        assert_eq!(c["HostConfig"]["Sysctls"]["kernel.shmmax"], "123456789");
        assert_eq!(c["Config"]["Timezone"], "Europe/Paris");
        ctx.run_ok(&["rm", "tuned"]);

        // /etc/localtime is the zone's file (busybox has no zoneinfo of its
        // own to name it by), compared byte for byte in hex.
        let localtime = |zone: &str| {
            ctx.run_ok(&[
                "run",
                "--rm",
                "--tz",
                zone,
                "busybox",
                "sh",
                "-c",
                "od -An -v -tx1 /etc/localtime | tr -d ' \\n'",
            ])
        };
        assert_eq!(localtime("Europe/Paris"), hex(&paris), "Europe/Paris");
        assert_eq!(localtime("local"), hex(&local), "local");
    });
}

#[test]
fn namespaces_shared_with_the_host() {
    let host_name = nix::sys::utsname::uname().unwrap();
    let host_name = host_name.nodename().to_string_lossy().into_owned();
    for_each_user(|ctx| {
        ctx.load_busybox();
        // A host process the container must see with --pid host.
        let mut sleeper = Command::new("sleep")
            .arg("3607")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let pid = sleeper.id();
        let script = format!(
            "tr '\\0' ' ' < /proc/{pid}/cmdline; echo; hostname; \
             for n in pid ipc uts cgroup; do readlink /proc/self/ns/$n; done"
        );
        let out = ctx.run_status(&[
            "run",
            "--rm",
            "--pid",
            "host",
            "--ipc",
            "host",
            "--uts",
            "host",
            "--cgroupns",
            "host",
            "busybox",
            "sh",
            "-c",
            &script,
        ]);
        let _ = sleeper.kill();
        let _ = sleeper.wait();
        let out = assert_success(&out, "run with the host's namespaces");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "sleep 3607 ", "{out}");
        assert_eq!(lines[1], host_name, "{out}");
        for (line, kind) in lines[2..].iter().zip(["pid", "ipc", "uts", "cgroup"]) {
            assert_eq!(*line, host_namespace(kind), "{kind}: {out}");
        }
        // The host kept its name.
        let after = nix::sys::utsname::uname().unwrap();
        assert_eq!(after.nodename().to_string_lossy(), host_name);

        // By default none of them is the host's.
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "for n in pid ipc uts; do readlink /proc/self/ns/$n; done",
        ]);
        for (line, kind) in out.lines().zip(["pid", "ipc", "uts"]) {
            assert_ne!(line, host_namespace(kind), "{kind}");
        }

        ctx.run_ok(&[
            "create", "--name", "shared", "--pid", "host", "--uts", "host", "busybox",
        ]);
        let c = inspect(ctx, "shared");
        assert_eq!(c["HostConfig"]["PidMode"], "host");
        assert_eq!(c["HostConfig"]["UTSMode"], "host");
        assert_eq!(c["HostConfig"]["IpcMode"], "shareable");
        ctx.run_ok(&["rm", "shared"]);
    });
}

#[test]
fn invalid_values_are_one_line_errors() {
    let mut own = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut own) }, 0);
    let too_high = format!("nofile=1024:{}", own.rlim_max + 1);
    for_each_user(|ctx| {
        ctx.load_busybox();
        let cases: [(&[&str], &str); 15] = [
            (&["--userns", "keep-id:uid=x"], "keep-id"),
            (&["--userns", "container:other"], "container:other"),
            (&["--userns", "bogus"], "--userns"),
            (&["--ulimit", &too_high], "hard limit"),
            (&["--ulimit", "bogus=1"], "bogus"),
            (&["--ulimit", "nofile=2:1"], "nofile=2:1"),
            (&["--umask", "999"], "--umask"),
            (&["--tz", "Nowhere/Atlantis"], "Nowhere/Atlantis"),
            (&["--tz", "../../etc/passwd"], "--tz"),
            (&["--shm-size", "lots"], "--shm-size"),
            (&["--sysctl", "kernel.hostname=x"], "kernel.hostname"),
            (
                &["--sysctl", "net.ipv4.ip_forward=1", "--network", "host"],
                "network namespace",
            ),
            (&["--ipc", "host", "--shm-size", "1m"], "--shm-size"),
            (&["--pid", "container:other"], "--pid"),
            (&["--uts", "bogus"], "--uts"),
        ];
        for (flags, subject) in cases {
            let mut args = vec!["run", "--rm"];
            args.extend_from_slice(flags);
            args.extend_from_slice(&["busybox", "true"]);
            let out = ctx.run_status(&args);
            let what = format!("run {flags:?}");
            assert_exit_code(&out, 125, &what);
            assert_one_error_mentioning(&out, subject, &what);
        }
        // Nothing was created.
        assert_eq!(ctx.run_ok(&["ps", "-aq"]), "");
    });
}

#[test]
fn userns_host_is_the_callers_own() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "--userns",
            "host",
            "busybox",
            "sh",
            "-c",
            "cat /proc/self/uid_map; readlink /proc/self/ns/user",
        ]);
        let lines: Vec<&str> = out.lines().collect();
        let first: Vec<&str> = lines[0].split_whitespace().collect();
        if ctx.is_rootless() {
            // The caller is container root, as with no --userns at all.
            assert_eq!(first[..2], ["0", &ctx.uid.to_string()], "{out}");
            assert_ne!(lines.last().unwrap(), &host_namespace("user"), "{out}");
        } else {
            // No user namespace: the host's whole range, the host's namespace.
            assert_eq!(first, ["0", "0", "4294967295"], "{out}");
            assert_eq!(lines.last().unwrap(), &host_namespace("user"), "{out}");
        }
        ctx.run_ok(&["create", "--name", "u", "--userns", "host", "busybox"]);
        assert_eq!(inspect(ctx, "u")["HostConfig"]["UsernsMode"], "host");
        ctx.run_ok(&["rm", "u"]);
    });
}
