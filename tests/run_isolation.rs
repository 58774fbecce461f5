//! What a `skiff run` container cannot see or do: /proc, /sys and /dev
//! laid out like docker's, masked and read-only paths, docker's default
//! capabilities with no_new_privs, no leaked descriptors, and the network
//! modes `none` and `host`. Each test runs as root and rootless.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use common::proc_files::*;
use common::*;

/// docker's default capability set (CHOWN, DAC_OVERRIDE, FOWNER, FSETID,
/// KILL, SETGID, SETUID, SETPCAP, NET_BIND_SERVICE, NET_RAW, SYS_CHROOT,
/// MKNOD, AUDIT_WRITE, SETFCAP) as /proc/<pid>/status prints it.
const DEFAULT_CAPS: &str = "00000000a80425fb";
const NO_CAPS: &str = "0000000000000000";

// --- /proc, /sys, /dev, capabilities, descriptors -----------------------------

#[test]
fn proc_sys_dev_layout() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let script = r#"
            for d in null zero full random urandom tty; do test -c /dev/$d || echo "not a char device: /dev/$d"; done
            for d in pts shm mqueue; do test -d /dev/$d || echo "not a directory: /dev/$d"; done
            echo x > /dev/null || echo "cannot write /dev/null"
            test "$(head -c 3 /dev/zero | wc -c)" = 3 || echo "/dev/zero is not endless"
            test "$(head -c 8 /dev/urandom | wc -c)" = 8 || echo "/dev/urandom is empty"
            if echo x 2>/dev/null > /dev/full; then echo "/dev/full accepted a write"; fi
            echo ---
            cat /proc/mounts
        "#;
        let out = ctx.run_ok(&["run", "--rm", "busybox", "sh", "-c", script]);
        let (problems, mounts) = out.split_once("---\n").expect("script ran to the end");
        assert_eq!(problems, "", "device problems");
        let mounts = parse_mounts(mounts);
        for (target, fstype) in [
            ("/proc", "proc"),
            ("/sys", "sysfs"),
            ("/dev/pts", "devpts"),
            ("/dev/shm", "tmpfs"),
            ("/dev/mqueue", "mqueue"),
        ] {
            let mount = mount_at(&mounts, target)
                .unwrap_or_else(|| panic!("{target} is not mounted: {mounts:#?}"));
            assert_eq!(mount.fstype, fstype, "{target}");
        }
    });
}

#[test]
fn masked_and_readonly_paths() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        // Nothing here ever writes to a dangerous file: /proc/sysrq-trigger
        // is checked through /proc/mounts only, and the write probes target
        // harmless, namespaced files.
        let script = r#"
            for f in /proc/kcore /proc/keys /proc/timer_list; do
                test -e $f && echo "$f=$(head -c 16 $f 2>/dev/null | wc -c)"
            done
            test -d /sys/firmware && echo "/sys/firmware=$(ls -A /sys/firmware | wc -l)"
            if touch /sys/x 2>/dev/null; then echo "WRITABLE /sys"; fi
            if echo skiff 2>/dev/null > /proc/sys/kernel/domainname; then echo "WRITABLE /proc/sys"; fi
            echo ---
            cat /proc/mounts
        "#;
        let out = ctx.run_ok(&["run", "--rm", "busybox", "sh", "-c", script]);
        let (probes, mounts) = out.split_once("---\n").expect("script ran to the end");
        assert!(!probes.contains("WRITABLE"), "{probes}");
        let mounts = parse_mounts(mounts);
        // Masked: something is mounted over the path and it reads empty.
        for path in [
            "/proc/kcore",
            "/proc/keys",
            "/proc/timer_list",
            "/sys/firmware",
        ] {
            if !Path::new(path).exists() {
                continue; // not in this kernel: nothing to mask
            }
            assert!(
                probes.contains(&format!("{path}=0\n")),
                "{path} should read empty: {probes}"
            );
            assert!(
                mount_at(&mounts, path).is_some(),
                "{path} should be masked by a mount"
            );
        }
        for path in ["/sys", "/proc/sys", "/proc/sysrq-trigger"] {
            if !Path::new(path).exists() {
                continue; // e.g. no /proc/sysrq-trigger without CONFIG_MAGIC_SYSRQ
            }
            let mount = mount_at(&mounts, path)
                .unwrap_or_else(|| panic!("{path} should be a read-only mount"));
            assert!(
                mount.has_option("ro"),
                "{path} should be read-only: {mount:?}"
            );
        }
    });
}

