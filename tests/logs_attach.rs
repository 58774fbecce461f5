//! What a container prints and reads: `logs` (streams kept apart, `--tail`,
//! `-t`, `-f`, `--since`) and `attach`. Each test runs as root and rootless.
//! Every wait has a deadline; nothing sleeps and hopes.

mod common;

use std::time::Duration;

use common::containers::*;
use common::*;

// --- logs ----------------------------------------------------------------------

#[test]
fn s12_logs_keep_stdout_and_stderr_apart() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        ctx.run_detached(&[
            "--name",
            "talk",
            "busybox",
            "sh",
            "-c",
            "echo out; echo err >&2",
        ]);
        ctx.wait_for_status("talk", "exited");
        let (stdout, stderr) = ctx.logs_of("talk");
        assert_eq!(stdout, "out\n", "the container's stdout goes to stdout");
        assert_eq!(stderr, "err\n", "the container's stderr goes to stderr");
    });
}

#[test]
fn s13_logs_tail_shows_the_last_lines_and_t_adds_timestamps() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        ctx.run_detached(&[
            "--name",
            "four",
            "busybox",
            "sh",
            "-c",
            "echo l1; echo l2; echo l3; echo l4",
        ]);
        ctx.wait_for_status("four", "exited");
        assert_eq!(ctx.run_ok(&["logs", "--tail", "2", "four"]), "l3\nl4\n");
        assert_eq!(ctx.run_ok(&["logs", "-n", "1", "four"]), "l4\n");

        let out = ctx.run_ok(&["logs", "-t", "four"]);
        let lines = nonempty_lines(&out);
        assert_eq!(lines.len(), 4, "{out}");
        for (line, expected) in lines.iter().zip(["l1", "l2", "l3", "l4"]) {
            let (stamp, text) = line
                .split_once(' ')
                .unwrap_or_else(|| panic!("`logs -t` line without a timestamp: {line:?}"));
            assert!(is_rfc3339(stamp), "not an RFC 3339 timestamp: {stamp:?}");
            assert_eq!(text, expected, "{out}");
        }
    });
}

#[test]
fn s14_logs_follow_ends_by_itself_when_the_container_exits() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        // The container moves on only when the test lets it (by creating a
        // file), so every line after the first is printed while `logs -f`
        // is known to be following.
        let script = "echo first; until [ -e /tmp/go ]; do usleep 20000; done; \
                      echo second; until [ -e /tmp/end ]; do usleep 20000; done; echo third";
        ctx.run_detached(&["--name", "slow", "busybox", "sh", "-c", script]);
        ctx.wait_for_log_lines("slow", "first", 1);
        let mut follow = ctx.start(ctx.skiff(&["logs", "-f", "slow"]));
        let printed = follow.stdout_buffer();
        // `wait_until` fails if the client exits before the condition.
        follow.wait_until("`logs -f` to print the first line", STATE_TIMEOUT, || {
            printed.text() == "first\n"
        });
        ctx.run_ok(&["exec", "slow", "touch", "/tmp/go"]);
        follow.wait_until(
            "`logs -f` to stream a line printed after it started",
            STATE_TIMEOUT,
            || printed.text() == "first\nsecond\n",
        );
        assert_eq!(ctx.status_of("slow"), "running", "the container still runs");
        // The container prints its last line and exits: the client ends.
        ctx.run_ok(&["exec", "slow", "touch", "/tmp/end"]);
        let out = follow.wait(Duration::from_secs(30));
        assert_exit_code(&out, 0, "logs -f");
        assert_eq!(stdout_of(&out), "first\nsecond\nthird\n");
        assert_eq!(ctx.status_of("slow"), "exited");
    });
}

#[test]
fn s15_logs_since_a_future_time_prints_nothing() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        ctx.run_detached(&[
            "--name",
            "past",
            "busybox",
            "sh",
            "-c",
            "echo out; echo err >&2",
        ]);
        ctx.wait_for_status("past", "exited");
        let out = ctx.run_status(&["logs", "--since", "2099-01-01T00:00:00Z", "past"]);
        assert_exit_code(&out, 0, "logs --since the future");
        assert_eq!(stdout_of(&out), "");
        assert_eq!(stderr_of(&out), "");
    });
}

// --- attach --------------------------------------------------------------------

#[test]
fn s42_attach_streams_stdin_to_the_container_and_its_output_back() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        ctx.run_detached(&["-i", "--name", "echoer", "busybox", "cat"]);
        assert_eq!(ctx.status_of("echoer"), "running", "cat waits for input");
        // cat ends when its stdin closes, and attach with it.
        let out = ctx.run_stdin(&["attach", "echoer"], b"hello\n");
        assert_exit_code(&out, 0, "echo hello | attach");
        assert_eq!(stdout_of(&out), "hello\n");
        ctx.wait_for_status("echoer", "exited");
        assert_eq!(ctx.inspect_format("echoer", "{{.State.ExitCode}}"), "0");
        assert_eq!(ctx.logs_of("echoer").0, "hello\n", "the log has it too");
    });
}

// --- the harness's own helpers -------------------------------------------------

#[test]
fn helper_rfc3339_timestamps_compare_by_instant() {
    let at = |s| rfc3339_nanos(s).unwrap();
    assert_eq!(at("1970-01-01T00:00:00Z"), 0);
    assert_eq!(
        at("1970-01-02T00:00:01.5Z"),
        (86_401 * 1_000_000_000) + 500_000_000
    );
    assert_eq!(at("2024-03-01T01:00:00+01:00"), at("2024-03-01T00:00:00Z"));
    assert_eq!(at("2000-02-29T12:00:00Z"), 951_825_600 * 1_000_000_000);
    assert!(at("2026-11-23T02:44:49.1Z") > at("2026-11-23T02:44:49.09Z"));
    for bad in [
        "",
        "2024-05-01",
        "2024-05-01 12:00:00Z",
        "2024-13-01T00:00:00Z",
        "2024-05-01T00:00:00",
        "2024-05-01T00:00:00.Z",
    ] {
        assert!(rfc3339_nanos(bad).is_none(), "{bad:?}");
    }
}
