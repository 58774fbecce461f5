//! `skiff run`: one user story per test, each run as root and rootless.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use common::*;
use nix::sys::signal::Signal;

/// docker's default capability set (CHOWN, DAC_OVERRIDE, FOWNER, FSETID,
/// KILL, SETGID, SETUID, SETPCAP, NET_BIND_SERVICE, NET_RAW, SYS_CHROOT,
/// MKNOD, AUDIT_WRITE, SETFCAP) as /proc/<pid>/status prints it.
const DEFAULT_CAPS: &str = "00000000a80425fb";
const NO_CAPS: &str = "0000000000000000";

fn lines(s: &str) -> Vec<&str> {
    s.lines().collect()
}

// --- basics: output, input, exit codes -------------------------------------

#[test]
fn run_prints_hello() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let out = ctx.run_ok(&["run", "--rm", "busybox", "echo", "hello", "from", "skiff"]);
        assert_eq!(out, "hello from skiff\n");
    });
}

#[test]
fn stdin_is_streamed_with_i() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let out = ctx.run_stdin(&["run", "-i", "--rm", "busybox", "wc", "-c"], b"data\n");
        assert_eq!(assert_success(&out, "echo data | run -i wc -c").trim(), "5");
    });
}

#[test]
fn stdin_is_empty_without_i() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        // Without -i the container's stdin is empty (/dev/null): cat prints
        // nothing and ends instead of waiting for input.
        let out = ctx.run_stdin(&["run", "--rm", "busybox", "cat"], b"x\n");
        assert_eq!(assert_success(&out, "echo x | run cat"), "");
    });
}

#[test]
fn default_cmd_comes_from_the_image() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        // The image's Cmd is ["sh"]: with -i it reads commands from stdin.
        let out = ctx.run_stdin(&["run", "-i", "--rm", "busybox"], b"echo via-image-cmd\n");
        assert_eq!(assert_success(&out, "run -i busybox"), "via-image-cmd\n");
    });
}

#[test]
fn exit_code_is_propagated() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        for (code, script) in [
            (0, "exit 0"),
            (3, "exit 3"),
            (1, "false"),
            (255, "exit 255"),
        ] {
            let out = ctx.run_status(&["run", "--rm", "busybox", "sh", "-c", script]);
            assert_exit_code(&out, code, &format!("sh -c {script:?}"));
        }
    });
}

#[test]
fn missing_command_exits_127() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        for command in ["nosuchcmd", "/no/such/binary"] {
            let out = ctx.run_status(&["run", "--rm", "busybox", command]);
            assert_exit_code(&out, 127, command);
            assert_one_error_mentioning(&out, command, command);
        }
    });
}

#[test]
fn not_executable_exits_126() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let out = ctx.run_status(&["run", "--rm", "busybox", "/etc/passwd"]);
        assert_exit_code(&out, 126, "run /etc/passwd");
        assert_one_error_mentioning(&out, "/etc/passwd", "run /etc/passwd");
    });
}

#[test]
fn unknown_image_exits_125() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        // A localhost name: should skiff ever try to pull it, the attempt
        // fails at once (nothing listens) instead of reaching the internet.
        let image = "localhost/skiff-test/no-such-image:latest";
        let out = ctx.run_status(&["run", "--rm", image, "true"]);
        assert_exit_code(&out, 125, "run of an unknown image");
        assert_one_error_mentioning(&out, "no-such-image", "run of an unknown image");
    });
}

#[test]
fn bad_volume_spec_exits_125() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let marker = ctx.make_dir("untouched");
        let src = marker.to_str().unwrap();
        for spec in [
            String::new(),
            format!("{src}:relative/dst"),
            format!("{src}:/dst:bogus"),
            format!("{src}:/dst:ro:extra"),
        ] {
            let out = ctx.run_status(&["run", "--rm", "-v", &spec, "busybox", "touch", "/dst/x"]);
            assert_exit_code(&out, 125, &format!("-v {spec:?}"));
            assert_one_error_mentioning(&out, "", &format!("-v {spec:?}"));
        }
        assert_eq!(
            fs::read_dir(&marker).unwrap().count(),
            0,
            "a rejected run wrote to the volume"
        );
    });
}

#[test]
fn unknown_flag_exits_125() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let out = ctx.run_status(&["run", "--no-such-flag", "busybox", "true"]);
        assert_exit_code(&out, 125, "run --no-such-flag");
        assert!(
            stderr_of(&out).contains("--no-such-flag"),
            "the error should name the flag: {}",
            stderr_of(&out)
        );
    });
}

