//! skiff in shell pipelines: every client that streams a container's
//! output ends promptly when its output's reader goes away (`… | head`),
//! as docker's and podman's clients do, and signals end a client that
//! does not forward them. Each test runs as root and rootless; every wait
//! has a deadline.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use common::containers::*;
use common::*;

/// How soon a client must end once its reader went away or a signal
/// ended it.
const PROMPTLY: Duration = Duration::from_secs(1);

/// A container printing a line every 50 ms until stopped.
const TICKING: &str = "while true; do echo tick; usleep 50000; done";

/// A skiff client whose stdout the test reads like `head` would.
struct Piped {
    child: Child,
    what: String,
    stdout: Option<BufReader<std::process::ChildStdout>>,
    stderr: mpsc::Receiver<String>,
}

impl Piped {
    fn start(ctx: &Ctx, args: &[&str]) -> Piped {
        let mut cmd = ctx.skiff(args);
        let what = describe(&cmd);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {what}: {e}"));
        let mut err = child.stderr.take().unwrap();
        let (send, stderr) = mpsc::channel();
        thread::spawn(move || {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            let _ = send.send(text);
        });
        Piped {
            stdout: child.stdout.take().map(BufReader::new),
            child,
            what,
            stderr,
        }
    }

    /// Reads `count` lines (deadline: `STATE_TIMEOUT`), then closes the
    /// pipe: `… | head -COUNT`.
    fn head(&mut self, count: usize) -> Vec<String> {
        let (lines, reader) = self.read_lines(count);
        // Dropping the reader closes the pipe's only read end.
        drop(reader);
        lines
    }

    /// Reads `count` lines and keeps reading on.
    fn skip_lines(&mut self, count: usize) {
        let (_, reader) = self.read_lines(count);
        self.stdout = Some(reader);
    }

    fn read_lines(&mut self, count: usize) -> (Vec<String>, BufReader<std::process::ChildStdout>) {
        let mut reader = self.stdout.take().expect("stdout already closed");
        let (send, lines) = mpsc::channel();
        thread::spawn(move || {
            let mut got = Vec::new();
            let mut line = String::new();
            while got.len() < count && reader.read_line(&mut line).unwrap_or(0) > 0 {
                got.push(std::mem::take(&mut line));
            }
            let _ = send.send((got, reader));
        });
        let (got, reader) = lines.recv_timeout(STATE_TIMEOUT).unwrap_or_else(|_| {
            panic!(
                "{} printed no {count} lines within {STATE_TIMEOUT:?}",
                self.what
            )
        });
        assert_eq!(got.len(), count, "{} ended early: {got:?}", self.what);
        (got, reader)
    }

    /// Waits until the client reads `signal` from its signalfd (it blocks
    /// it from then on): before, the signal would kill it outright.
    fn wait_until_catching(&self, signal: Signal) {
        wait_for("the client to catch signals", STATE_TIMEOUT, || {
            self.status_mask("SigBlk:") & signal_bit(signal) != 0
        });
    }

    fn status_mask(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .filter_map(|l| l.strip_prefix(field))
            .filter_map(|mask| u64::from_str_radix(mask.trim(), 16).ok())
            .fold(0, |a, b| a | b)
    }

    fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.child.id() as i32), signal).expect("kill");
    }

    /// Whether `signal` waits, blocked, for the client to read it.
    fn has_pending(&self, signal: Signal) -> bool {
        (self.status_mask("ShdPnd:") | self.status_mask("SigPnd:")) & signal_bit(signal) != 0
    }

    /// Waits up to `PROMPTLY` for the exit; returns it and the stderr.
    fn ends_promptly(&mut self, why: &str) -> (ExitStatus, String) {
        let since = Instant::now();
        let mut status = None;
        wait_for(&format!("{} to end ({why})", self.what), PROMPTLY, || {
            status = self.child.try_wait().expect("waitpid");
            status.is_some()
        });
        let stderr = self
            .stderr
            .recv_timeout(STATE_TIMEOUT)
            .expect("stderr open after the exit: something outlived the client");
        eprintln!("{} ended {:?} after {why}", self.what, since.elapsed());
        (status.unwrap(), stderr)
    }
}

impl Drop for Piped {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = killpg(Pid::from_raw(self.child.id() as i32), Signal::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

fn signal_bit(signal: Signal) -> u64 {
    1 << (signal as u32 - 1)
}

/// Ended the way a process in a pipeline ends when its reader goes.
fn assert_died_of(status: ExitStatus, signal: Signal, stderr: &str, what: &str) {
    assert_eq!(
        status.signal(),
        Some(signal as i32),
        "{what}: expected death by {signal}, got {status}; stderr: {stderr}"
    );
    // `stats` notes once, rootless here, that it sums /proc.
    let said: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with("note: "))
        .collect();
    assert!(
        said.is_empty(),
        "{what}: a client that ends so says nothing: {stderr}"
    );
}

fn start_ticking(ctx: &Ctx, name: &str) {
    ctx.run_detached(&["--name", name, "busybox", "sh", "-c", TICKING]);
    ctx.wait_for_log_lines(name, "tick", 1);
}

#[test]
fn p1_logs_follow_ends_when_its_reader_goes_and_the_container_runs_on() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        start_ticking(ctx, "web");
        let mut logs = Piped::start(ctx, &["logs", "-f", "web"]);
        assert_eq!(logs.head(2), ["tick\n", "tick\n"]);
        let (status, stderr) = logs.ends_promptly("its reader closed the pipe");
        assert_died_of(status, Signal::SIGPIPE, &stderr, "logs -f | head -2");
        assert_eq!(ctx.status_of("web"), "running");
    });
}

