//! Signals and terminals in `skiff run`: signals sent to skiff reach the
//! container's PID 1, a killed PID 1 gives 128+signal, and `-it` gives the
//! container a real terminal (size, typed input, Ctrl-C, resizes). Each
//! test runs as root and rootless; every wait has a deadline.

mod common;

use std::time::Duration;

use common::proc_files::*;
use common::*;
use nix::sys::signal::Signal;

// --- signals ------------------------------------------------------------------

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

// --- terminals ----------------------------------------------------------------

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