#[test]
fn unreadable_env_file_exits_125() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let missing = ctx.work.join("no-such-env-file");
        let missing = missing.to_str().unwrap();
        let out = ctx.run_status(&["run", "--rm", "--env-file", missing, "busybox", "true"]);
        assert_exit_code(&out, 125, "--env-file of a missing file");
        assert_one_error_mentioning(&out, "no-such-env-file", "--env-file of a missing file");
    });
}

// --- the process and its identity ------------------------------------------

#[test]
fn pid1_is_the_command() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let out = ctx.run_ok(&["run", "--rm", "busybox", "sh", "-c", "echo $$"]);
        assert_eq!(out, "1\n");
    });
}

#[test]
fn hostname_defaults_to_short_id() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let script = "hostname; cat /etc/hostname; cat /etc/hosts; test -f /etc/resolv.conf && echo resolv-ok";
        let out = ctx.run_ok(&["run", "--rm", "busybox", "sh", "-c", script]);
        let lines = lines(&out);
        let hostname = lines[0];
        assert!(
            hostname.len() == 12
                && hostname
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
            "hostname should be the short container ID (12 hex digits), got {hostname:?}"
        );
        assert_eq!(lines[1], hostname, "/etc/hostname");
        assert!(
            lines[2..]
                .iter()
                .any(|l| l.split_whitespace().skip(1).any(|name| name == hostname)),
            "/etc/hosts should name the container: {out}"
        );
        assert!(
            out.contains("resolv-ok"),
            "/etc/resolv.conf is missing: {out}"
        );

        let second = ctx.run_ok(&["run", "--rm", "busybox", "hostname"]);
        assert_ne!(second.trim(), hostname, "two containers got the same ID");
    });
}

#[test]
fn flags_user_workdir_env_hostname_entrypoint() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let env_file = ctx.write_file(
            "env.list",
            "# comment lines and blank lines are skipped\n\nB=from file\nC\nD=x=y\n",
        );
        let mut cmd = ctx.skiff(&[
            "run",
            "--rm",
            "--name",
            "t1",
            "-e",
            "A=1",
            "--env-file",
            env_file.to_str().unwrap(),
            "-w",
            "/tmp",
            "-u",
            "1000:1000",
            "--hostname",
            "box",
            "--entrypoint",
            "/bin/sh",
            "busybox",
            "-c",
            r#"id; pwd; hostname; echo $A; echo "$B|$C|$D|${NOT_ON_HOST-unset}""#,
        ]);
        // A bare name in the env file takes the value from skiff's own
        // environment; a bare name the host does not have is left out.
        cmd.env("C", "from host");
        let out = ctx.ok(cmd);
        let lines = lines(&out);
        assert_eq!(lines.len(), 5, "unexpected output: {out:?}");
        assert!(
            lines[0].starts_with("uid=1000(") && lines[0].contains(" gid=1000("),
            "id: {:?}",
            lines[0]
        );
        assert_eq!(lines[1], "/tmp");
        assert_eq!(lines[2], "box");
        assert_eq!(lines[3], "1");
        assert_eq!(lines[4], "from file|from host|x=y|unset");
    });
}

#[test]
fn environment_comes_from_image_and_flags_only() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let mut cmd = ctx.skiff(&[
            "run",
            "--rm",
            "-e",
            "FROM_HOST",
            "-e",
            "SET=here",
            "busybox",
            "env",
        ]);
        cmd.env("FROM_HOST", "passed").env("LEAK_CHECK", "leaked");
        let out = ctx.ok(cmd);
        let env: BTreeSet<&str> = out.lines().collect();
        assert!(
            env.contains("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
            "PATH from the image config: {out}"
        );
        assert!(
            env.contains("FROM_HOST=passed"),
            "-e NAME takes the host's value: {out}"
        );
        assert!(env.contains("SET=here"), "{out}");
        assert!(
            !out.contains("LEAK_CHECK"),
            "skiff's environment leaked into the container: {out}"
        );
    });
}

#[test]
fn workdir_is_created_if_missing() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "--workdir",
            "/new/work/dir",
            "busybox",
            "pwd",
        ]);
        assert_eq!(out, "/new/work/dir\n");
    });
}

#[test]
fn entrypoint_flag_drops_image_cmd() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        // docker: --entrypoint resets the image's Cmd (["sh"]), so echo gets
        // no arguments.
        let out = ctx.run_ok(&["run", "--rm", "--entrypoint", "/bin/echo", "busybox"]);
        assert_eq!(out, "\n");
    });
}

