//! A container's life: `create`/`start`, `stop`/`kill`, `rm` and
//! `container prune`, `wait`, `restart` and restart policies, `--init`. One
//! numbered user story per test, each run as root and rootless.
//!
//! Containers that must react to a signal first install a trap, then print
//! `ready`; the test waits for that line in `logs` before it signals. Every
//! wait has a deadline; nothing sleeps and hopes.

mod common;

use std::time::Duration;

use common::containers::*;
use common::proc_files::*;
use common::*;

// --- create and start ----------------------------------------------------------

#[test]
fn s10_a_created_container_is_listed_as_created_and_starts_by_name() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        let out = ctx.run_ok(&["create", "--name", "later", "busybox", "sleep", "30"]);
        let id = out.trim();
        assert!(is_hex(id, 64), "create prints the full ID: {out:?}");
        assert!(
            ctx.ps_names(&[]).is_empty(),
            "a created container is not running"
        );
        let ps = ctx.run_ok(&["ps", "-a"]);
        let rows = ps_table(&ps);
        assert_eq!(rows.len(), 1, "{ps}");
        assert_eq!(rows[0]["STATUS"], "Created", "{ps}");
        assert_eq!(ctx.status_of("later"), "created");

        ctx.run_ok(&["start", "later"]);
        assert_eq!(ctx.status_of("later"), "running", "after start");
        assert_eq!(ctx.ps_names(&[]), ["later"]);
    });
}

#[test]
fn s11_start_attach_prints_the_output_and_exits_with_the_containers_code() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        ctx.run_ok(&[
            "create",
            "--name",
            "job",
            "busybox",
            "sh",
            "-c",
            "echo hi; exit 3",
        ]);
        let out = ctx.run_status(&["start", "-a", "job"]);
        assert_exit_code(&out, 3, "start -a of `echo hi; exit 3`");
        assert_eq!(stdout_of(&out), "hi\n");
        assert_eq!(ctx.inspect_format("job", "{{.State.ExitCode}}"), "3");
    });
}

// --- stop and kill -------------------------------------------------------------

#[test]
fn s16_stop_sends_term_and_a_trapping_container_exits_cleanly() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        ctx.run_detached(&[
            "--name",
            "polite",
            "busybox",
            "sh",
            "-c",
            &trapping("TERM", 3),
        ]);
        ctx.wait_for_log_lines("polite", "ready", 1);
        let out = ctx.run_status(&["stop", "-t", "10", "polite"]);
        assert_exit_code(&out, 0, "stop");
        assert!(
            !stderr_of(&out).contains("SIGKILL"),
            "TERM was enough: {}",
            stderr_of(&out)
        );
        assert_eq!(ctx.status_of("polite"), "exited");
        assert_eq!(ctx.inspect_format("polite", "{{.State.ExitCode}}"), "3");
        assert_eq!(ctx.logs_of("polite").0, "ready\nbye\n");
    });
}

#[test]
fn s17_stop_kills_a_container_that_ignores_term() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        // PID 1 gets no default signal actions: a plain sleep ignores TERM.
        ctx.run_detached(&["--name", "stubborn", "busybox", "sleep", "30"]);
        let out = ctx.run_status(&["stop", "-t", "1", "stubborn"]);
        assert_exit_code(&out, 0, "stop -t 1");
        assert!(
            stderr_of(&out).contains("resorting to SIGKILL"),
            "stop should warn that it killed: {}",
            stderr_of(&out)
        );
        assert_eq!(ctx.status_of("stubborn"), "exited");
        assert_eq!(ctx.inspect_format("stubborn", "{{.State.ExitCode}}"), "137");

        // Without -t, the container's own --stop-timeout decides.
        ctx.run_detached(&[
            "--name",
            "patient",
            "--stop-timeout",
            "1",
            "busybox",
            "sleep",
            "30",
        ]);
        let out = ctx.run_status(&["stop", "patient"]);
        assert_exit_code(&out, 0, "stop of a --stop-timeout 1 container");
        assert!(
            stderr_of(&out).contains("in 1 seconds, resorting to SIGKILL"),
            "--stop-timeout 1 should be the wait: {}",
            stderr_of(&out)
        );
        assert_eq!(ctx.inspect_format("patient", "{{.State.ExitCode}}"), "137");
    });
}