#[test]
fn p2_attach_ends_when_its_reader_goes_and_the_container_runs_on() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        start_ticking(ctx, "web");
        let mut attach = Piped::start(ctx, &["attach", "--no-stdin", "web"]);
        assert_eq!(attach.head(2), ["tick\n", "tick\n"]);
        let (status, stderr) = attach.ends_promptly("its reader closed the pipe");
        assert_died_of(status, Signal::SIGPIPE, &stderr, "attach | head -2");
        assert_eq!(ctx.status_of("web"), "running");

        // `start -a` is the same client.
        ctx.run_ok(&["stop", "-t", "0", "web"]);
        let mut start = Piped::start(ctx, &["start", "-a", "web"]);
        start.head(2);
        let (status, stderr) = start.ends_promptly("its reader closed the pipe");
        assert_died_of(status, Signal::SIGPIPE, &stderr, "start -a | head -2");
        assert_eq!(ctx.status_of("web"), "running");
    });
}

#[test]
fn p3_a_foreground_run_with_a_terminal_ends_with_its_container_when_the_reader_goes() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        // The relay copies the container's terminal to a pipe here.
        let mut run = Piped::start(
            ctx,
            &["run", "--rm", "-t", "--name", "yes", "busybox", "yes"],
        );
        assert_eq!(run.head(1), ["y\r\n"]);
        let (status, stderr) = run.ends_promptly("its reader closed the pipe");
        assert_died_of(status, Signal::SIGPIPE, &stderr, "run -t yes | head -1");
        // skiff was the container's parent: the container ended with it
        // and `--rm` removed it.
        assert_eq!(ctx.ps_names(&["-a"]), Vec::<String>::new());

        // Without `--rm` the record keeps how it ended.
        let mut run = Piped::start(ctx, &["run", "-t", "--name", "kept", "busybox", "yes"]);
        run.head(1);
        let (status, stderr) = run.ends_promptly("its reader closed the pipe");
        assert_died_of(status, Signal::SIGPIPE, &stderr, "run -t yes | head -1");
        assert_eq!(ctx.status_of("kept"), "exited");
        assert_eq!(ctx.inspect_format("kept", "{{.State.ExitCode}}"), "137");
    });
}

#[test]
fn p4_without_a_terminal_the_container_meets_the_closed_pipe_itself() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        // As any process in a pipeline: `yes` dies of SIGPIPE, and skiff
        // exits with its code.
        let mut run = Piped::start(ctx, &["run", "--rm", "--init", "busybox", "yes"]);
        assert_eq!(run.head(1), ["y\n"]);
        let (status, stderr) = run.ends_promptly("the container's reader closed the pipe");
        assert_eq!(status.code(), Some(141), "{status} {stderr}");
        // As PID 1 (docker's too) the kernel does not kill it with a
        // signal it has no handler for: it gets EPIPE and exits 1.
        let mut run = Piped::start(ctx, &["run", "--rm", "busybox", "yes"]);
        run.head(1);
        let (status, stderr) = run.ends_promptly("the container's reader closed the pipe");
        assert_eq!(status.code(), Some(1), "{status} {stderr}");
        assert_eq!(ctx.ps_names(&["-a"]), Vec::<String>::new());
    });
}

#[test]
fn p5_exec_and_stats_end_when_their_reader_goes() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        start_ticking(ctx, "web");
        let mut exec = Piped::start(ctx, &["exec", "-t", "web", "yes"]);
        exec.head(2);
        let (status, stderr) = exec.ends_promptly("its reader closed the pipe");
        assert_died_of(status, Signal::SIGPIPE, &stderr, "exec -t yes | head -2");

        let mut stats = Piped::start(ctx, &["stats", "web"]);
        stats.head(1);
        let (status, stderr) = stats.ends_promptly("its reader closed the pipe");
        assert_died_of(status, Signal::SIGPIPE, &stderr, "stats | head -1");
        assert_eq!(ctx.status_of("web"), "running");
        let ps = ctx.run_ok(&["top", "web"]);
        assert!(!ps.contains("yes"), "the exec'd process was left: {ps}");
    });
}

#[test]
fn p6_sigterm_ends_attach_without_sig_proxy_and_the_container_runs_on() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        start_ticking(ctx, "web");
        let mut attach = Piped::start(ctx, &["attach", "--no-stdin", "--sig-proxy=false", "web"]);
        attach.skip_lines(1);
        attach.signal(Signal::SIGTERM);
        let (status, stderr) = attach.ends_promptly("SIGTERM");
        assert_died_of(status, Signal::SIGTERM, &stderr, "timeout attach");
        assert_eq!(ctx.status_of("web"), "running");
    });
}