#[test]
fn default_capabilities_and_no_new_privs() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        // `cat` is PID 1 here: /proc/self/status is the container process.
        let status =
            parse_status(&ctx.run_ok(&["run", "--rm", "busybox", "cat", "/proc/self/status"]));
        for key in ["CapPrm", "CapEff", "CapBnd"] {
            assert_eq!(status[key], DEFAULT_CAPS, "root in the container: {key}");
        }
        assert_eq!(status["CapAmb"], NO_CAPS, "CapAmb");
        assert_eq!(status["NoNewPrivs"], "1");

        let status = parse_status(&ctx.run_ok(&[
            "run",
            "--rm",
            "-u",
            "1000",
            "busybox",
            "cat",
            "/proc/self/status",
        ]));
        assert_eq!(
            status["CapEff"], NO_CAPS,
            "a non-root user has no effective capabilities"
        );
        assert_eq!(
            status["CapPrm"], NO_CAPS,
            "a non-root user has no permitted capabilities"
        );
        assert_eq!(
            status["CapBnd"], DEFAULT_CAPS,
            "the bounding set is the same for every user"
        );
        assert_eq!(status["NoNewPrivs"], "1");
    });
}

#[test]
fn only_stdio_fds_leak() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        // `ls` is exec'd as PID 1, so it starts with exactly the descriptors
        // skiff passed on. It opens one itself to read the directory, which
        // gets the lowest free number: 3 when only 0-2 were inherited. Any
        // inherited extra shows up as a number the listing would not have.
        for args in [
            &["run", "--rm", "busybox", "ls", "/proc/self/fd"][..],
            &["run", "--rm", "-i", "busybox", "ls", "/proc/self/fd"][..],
        ] {
            let out = ctx.run_ok(args);
            let fds: BTreeSet<&str> = out.split_whitespace().collect();
            assert_eq!(
                fds,
                BTreeSet::from(["0", "1", "2", "3"]),
                "{args:?}: descriptors other than stdin/stdout/stderr (and ls's own 3) leaked"
            );
        }
    });
}

// --- network ------------------------------------------------------------------

#[test]
fn network_none_only_loopback_up() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        for flag in ["--network=none", "--net=none"] {
            let out = ctx.run_ok(&[
                "run",
                "--rm",
                flag,
                "busybox",
                "sh",
                "-c",
                "cat /proc/net/dev; echo ---; ip link show lo",
            ]);
            let (dev, link) = out.split_once("---\n").unwrap();
            assert_eq!(interfaces(dev), ["lo"], "{flag}: interfaces");
            let flags = link
                .split_once('<')
                .and_then(|(_, rest)| rest.split_once('>'))
                .map(|(flags, _)| flags.split(',').collect::<Vec<_>>())
                .unwrap_or_else(|| panic!("unexpected `ip link` output: {link}"));
            assert!(flags.contains(&"UP"), "{flag}: lo should be up: {link}");
        }
    });
}

#[test]
fn network_host_sees_host_interfaces() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let host = interfaces(&fs::read_to_string("/proc/net/dev").unwrap());
        for flag in [&["--network", "host"][..], &["--net", "host"][..]] {
            let mut args = vec!["run", "--rm"];
            args.extend_from_slice(flag);
            args.extend(["busybox", "cat", "/proc/net/dev"]);
            let inside = interfaces(&ctx.run_ok(&args));
            assert_eq!(inside, host, "{flag:?}");
        }
    });
}