#[test]
fn s18_the_stop_signal_of_the_container_is_honoured() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        ctx.run_detached(&[
            "--name",
            "usr1",
            "--stop-signal",
            "USR1",
            "busybox",
            "sh",
            "-c",
            &trapping("USR1", 5),
        ]);
        ctx.wait_for_log_lines("usr1", "ready", 1);
        let out = ctx.run_status(&["stop", "-t", "10", "usr1"]);
        assert_exit_code(&out, 0, "stop");
        assert_eq!(ctx.inspect_format("usr1", "{{.State.ExitCode}}"), "5");
        assert_eq!(ctx.logs_of("usr1").0, "ready\nbye\n");
    });
}

#[test]
fn s19_kill_delivers_a_signal_and_refuses_bad_ones() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        let script = "trap 'echo got-usr1' USR1; echo ready; while true; do sleep 0.1; done";
        ctx.run_detached(&["--name", "target", "busybox", "sh", "-c", script]);
        ctx.wait_for_log_lines("target", "ready", 1);

        ctx.run_ok(&["kill", "-s", "USR1", "target"]);
        ctx.wait_for_log_lines("target", "got-usr1", 1);
        assert_eq!(
            ctx.status_of("target"),
            "running",
            "the trap kept it running"
        );

        let out = ctx.run_status(&["kill", "-s", "NOSUCH", "target"]);
        assert_exit_code(&out, 125, "kill -s NOSUCH");
        assert_one_error_mentioning(&out, "invalid signal", "kill -s NOSUCH");
        assert_eq!(ctx.status_of("target"), "running");

        ctx.run_ok(&["kill", "target"]);
        ctx.wait_for_status("target", "exited");
        assert_eq!(ctx.inspect_format("target", "{{.State.ExitCode}}"), "137");
        let out = ctx.run_status(&["kill", "target"]);
        assert_exit_code(&out, 125, "kill of an exited container");
        assert_one_error_mentioning(
            &out,
            "container state improper",
            "kill of an exited container",
        );
    });
}

// --- rm ------------------------------------------------------------------------

#[test]
fn s20_rm_refuses_a_running_container_and_rm_f_removes_it() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        ctx.run_detached(&["--name", "busy", "busybox", "sleep", "30"]);
        let pid: i32 = ctx
            .inspect_format("busy", "{{.State.Pid}}")
            .parse()
            .unwrap();

        let out = ctx.run_status(&["rm", "busy"]);
        assert!(!out.status.success(), "rm of a running container must fail");
        assert_one_error_mentioning(
            &out,
            "container state improper",
            "rm of a running container",
        );
        assert_eq!(
            ctx.status_of("busy"),
            "running",
            "the failed rm left it alone"
        );

        ctx.run_ok(&["rm", "-f", "busy"]);
        assert!(ctx.all_short_ids().is_empty(), "rm -f removed it");
        wait_for("the container's process to end", STATE_TIMEOUT, || {
            process_gone(pid)
        });
    });
}

#[test]
fn s21_rm_answers_like_podman() {
    // podman-rm(1), EXIT STATUS: 2 "One of the specified containers is
    // paused or running" (1: did not exist; 125: any other failure). Like
    // `stop`, `rm` prints each container as the user named it.
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        ctx.run_detached(&["--name", "busy", "busybox", "sleep", "30"]);
        ctx.run_ok(&["create", "--name", "idle", "busybox", "true"]);
        let mut wrong = Vec::new();
        let out = ctx.run_status(&["rm", "busy"]);
        if out.status.code() != Some(2) {
            wrong.push(format!(
                "rm of a running container: expected exit 2, got {}",
                out.status
            ));
        }
        let out = ctx.run_status(&["rm", "idle"]);
        if !out.status.success() || stdout_of(&out) != "idle\n" {
            wrong.push(format!(
                "rm idle: expected success printing \"idle\\n\", got {}: {:?}",
                out.status,
                stdout_of(&out)
            ));
        }
        assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
    });
}

