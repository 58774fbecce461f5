//! `skiff run` in the foreground: output, input and exit codes, refusals,
//! and the process's identity (PID 1, hostname, user, workdir,
//! environment, entrypoint). One user story per test, each run as root and
//! rootless. The container's filesystem is in `tests/run_filesystem.rs`,
//! its isolation in `tests/run_isolation.rs`, signals and terminals in
//! `tests/run_signals_tty.rs`.

mod common;

use std::collections::BTreeSet;
use std::fs;

use common::*;

// --- basics: output, input, exit codes ----------------------------------------

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
            // The one error says it is the volume, and quotes what was given
            // (`""` for the empty one).
            assert_one_error_mentioning(&out, "volume", &format!("-v {spec:?}"));
            assert_one_error_mentioning(&out, &format!("\"{spec}\""), &format!("-v {spec:?}"));
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

// --- the process and its identity ---------------------------------------------

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
        let lines: Vec<&str> = out.lines().collect();
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
        let lines: Vec<&str> = out.lines().collect();
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