#[test]
fn user_name_resolved_from_image_passwd() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "-u",
            "tester",
            "busybox",
            "sh",
            "-c",
            "id -u; id -g; echo $HOME",
        ]);
        assert_eq!(out, "1000\n1000\n/home/tester\n");
        // 65534 is near the top of the 65536 ids a rootless user maps.
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "--user",
            "nobody",
            "busybox",
            "sh",
            "-c",
            "id -u; id -g",
        ]);
        assert_eq!(out, "65534\n65534\n");
    });
}

#[test]
fn owner_of_image_file_preserved() {
    // Rootless, this is the subuid case: uid 1000 in the image is stored as
    // a subordinate uid on disk and must read back as 1000 in the container.
    for_each_user(|ctx| {
        ctx.load_busybox();
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "busybox",
            "stat",
            "-c",
            "%u:%g %n",
            "/home/tester",
            "/home/tester/owned",
            "/bin/busybox",
        ]);
        assert_eq!(
            out,
            "1000:1000 /home/tester\n1000:1000 /home/tester/owned\n0:0 /bin/busybox\n"
        );
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "-u",
            "tester",
            "busybox",
            "sh",
            "-c",
            "echo mine > /home/tester/new && stat -c %u:%g /home/tester/new",
        ]);
        assert_eq!(out, "1000:1000\n");
    });
}

// --- filesystem -----------------------------------------------------------

#[test]
fn writes_do_not_reach_image() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "echo x > /marker && echo changed > /etc/os-release && rm /bin/true && cat /marker",
        ]);
        assert_eq!(out, "x\n");
        let out = ctx.run_ok(&[
            "run", "--rm", "busybox", "sh", "-c",
            "test ! -e /marker && grep -q skiff-busybox /etc/os-release && test -e /bin/true && echo pristine",
        ]);
        assert_eq!(out, "pristine\n");
    });
}

#[test]
fn bind_mount_read_only() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let dir = ctx.make_dir("ro-src");
        ctx.write_file("ro-src/hello.txt", "from host\n");
        let volume = format!("{}:/src:ro", dir.display());
        let out = ctx.run_ok(&[
            "run", "--rm", "-v", &volume, "busybox", "sh", "-c",
            "cat /src/hello.txt; if touch /src/new 2>/dev/null; then echo WRITABLE; fi; grep ' /src ' /proc/mounts",
        ]);
        let lines = lines(&out);
        assert_eq!(lines[0], "from host");
        assert!(
            !out.contains("WRITABLE"),
            "a :ro volume was writable: {out}"
        );
        let mounts = parse_mounts(&lines[1..].join("\n"));
        let mount = mount_at(&mounts, "/src").expect("/src in /proc/mounts");
        assert!(
            mount.has_option("ro"),
            "/src should be mounted ro: {mount:?}"
        );
        assert!(!dir.join("new").exists());
    });
}

#[test]
fn bind_mount_read_write() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let dir = ctx.make_dir("rw-src");
        let volume = format!("{}:/data", dir.display());
        ctx.run_ok(&[
            "run",
            "--rm",
            "--volume",
            &volume,
            "busybox",
            "sh",
            "-c",
            "echo from container > /data/out",
        ]);
        let written = dir.join("out");
        assert_eq!(fs::read_to_string(&written).unwrap(), "from container\n");
        // Root in a rootless container is the user on the host.
        assert_eq!(
            fs::metadata(&written).unwrap().uid(),
            ctx.uid,
            "owner of a file root wrote"
        );
    });
}

#[test]
fn tmpfs_mount() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let script = "echo x > /scratch/f && cat /scratch/f; cat /proc/mounts";
        let out = ctx.run_ok(&[
            "run", "--rm", "--tmpfs", "/scratch", "busybox", "sh", "-c", script,
        ]);
        assert!(out.starts_with("x\n"), "{out}");
        let mounts = parse_mounts(&out);
        let mount = mount_at(&mounts, "/scratch").expect("/scratch in /proc/mounts");
        assert_eq!(mount.fstype, "tmpfs");

        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "--tmpfs",
            "/sized:size=1m",
            "busybox",
            "cat",
            "/proc/mounts",
        ]);
        let mounts = parse_mounts(&out);
        let mount = mount_at(&mounts, "/sized").expect("/sized in /proc/mounts");
        assert_eq!(mount.fstype, "tmpfs");
        assert!(
            mount.has_option("size=1024k"),
            "size option not applied: {mount:?}"
        );
    });
}

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