#[test]
fn s22_a_name_is_taken_until_its_container_is_removed() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        let first = ctx.run_detached(&["--name", "solo", "busybox", "sleep", "30"]);
        let out = ctx.run_status(&["run", "-d", "--name", "solo", "busybox", "true"]);
        assert_exit_code(&out, 125, "a second container named solo");
        assert_one_error_mentioning(&out, "already in use", "a second container named solo");
        assert_eq!(ctx.all_short_ids(), [&first[..12]], "nothing was created");

        ctx.run_ok(&["rm", "-f", "solo"]);
        let second = ctx.run_detached(&["--name", "solo", "busybox", "sleep", "30"]);
        assert_ne!(first, second);
        assert_eq!(ctx.inspect_format("solo", "{{.Id}}"), second);
    });
}

#[test]
fn s23_rm_all_removes_every_container() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        ctx.run_ok(&["create", "--name", "made", "busybox", "true"]);
        ctx.run_detached(&["--name", "done", "busybox", "true"]);
        ctx.wait_for_status("done", "exited");
        ctx.run_ok(&["rm", "-a"]);
        assert!(ctx.all_short_ids().is_empty(), "rm -a");

        ctx.run_detached(&["--name", "up", "busybox", "sleep", "30"]);
        ctx.run_detached(&["--name", "done", "busybox", "true"]);
        ctx.wait_for_status("done", "exited");
        let out = ctx.run_status(&["rm", "--all"]);
        assert!(
            !out.status.success(),
            "rm --all cannot remove a running container"
        );
        assert_eq!(ctx.ps_names(&["-a"]), ["up"], "rm --all removed the rest");
        ctx.run_ok(&["rm", "--all", "--force"]);
        assert!(ctx.all_short_ids().is_empty(), "rm --all --force");
    });
}

#[test]
fn s24_container_prune_removes_only_exited_containers() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        let up = ctx.run_detached(&["--name", "up", "busybox", "sleep", "30"]);
        let gone = ctx.run_detached(&["--name", "gone", "busybox", "sh", "-c", "exit 1"]);
        ctx.wait_for_status("gone", "exited");
        let out = ctx.run_ok(&["container", "prune", "-f"]);
        assert!(out.contains(&gone), "prune prints what it removed: {out:?}");
        assert!(!out.contains(&up), "{out:?}");
        assert_eq!(ctx.ps_names(&["-a"]), ["up"]);
        assert_eq!(ctx.status_of("up"), "running");
    });
}

// --- wait, restart, restart policies -------------------------------------------

#[test]
fn s25_wait_prints_the_exit_code_once_the_container_exits() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        // The container exits only when the test lets it (by creating a
        // file), so `wait` is seen waiting before there is an exit code.
        let script = "until [ -e /tmp/go ]; do usleep 20000; done; exit 4";
        ctx.run_detached(&["--name", "brief", "busybox", "sh", "-c", script]);
        let mut waiting = ctx.start(ctx.skiff(&["wait", "brief"]));
        // `wait` polls the container's state: asleep between two polls, it
        // has found the container and is waiting for its exit. Its answer
        // cannot come yet; `wait_until` fails if it ends first.
        let client = waiting.pid().as_raw();
        waiting.wait_until(
            "`skiff wait` to be polling the running container",
            STATE_TIMEOUT,
            || asleep_in_nanosleep(client),
        );
        assert_eq!(ctx.status_of("brief"), "running");
        assert_eq!(
            waiting.try_status(),
            None,
            "`skiff wait` answered while the container runs: {:?}",
            waiting.stdout_so_far()
        );
        ctx.run_ok(&["exec", "brief", "touch", "/tmp/go"]);
        let out = waiting.wait(Duration::from_secs(30));
        assert_exit_code(&out, 0, "wait");
        assert_eq!(stdout_of(&out), "4\n");
        assert_eq!(ctx.status_of("brief"), "exited");
        // Waiting for a container that already exited answers at once.
        assert_eq!(ctx.run_ok(&["wait", "brief"]), "4\n");
    });
}