#[test]
fn p7_with_sig_proxy_sigterm_reaches_the_container_and_two_interrupts_end_the_client() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        ctx.run_detached(&[
            "--name",
            "trap",
            "busybox",
            "sh",
            "-c",
            &trapping("TERM", 42),
        ]);
        ctx.wait_for_log_lines("trap", "ready", 1);
        let mut attach = Piped::start(ctx, &["attach", "--no-stdin", "trap"]);
        attach.wait_until_catching(Signal::SIGTERM);
        attach.signal(Signal::SIGTERM);
        let (status, _) = attach.ends_promptly("the container it forwarded SIGTERM to exited");
        assert_eq!(status.code(), Some(42), "the container's exit code");

        // PID 1 ignores SIGINT without a handler: the first is forwarded
        // and lost, the second (within a second) ends the client only.
        start_ticking(ctx, "web");
        let mut attach = Piped::start(ctx, &["attach", "--no-stdin", "web"]);
        attach.skip_lines(1);
        attach.signal(Signal::SIGINT);
        // Two presses, not one: the second is sent once the first was read
        // (pending signals of one kind merge).
        wait_for("the client to read the first SIGINT", PROMPTLY, || {
            !attach.has_pending(Signal::SIGINT)
        });
        attach.signal(Signal::SIGINT);
        let (status, stderr) = attach.ends_promptly("a second SIGINT");
        assert_died_of(status, Signal::SIGINT, &stderr, "attach after two ^C");
        assert_eq!(ctx.status_of("web"), "running");
    });
}

/// CPU time (utime + stime, in clock ticks) `pid` has used.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    let after_name = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    // utime and stime are fields 14 and 15; `after_name` starts at 3.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[test]
fn p8_clients_watching_a_quiet_container_do_not_spin() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        ctx.run_detached(&[
            "--name",
            "quiet",
            "busybox",
            "sh",
            "-c",
            &trapping("TERM", 0),
        ]);
        ctx.wait_for_log_lines("quiet", "ready", 1);
        let mut logs = Piped::start(ctx, &["logs", "-f", "quiet"]);
        logs.skip_lines(1);
        let attach = Piped::start(ctx, &["attach", "--no-stdin", "quiet"]);
        attach.wait_until_catching(Signal::SIGTERM);
        let clients = [logs.child.id(), attach.child.id()];
        let before = clients.map(cpu_ticks);
        let window = Instant::now();
        wait_for("a second to pass", Duration::from_secs(2), || {
            window.elapsed() >= Duration::from_secs(1)
        });
        for (pid, ticks) in clients.iter().zip(before) {
            let used = cpu_ticks(*pid) - ticks;
            assert!(
                used <= 10,
                "client {pid} used {used} ticks of CPU in a quiet second"
            );
        }
    });
}

#[test]
fn p9_run_without_sig_proxy_ends_on_sigterm_and_only_a_monitor_keeps_the_container() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        // skiff is the container's parent: the container ends with it,
        // without having seen the signal.
        let script = trapping("TERM", 42);
        let args = [
            "run",
            "--sig-proxy=false",
            "--name",
            "fg",
            "busybox",
            "sh",
            "-c",
        ];
        let mut run = Piped::start(ctx, &[&args[..], &[script.as_str()]].concat());
        run.skip_lines(1);
        run.signal(Signal::SIGTERM);
        let (status, stderr) = run.ends_promptly("SIGTERM");
        assert_died_of(status, Signal::SIGTERM, &stderr, "run --sig-proxy=false");
        assert_eq!(ctx.inspect_format("fg", "{{.State.ExitCode}}"), "137");

        // Under a monitor (a restart policy) it runs on, as with docker.
        let args = [
            "run",
            "--sig-proxy=false",
            "--restart",
            "always",
            "--name",
            "mon",
        ];
        let mut run = Piped::start(
            ctx,
            &[&args[..], &["busybox", "sh", "-c", TICKING]].concat(),
        );
        run.skip_lines(1);
        run.signal(Signal::SIGTERM);
        let (status, stderr) = run.ends_promptly("SIGTERM");
        assert_died_of(
            status,
            Signal::SIGTERM,
            &stderr,
            "run --restart --sig-proxy=false",
        );
        assert_eq!(ctx.status_of("mon"), "running");
    });
}

#[test]
fn p10_a_verb_printing_more_than_its_reader_takes_dies_of_sigpipe_silently() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        // More JSON than a pipe holds (64 KiB), so the write meets the
        // closed pipe: `skiff image inspect … | head -1`.
        let mut args = vec!["image", "inspect"];
        args.extend(std::iter::repeat_n("busybox", 200));
        let mut piped = Piped::start(ctx, &args);
        assert_eq!(piped.head(1), vec!["[\n".to_string()]);
        let (status, stderr) = piped.ends_promptly("its reader went away");
        assert_died_of(status, Signal::SIGPIPE, &stderr, "image inspect | head -1");
    });
}