#[test]
fn binary_clean_stdout() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let mut data = vec![0u8; 256 * 1024];
        std::io::Read::read_exact(&mut fs::File::open("/dev/urandom").unwrap(), &mut data).unwrap();
        let out = ctx.run_stdin(&["run", "-i", "--rm", "busybox", "cat"], &data);
        assert!(out.status.success(), "{}", stderr_of(&out));
        assert_eq!(out.stdout.len(), data.len(), "byte count through `cat`");
        assert!(
            out.stdout == data,
            "bytes changed on their way through the container"
        );
    });
}

#[test]
fn stdout_and_stderr_stay_separate() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let out = ctx.run_status(&[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "echo to-out; echo to-err >&2; exit 7",
        ]);
        assert_exit_code(&out, 7, "sh -c");
        assert_eq!(stdout_of(&out), "to-out\n");
        assert!(stderr_of(&out).contains("to-err\n"), "{}", stderr_of(&out));
        assert!(!stderr_of(&out).contains("to-out"));
    });
}

// --- network -------------------------------------------------------------

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

// --- signals -------------------------------------------------------------

#[test]
fn signals_are_forwarded() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let dir = ctx.make_dir("signals");
        let volume = format!("{}:/w", dir.display());
        for (signal, name, code) in [
            (Signal::SIGTERM, "TERM", 42),
            (Signal::SIGINT, "INT", 43),
            (Signal::SIGHUP, "HUP", 44),
            (Signal::SIGUSR1, "USR1", 45),
            (Signal::SIGUSR2, "USR2", 46),
            (Signal::SIGQUIT, "QUIT", 47),
        ] {
            // PID 1 only receives signals it handles, so the container
            // installs a handler, then says it is ready.
            let script = format!(
                "trap 'exit {code}' {name}; touch /w/ready-{name}; while :; do sleep 0.1; done"
            );
            let mut running = ctx
                .start(ctx.skiff(&["run", "--rm", "-v", &volume, "busybox", "sh", "-c", &script]));
            let ready = dir.join(format!("ready-{name}"));
            running.wait_until(
                &format!("{} to exist", ready.display()),
                Duration::from_secs(30),
                || ready.exists(),
            );
            running.signal(signal);
            let out = running.wait(Duration::from_secs(30));
            assert_exit_code(
                &out,
                code,
                &format!("SIG{name} forwarded to a trapping PID 1"),
            );
        }
    });
}

#[test]
fn killed_container_exits_128_plus_signal() {
    // SIGKILL cannot be forwarded (skiff cannot catch it), and PID 1 ignores
    // every other signal it has no handler for, so the one honest way to
    // kill a container's PID 1 by a signal is from outside: the test (root,
    // in the host's PID namespace) sends SIGKILL to it directly. skiff must
    // then report 128+9, as docker does for `docker kill`.
    for_each_user(|ctx| {
        ctx.load_busybox();
        let dir = ctx.make_dir("killed");
        let volume = format!("{}:/w", dir.display());
        // A sleep duration no other process on the machine uses: the
        // container's PID 1 is found on the host by its exact argv.
        let token = format!("{}", 7_000_000 + std::process::id() % 1_000_000);
        let script = format!("touch /w/ready; exec sleep {token}");
        let mut running =
            ctx.start(ctx.skiff(&["run", "--rm", "-v", &volume, "busybox", "sh", "-c", &script]));
        let mut pid1 = Vec::new();
        running.wait_until(
            "the container's sleep to start",
            Duration::from_secs(30),
            || {
                pid1 = pids_with_argv(&["sleep", &token]);
                dir.join("ready").exists() && pid1.len() == 1
            },
        );
        nix::sys::signal::kill(pid1[0], Signal::SIGKILL).unwrap();
        let out = running.wait(Duration::from_secs(30));
        assert_exit_code(&out, 128 + 9, "PID 1 killed by SIGKILL");
    });
}

// --- terminals -----------------------------------------------------------