#[test]
fn s26_restart_starts_the_container_again() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        ctx.run_detached(&[
            "--name",
            "again",
            "busybox",
            "sh",
            "-c",
            &trapping("TERM", 0),
        ]);
        ctx.wait_for_log_lines("again", "ready", 1);
        let started = ctx.inspect_format("again", "{{.State.StartedAt}}");

        ctx.run_ok(&["restart", "-t", "10", "again"]);
        assert_eq!(ctx.status_of("again"), "running");
        let restarted = ctx.inspect_format("again", "{{.State.StartedAt}}");
        let nanos = |stamp: &str| {
            rfc3339_nanos(stamp)
                .unwrap_or_else(|| panic!(".State.StartedAt is not RFC 3339: {stamp:?}"))
        };
        assert!(
            nanos(&restarted) > nanos(&started),
            "StartedAt should move forward: {started} → {restarted}"
        );
        ctx.wait_for_log_lines("again", "ready", 2);
        assert_eq!(ctx.logs_of("again").0, "ready\nbye\nready\n");
    });
}

#[test]
fn s27_on_failure_restarts_up_to_the_limit_then_stays_exited() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        let id = ctx.run_detached(&[
            "--name",
            "flaky",
            "--restart",
            "on-failure:2",
            "busybox",
            "sh",
            "-c",
            "echo attempt; exit 1",
        ]);
        // Three runs: the first and two restarts. Then its monitor (whose
        // command line names the container) ends: nothing restarts it.
        wait_for(
            "the third attempt and the monitor's end",
            STATE_TIMEOUT,
            || ctx.log_count("flaky", "attempt") >= 3 && pids_with_argv_containing(&id).is_empty(),
        );
        assert_eq!(
            ctx.log_count("flaky", "attempt"),
            3,
            "{:?}",
            ctx.logs_of("flaky")
        );
        assert_eq!(ctx.inspect_format("flaky", "{{.RestartCount}}"), "2");
        assert_eq!(ctx.status_of("flaky"), "exited");
        assert_eq!(ctx.inspect_format("flaky", "{{.State.ExitCode}}"), "1");
    });
}

#[test]
fn s28_always_restarts_after_exit_until_stopped() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        let id = ctx.run_detached(&[
            "--name",
            "phoenix",
            "--restart",
            "always",
            "busybox",
            "sh",
            "-c",
            "echo tick; sleep 0.2",
        ]);
        ctx.wait_for_log_lines("phoenix", "tick", 2);
        assert!(
            ctx.inspect_format("phoenix", "{{.RestartCount}}")
                .parse::<u32>()
                .unwrap()
                >= 1,
            "a container that ran twice was restarted"
        );

        // Its monitor, the one process that restarts it, names it on its
        // command line. Once stopped, the monitor ends: nothing is left to
        // start it again.
        assert!(
            !pids_with_argv_containing(&id).is_empty(),
            "the monitor of a running container is found by the container ID"
        );
        ctx.run_ok(&["stop", "-t", "1", "phoenix"]);
        wait_for("the monitor to end after stop", STATE_TIMEOUT, || {
            pids_with_argv_containing(&id).is_empty()
        });
        assert_eq!(ctx.status_of("phoenix"), "exited", "stop ends it for good");
        assert!(ctx.ps_names(&[]).is_empty(), "nothing running");
    });
}

// --- --init --------------------------------------------------------------------

#[test]
fn s29_init_runs_as_pid1_and_forwards_the_stop_signal() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        ctx.run_detached(&["--name", "inited", "--init", "busybox", "sleep", "30"]);
        assert_eq!(
            ctx.run_ok(&["exec", "inited", "cat", "/proc/1/comm"]),
            "skiff-init\n"
        );
        assert_eq!(ctx.inspect_format("inited", "{{.HostConfig.Init}}"), "true");
        // sleep is not PID 1 here, so TERM (forwarded by the init) kills it.
        ctx.run_ok(&["stop", "-t", "5", "inited"]);
        assert_eq!(ctx.inspect_format("inited", "{{.State.ExitCode}}"), "143");

        // Real-time signals are forwarded too (37 is SIGRTMIN+3 in glibc).
        let script = "trap 'echo got-rt' 37; echo ready; while :; do sleep 1; done";
        ctx.run_detached(&["--name", "rt", "--init", "busybox", "sh", "-c", script]);
        ctx.wait_for_log_lines("rt", "ready", 1);
        ctx.run_ok(&["kill", "-s", "SIGRTMIN+3", "rt"]);
        ctx.wait_for_log_lines("rt", "got-rt", 1);
    });
}