#[test]
fn tty_mode() {
    for_each_user(|ctx| {
        ctx.load_busybox();

        // A real terminal inside, of the outer terminal's size.
        let session = ctx.start_on_tty(
            &[
                "run",
                "--rm",
                "-it",
                "busybox",
                "sh",
                "-c",
                "tty; stty size",
            ],
            33,
            101,
        );
        let (status, output) = session.wait(Duration::from_secs(30));
        assert_eq!(status.code(), Some(0), "output: {output:?}");
        assert!(output.contains("/dev/pts/0\n"), "tty: {output:?}");
        assert!(output.contains("33 101\n"), "stty size: {output:?}");

        // Typed input reaches the container.
        let mut session = ctx.start_on_tty(
            &[
                "run",
                "--rm",
                "-it",
                "busybox",
                "sh",
                "-c",
                "echo ready; read line; echo \"got:$line\"",
            ],
            24,
            80,
        );
        session.wait_for_output("ready\n", Duration::from_secs(30));
        session.write(b"typed text\r");
        let (status, output) = session.wait(Duration::from_secs(30));
        assert_eq!(status.code(), Some(0), "output: {output:?}");
        assert!(output.contains("got:typed text\n"), "{output:?}");

        // Ctrl-C interrupts the container's foreground process group.
        let mut session = ctx.start_on_tty(
            &[
                "run",
                "--rm",
                "-it",
                "busybox",
                "sh",
                "-c",
                "trap 'echo got-int; exit 5' INT; echo ready; while :; do sleep 0.1; done",
            ],
            24,
            80,
        );
        session.wait_for_output("ready\n", Duration::from_secs(30));
        session.write(&[0x03]);
        let (status, output) = session.wait(Duration::from_secs(30));
        assert!(output.contains("got-int"), "{output:?}");
        assert_eq!(status.code(), Some(5), "output: {output:?}");
    });
}

#[test]
fn tty_resize_is_forwarded() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let mut session = ctx.start_on_tty(
            &[
                "run",
                "--rm",
                "-it",
                "busybox",
                "sh",
                "-c",
                "trap 'stty size; exit 0' WINCH; echo ready; while :; do sleep 0.1; done",
            ],
            24,
            80,
        );
        session.wait_for_output("ready\n", Duration::from_secs(30));
        session.resize(40, 120);
        let (status, output) = session.wait(Duration::from_secs(30));
        assert_eq!(status.code(), Some(0), "output: {output:?}");
        assert!(
            output.contains("40 120\n"),
            "the new size should reach the container: {output:?}"
        );
    });
}

// --- rootfs drivers ------------------------------------------------------

/// Runs with `SKIFF_OVERLAY=driver` and checks the root filesystem works:
/// writable, image owners intact, writes gone after the container.
/// `fstype`: what / must be mounted as, when the driver determines it.
fn check_rootfs_driver(ctx: &Ctx, driver: &str, fstype: Option<&str>) {
    ctx.load_busybox();
    let mut cmd = ctx.skiff(&[
        "run", "--rm", "busybox", "sh", "-c",
        "echo written > /etc/new && cat /etc/new && stat -c %u:%g /home/tester/owned && echo --- && cat /proc/mounts",
    ]);
    cmd.env("SKIFF_OVERLAY", driver);
    let out = ctx.ok(cmd);
    let (head, mounts) = out.split_once("---\n").unwrap();
    assert_eq!(head, "written\n1000:1000\n", "SKIFF_OVERLAY={driver}");
    let mounts = parse_mounts(mounts);
    let root = mount_at(&mounts, "/").expect("/ in /proc/mounts");
    match fstype {
        Some(fstype) => assert_eq!(root.fstype, fstype, "SKIFF_OVERLAY={driver}: / is {root:?}"),
        None => assert!(
            root.fstype != "overlay" && !root.fstype.starts_with("fuse"),
            "SKIFF_OVERLAY={driver}: / should be a plain directory, is {root:?}"
        ),
    }
    let mut cmd = ctx.skiff(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "test ! -e /etc/new && echo clean",
    ]);
    cmd.env("SKIFF_OVERLAY", driver);
    assert_eq!(
        ctx.ok(cmd),
        "clean\n",
        "SKIFF_OVERLAY={driver}: a write reached the image"
    );
}

#[test]
fn kernel_overlay_driver_works() {
    for_each_user(|ctx| check_rootfs_driver(ctx, "kernel", Some("overlay")));
}

#[test]
fn fuse_overlay_driver_works() {
    // Rootless needs /dev/fuse usable by the user: scripts/test makes it 0666.
    for_each_user(|ctx| check_rootfs_driver(ctx, "fuse", Some("fuse.fuse-overlayfs")));
}

#[test]
fn copy_overlay_fallback_works() {
    for_each_user(|ctx| check_rootfs_driver(ctx, "copy", None));
}

#[test]
fn chown_in_container_does_not_change_image() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        // The store's image layer must not be changed by a container that
        // chowns and deletes image files (the upper layer takes the change).
        ctx.run_ok(&[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "chown 0:0 /home/tester/owned && rm /bin/sh",
        ]);
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "busybox",
            "stat",
            "-c",
            "%u:%g",
            "/home/tester/owned",
        ]);
        assert_eq!(out, "1000:1000\n");
    });
}
