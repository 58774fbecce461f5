//! Containers in the background: `run -d`, `create`/`start`, `ps`, `logs`,
//! `stop`/`kill`, `rm`, `wait`, `restart` and restart policies, `--init`,
//! `exec`, `inspect`, `rename`, `attach`, and what happens when a monitor
//! dies. One numbered user story per test, each run as root and rootless.
//!
//! Containers that must react to a signal first install a trap, then print
//! `ready`; the test waits for that line in `logs` before it signals. Every
//! wait has a deadline; nothing sleeps and hopes.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::time::Duration;

use common::containers::*;
use common::*;

/// A shell script for a container's PID 1 that traps `signal`, prints
/// `ready` once the trap is installed, and on the signal prints `bye` and
/// exits with `code`.
fn trapping(signal: &str, code: i32) -> String {
    format!("trap 'echo bye; exit {code}' {signal}; echo ready; while true; do sleep 0.1; done")
}

// --- run -d and ps ----------------------------------------------------------

#[test]
fn s01_run_detached_prints_the_full_id_and_ps_shows_it_up() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        let id = ctx.run_detached(&["--name", "web", "busybox", "sleep", "30"]);
        let ps = ctx.run_ok(&["ps"]);
        let rows = ps_table(&ps);
        assert_eq!(rows.len(), 1, "ps should list the one container:\n{ps}");
        let row = &rows[0];
        assert_eq!(
            row["CONTAINER ID"],
            id[..12],
            "ps shows the short ID:\n{ps}"
        );
        assert_eq!(row["NAMES"], "web", "{ps}");
        assert_eq!(row["COMMAND"], "sleep 30", "{ps}");
        assert!(
            row["STATUS"].starts_with("Up"),
            "a running container's STATUS starts with `Up`:\n{ps}"
        );
    });
}

#[test]
fn s02_ps_quiet_prints_short_ids_and_no_trunc_the_full_ones() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        let running = ctx.run_detached(&["busybox", "sleep", "30"]);
        let exited = ctx.run_detached(&["busybox", "true"]);
        ctx.wait_for_status(&exited, "exited");

        // -q: running containers only, 12 hex digits each.
        assert_eq!(
            nonempty_lines(&ctx.run_ok(&["ps", "-q"])),
            [&running[..12]],
            "ps -q"
        );
        // -aq: the exited one too, newest first.
        assert_eq!(
            ctx.all_short_ids(),
            [&exited[..12], &running[..12]],
            "ps -aq"
        );
        // --no-trunc: the full IDs.
        assert_eq!(
            nonempty_lines(&ctx.run_ok(&["ps", "-q", "--no-trunc"])),
            [running.as_str()],
            "ps -q --no-trunc"
        );
        let ps = ctx.run_ok(&["ps", "--no-trunc"]);
        let rows = ps_table(&ps);
        assert_eq!(rows.len(), 1, "{ps}");
        assert_eq!(rows[0]["CONTAINER ID"], running, "ps --no-trunc:\n{ps}");
    });
}

#[test]
fn s03_ps_all_shows_exited_containers_with_their_exit_code() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        ctx.run_detached(&["--name", "up", "busybox", "sleep", "30"]);
        ctx.run_detached(&["--name", "three", "busybox", "sh", "-c", "exit 3"]);
        ctx.wait_for_status("three", "exited");

        assert_eq!(ctx.ps_names(&[]), ["up"], "ps without -a: running only");
        let ps = ctx.run_ok(&["ps", "-a"]);
        let rows = ps_table(&ps);
        let status = |name: &str| {
            rows.iter()
                .find(|r| r["NAMES"] == name)
                .unwrap_or_else(|| panic!("ps -a should list {name}:\n{ps}"))["STATUS"]
                .clone()
        };
        let three = status("three");
        assert!(
            three.starts_with("Exited (3) ") && three.ends_with(" ago"),
            "STATUS of a container that exited 3 should read `Exited (3) … ago`: {three:?}"
        );
        assert!(status("up").starts_with("Up"), "{ps}");
    });
}

#[test]
fn s04_ps_filters_by_status_name_and_label() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        ctx.run_detached(&[
            "--name",
            "web-1",
            "-l",
            "tier=front",
            "busybox",
            "sleep",
            "30",
        ]);
        ctx.run_detached(&["--name", "db-1", "-l", "tier=back", "busybox", "true"]);
        ctx.wait_for_status("db-1", "exited");

        assert_eq!(ctx.ps_names(&["-a", "--filter", "status=exited"]), ["db-1"]);
        assert_eq!(
            ctx.ps_names(&["-a", "--filter", "status=running"]),
            ["web-1"]
        );
        assert_eq!(ctx.ps_names(&["-a", "--filter", "name=web"]), ["web-1"]);
        assert_eq!(
            ctx.ps_names(&["-a", "--filter", "label=tier=back"]),
            ["db-1"]
        );
        assert_eq!(
            ctx.ps_names(&["-a", "--filter", "label=tier=front"]),
            ["web-1"]
        );
        assert!(
            ctx.ps_names(&["-a", "--filter", "label=tier=none"])
                .is_empty(),
            "no container has tier=none"
        );
    });
}

#[test]
fn s05_ps_format_prints_the_requested_fields() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        ctx.run_detached(&["--name", "alpha", "busybox", "sleep", "30"]);
        ctx.run_detached(&["--name", "beta", "busybox", "sh", "-c", "exit 2"]);
        ctx.wait_for_status("beta", "exited");

        let out = ctx.run_ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
        let lines = nonempty_lines(&out);
        assert_eq!(lines.len(), 2, "{out}");
        assert!(
            lines[0].starts_with("beta Exited (2) "),
            "newest first, `Names Status`: {out}"
        );
        assert!(lines[1].starts_with("alpha Up"), "{out}");
        assert!(
            !out.contains("CONTAINER ID"),
            "no header with --format: {out}"
        );
    });
}

#[test]
fn s06_ps_last_and_latest_show_the_newest_containers() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        ctx.run_ok(&["create", "--name", "first", "busybox", "true"]);
        ctx.run_ok(&["create", "--name", "second", "busybox", "true"]);
        ctx.run_ok(&["create", "--name", "third", "busybox", "true"]);
        // Both include containers that are not running, as podman does.
        assert_eq!(ctx.ps_names(&["-n", "1"]), ["third"], "ps -n 1");
        assert_eq!(ctx.ps_names(&["-n", "2"]), ["third", "second"], "ps -n 2");
        assert_eq!(ctx.ps_names(&["-l"]), ["third"], "ps -l");
        assert_eq!(ctx.ps_names(&["--latest"]), ["third"], "ps --latest");
    });
}

#[test]
fn s07_containers_without_a_name_get_unique_generated_names() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let ids: Vec<String> = (0..4)
            .map(|_| {
                ctx.run_ok(&["create", "busybox", "true"])
                    .trim()
                    .to_string()
            })
            .collect();
        let mut names = BTreeSet::new();
        for id in &ids {
            assert!(is_hex(id, 64), "create prints the full ID: {id:?}");
            let name = ctx.inspect_format(id, "{{.Name}}");
            assert!(
                !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b)),
                "a generated name is a usable name: {name:?}"
            );
            // The name resolves to this very container.
            assert_eq!(ctx.inspect_format(&name, "{{.Id}}"), *id, "{name}");
            names.insert(name);
        }
        assert_eq!(
            names.len(),
            ids.len(),
            "generated names are unique: {names:?}"
        );
        let listed: BTreeSet<String> = ctx.ps_names(&["-a"]).into_iter().collect();
        assert_eq!(listed, names, "ps -a lists the generated names");
    });
}

#[test]
fn s08_a_unique_id_prefix_works_for_every_verb() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        let id = ctx.run_detached(&["--name", "pre", "busybox", "sh", "-c", &trapping("TERM", 0)]);
        let prefix = &id[..7];
        ctx.wait_for_log_lines(prefix, "ready", 1);

        assert_eq!(ctx.inspect_format(prefix, "{{.Name}}"), "pre", "inspect");
        assert_eq!(ctx.run_ok(&["exec", prefix, "echo", "in"]), "in\n", "exec");
        assert_eq!(
            ctx.ps_names(&["--filter", &format!("id={prefix}")]),
            ["pre"],
            "ps --filter id="
        );
        ctx.run_ok(&["restart", "-t", "5", prefix]);
        ctx.wait_for_log_lines(prefix, "ready", 2);
        ctx.run_ok(&["stop", "-t", "5", prefix]);
        assert_eq!(ctx.status_of("pre"), "exited", "after stop");
        ctx.run_ok(&["start", prefix]);
        ctx.wait_for_log_lines(prefix, "ready", 3);
        ctx.run_ok(&["kill", prefix]);
        assert_eq!(
            ctx.run_ok(&["wait", prefix]).trim(),
            "137",
            "wait after kill"
        );
        ctx.run_ok(&["rename", prefix, "renamed"]);
        assert_eq!(ctx.inspect_format(prefix, "{{.Name}}"), "renamed");
        ctx.run_ok(&["rm", prefix]);
        assert!(ctx.all_short_ids().is_empty(), "rm by prefix removed it");
    });
}

#[test]
fn s09_an_unknown_container_is_an_error_for_every_verb() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let expected_error =
            r#"Error: no container with name or ID "nosuch" found: no such container"#;
        // podman: 125 for every verb, except `rm` (1: "did not exist").
        let cases: &[(&[&str], i32)] = &[
            (&["inspect", "nosuch"], 125),
            (&["logs", "nosuch"], 125),
            (&["start", "nosuch"], 125),
            (&["stop", "nosuch"], 125),
            (&["kill", "nosuch"], 125),
            (&["wait", "nosuch"], 125),
            (&["restart", "nosuch"], 125),
            (&["exec", "nosuch", "true"], 125),
            (&["rename", "nosuch", "other"], 125),
            (&["attach", "nosuch"], 125),
            (&["rm", "nosuch"], 1),
            (&["rm", "-f", "nosuch"], 1),
        ];
        let mut wrong = Vec::new();
        for (args, code) in cases {
            let out = ctx.run_status(args);
            let errors = error_lines(&out);
            if out.status.code() != Some(*code) || errors != [expected_error] {
                wrong.push(format!(
                    "skiff {}: expected exit {code} and {expected_error:?}, got {} and {errors:?}",
                    args.join(" "),
                    out.status
                ));
            }
        }
        for args in [
            &["rm", "--ignore", "nosuch"][..],
            &["stop", "--ignore", "nosuch"],
        ] {
            let out = ctx.run_status(args);
            if !out.status.success() || !error_lines(&out).is_empty() {
                wrong.push(format!(
                    "skiff {}: expected silent success, got {}: {}",
                    args.join(" "),
                    out.status,
                    stderr_of(&out)
                ));
            }
        }
        assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
    });
}

// --- create and start -------------------------------------------------------

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

// --- logs -------------------------------------------------------------------

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
        let script = "echo first; sleep 1; echo second; sleep 0.2; echo third";
        ctx.run_detached(&["--name", "slow", "busybox", "sh", "-c", script]);
        ctx.wait_for_log_lines("slow", "first", 1);
        let follow = ctx.start(ctx.skiff(&["logs", "-f", "slow"]));
        let out = follow.wait(Duration::from_secs(30));
        assert_exit_code(&out, 0, "logs -f");
        assert_eq!(stdout_of(&out), "first\nsecond\nthird\n");
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

// --- stop and kill ----------------------------------------------------------

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

// --- rm ---------------------------------------------------------------------

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

// --- wait, restart, restart policies ----------------------------------------

#[test]
fn s25_wait_prints_the_exit_code_once_the_container_exits() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        ctx.run_detached(&[
            "--name",
            "brief",
            "busybox",
            "sh",
            "-c",
            "sleep 0.5; exit 4",
        ]);
        let waiting = ctx.start(ctx.skiff(&["wait", "brief"]));
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

// --- --init -----------------------------------------------------------------

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

// --- exec -------------------------------------------------------------------

#[test]
fn s30_exec_runs_in_the_container_with_env_workdir_and_user() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        let id = ctx.run_detached(&[
            "--name",
            "box",
            "-e",
            "FROM_RUN=yes",
            "busybox",
            "sleep",
            "30",
        ]);
        let hostname = ctx.run_ok(&["exec", "box", "hostname"]);
        assert_eq!(
            hostname.trim(),
            &id[..12],
            "exec sees the container's hostname"
        );
        assert_eq!(
            hostname.trim(),
            ctx.inspect_format("box", "{{.Config.Hostname}}")
        );
        // The container's environment, plus what -e adds.
        assert_eq!(
            ctx.run_ok(&["exec", "-e", "K=V", "box", "sh", "-c", "echo $FROM_RUN $K"]),
            "yes V\n"
        );
        assert_eq!(ctx.run_ok(&["exec", "-w", "/tmp", "box", "pwd"]), "/tmp\n");
        assert_eq!(
            ctx.run_ok(&["exec", "-u", "65534", "box", "id", "-u"]),
            "65534\n"
        );
        assert_eq!(ctx.run_ok(&["exec", "box", "id", "-u"]), "0\n");
        // Something exec writes is there for the container's own processes.
        ctx.run_ok(&["exec", "box", "sh", "-c", "echo shared > /tmp/note"]);
        assert_eq!(ctx.run_ok(&["exec", "box", "cat", "/tmp/note"]), "shared\n");
    });
}

#[test]
fn s31_exec_i_streams_stdin() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        ctx.run_detached(&["--name", "box", "busybox", "sleep", "30"]);
        let out = ctx.run_stdin(&["exec", "-i", "box", "cat"], b"piped\n");
        assert_eq!(assert_success(&out, "echo piped | exec -i cat"), "piped\n");
    });
}

#[test]
fn s32_exec_reports_the_exit_code_of_the_command() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        ctx.run_detached(&["--name", "box", "busybox", "sleep", "30"]);
        let out = ctx.run_status(&["exec", "box", "sh", "-c", "exit 7"]);
        assert_exit_code(&out, 7, "exec sh -c 'exit 7'");
        let out = ctx.run_status(&["exec", "box", "/etc/passwd"]);
        assert_exit_code(&out, 126, "exec of a file that is not executable");
        assert_one_error_mentioning(&out, "/etc/passwd", "exec /etc/passwd");
        let out = ctx.run_status(&["exec", "box", "nosuchcmd"]);
        assert_exit_code(&out, 127, "exec of a missing command");
        assert_one_error_mentioning(&out, "nosuchcmd", "exec nosuchcmd");
        assert_eq!(
            ctx.status_of("box"),
            "running",
            "failed execs leave it running"
        );
    });
}

#[test]
fn s33_exec_into_a_stopped_container_fails() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        ctx.run_ok(&["create", "--name", "idle", "busybox", "sleep", "30"]);
        let out = ctx.run_status(&["exec", "idle", "true"]);
        assert_exit_code(&out, 125, "exec into a created container");
        assert_one_error_mentioning(
            &out,
            "container state improper",
            "exec into a created container",
        );

        ctx.run_detached(&["--name", "over", "busybox", "true"]);
        ctx.wait_for_status("over", "exited");
        let out = ctx.run_status(&["exec", "over", "true"]);
        assert_exit_code(&out, 125, "exec into an exited container");
        assert_one_error_mentioning(
            &out,
            "container state improper",
            "exec into an exited container",
        );
    });
}

#[test]
fn s34_exec_detached_returns_at_once_and_the_command_runs() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        ctx.run_detached(&["--name", "box", "busybox", "sleep", "30"]);
        // The detached command cannot finish before the test lets it (by
        // creating /tmp/go), which it does only once `exec -d` has exited
        // and closed its output: a caller capturing the output, as in
        // `$(skiff exec -d …)`, must not wait for the command.
        let script = "while [ ! -f /tmp/go ]; do sleep 0.05; done; touch /tmp/flag";
        let out = ctx.run_status(&["exec", "-d", "box", "sh", "-c", script]);
        assert_exit_code(&out, 0, "exec -d");
        assert_eq!(stdout_of(&out), "", "exec -d prints nothing");
        assert!(
            !ctx.run_status(&["exec", "box", "test", "-f", "/tmp/flag"])
                .status
                .success(),
            "the detached command is still waiting"
        );
        ctx.run_ok(&["exec", "box", "touch", "/tmp/go"]);
        wait_for(
            "the detached exec to touch /tmp/flag",
            STATE_TIMEOUT,
            || {
                ctx.run_status(&["exec", "box", "test", "-f", "/tmp/flag"])
                    .status
                    .success()
            },
        );
    });
}

// --- inspect and rename -----------------------------------------------------

#[test]
fn s35_inspect_shows_state_and_configuration() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        let id = ctx.run_detached(&[
            "--name",
            "seen",
            "-e",
            "FOO=bar",
            "--restart",
            "on-failure:3",
            "busybox",
            "sh",
            "-c",
            &trapping("TERM", 42),
        ]);
        ctx.wait_for_log_lines("seen", "ready", 1);
        let inspect = |name: &str| -> serde_json::Value {
            let out = ctx.run_ok(&["inspect", name]);
            let json: serde_json::Value = serde_json::from_str(&out)
                .unwrap_or_else(|e| panic!("inspect prints JSON ({e}): {out}"));
            let array = json.as_array().expect("inspect prints a JSON array");
            assert_eq!(array.len(), 1, "{out}");
            array[0].clone()
        };

        let c = inspect("seen");
        assert_eq!(c["Id"], id.as_str());
        assert_eq!(c["Name"], "seen");
        assert_eq!(c["State"]["Status"], "running");
        assert_eq!(c["State"]["Running"], true);
        let pid = c["State"]["Pid"].as_i64().expect(".State.Pid is a number");
        assert!(pid > 0, ".State.Pid of a running container: {pid}");
        assert!(
            !process_gone(pid as i32),
            ".State.Pid {pid} is a live process"
        );
        let env: Vec<&str> = c["Config"]["Env"]
            .as_array()
            .expect(".Config.Env is an array")
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        assert!(env.contains(&"FOO=bar"), ".Config.Env: {env:?}");
        assert_eq!(c["HostConfig"]["RestartPolicy"]["Name"], "on-failure");
        assert_eq!(c["HostConfig"]["RestartPolicy"]["MaximumRetryCount"], 3);
        assert_eq!(
            ctx.run_ok(&["inspect", "--format", "{{.State.Status}}", "seen"]),
            "running\n"
        );

        ctx.run_ok(&["stop", "-t", "10", "seen"]);
        let c = inspect("seen");
        assert_eq!(c["State"]["Status"], "exited");
        assert_eq!(c["State"]["Running"], false);
        assert_eq!(c["State"]["ExitCode"], 42);
        assert_eq!(c["State"]["Pid"], 0, "no pid once exited");
        assert_eq!(c["RestartCount"], 0, "a stopped container is not restarted");
    });
}

#[test]
fn s36_inspect_reports_the_command_as_given() {
    // docker and podman: with no --entrypoint and an image without one,
    // `run IMAGE sleep 30` has .Config.Cmd ["sleep","30"], no entrypoint,
    // .Path "sleep" and .Args ["30"].
    for_each_user(|ctx| {
        ctx.load_busybox();
        ctx.run_ok(&["create", "--name", "cmd", "busybox", "sleep", "30"]);
        let out = ctx.run_ok(&["inspect", "cmd"]);
        let c: serde_json::Value = serde_json::from_str(&out).unwrap();
        let c = &c[0];
        assert_eq!(c["Path"], "sleep", "{out}");
        assert_eq!(c["Args"], serde_json::json!(["30"]), "{out}");
        assert_eq!(
            c["Config"]["Cmd"],
            serde_json::json!(["sleep", "30"]),
            ".Config.Cmd is the command as given"
        );
        let entrypoint = &c["Config"]["Entrypoint"];
        assert!(
            entrypoint.is_null()
                || entrypoint == ""
                || entrypoint.as_array().is_some_and(|a| a.is_empty()),
            "busybox has no entrypoint and none was given: {entrypoint}"
        );
    });
}

#[test]
fn s37_rename_moves_the_name_to_the_container() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        let id = ctx.run_detached(&["--name", "before", "busybox", "sleep", "30"]);
        ctx.run_ok(&["rename", "before", "after"]);
        assert_eq!(ctx.inspect_format("after", "{{.Id}}"), id);
        assert_eq!(ctx.inspect_format("after", "{{.Name}}"), "after");
        let out = ctx.run_status(&["inspect", "before"]);
        assert_exit_code(&out, 125, "inspect of the old name");
        assert_one_error_mentioning(&out, "no such container", "inspect of the old name");
        assert_eq!(ctx.ps_names(&[]), ["after"]);
        // The old name is free for a new container.
        ctx.run_ok(&["create", "--name", "before", "busybox", "true"]);
    });
}

// --- monitors, many containers, --rm, cidfile, attach -----------------------

#[test]
fn s38_a_killed_monitor_leaves_an_exited_container_that_can_be_removed() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        ctx.run_detached(&["--name", "orphan", "busybox", "sleep", "30"]);
        let monitor: i32 = ctx
            .inspect_format("orphan", "{{.State.ConmonPid}}")
            .parse()
            .unwrap();
        let pid: i32 = ctx
            .inspect_format("orphan", "{{.State.Pid}}")
            .parse()
            .unwrap();
        assert!(monitor > 0 && pid > 0, "monitor {monitor}, container {pid}");

        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(monitor),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        wait_for("the monitor to die", STATE_TIMEOUT, || {
            process_gone(monitor)
        });

        let ps = ctx.run_ok(&["ps", "-a"]);
        let rows = ps_table(&ps);
        assert_eq!(rows.len(), 1, "{ps}");
        assert!(
            rows[0]["STATUS"].starts_with("Exited (-1) "),
            "a container whose monitor died is exited with code -1:\n{ps}"
        );
        assert_eq!(ctx.status_of("orphan"), "exited");
        assert_eq!(ctx.inspect_format("orphan", "{{.State.ExitCode}}"), "-1");
        let error = ctx.inspect_format("orphan", "{{.State.Error}}");
        assert!(
            error.contains("monitor"),
            ".State.Error should mention the monitor: {error:?}"
        );
        wait_for("the container's process to end", STATE_TIMEOUT, || {
            process_gone(pid)
        });

        ctx.run_ok(&["rm", "orphan"]);
        assert!(ctx.all_short_ids().is_empty());
    });
}

#[test]
fn s39_twenty_containers_started_stopped_and_removed_in_parallel_leave_nothing() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        // A sleep length no other process uses: the containers' processes
        // are found on the host by their exact argv. Monitors name the
        // store (--root) on their command line.
        let token = format!(
            "{}",
            8_000_000 + (std::process::id() % 400_000) * 2 + u32::from(ctx.is_rootless())
        );
        let store = ctx.root.to_str().unwrap().to_string();
        let names: Vec<String> = (0..20).map(|i| format!("par-{i}")).collect();

        let parallel = |args: &dyn Fn(&str) -> Vec<String>| {
            let running: Vec<_> = names
                .iter()
                .map(|name| {
                    let args = args(name);
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    ctx.start(ctx.skiff(&args))
                })
                .collect();
            running
                .into_iter()
                .zip(&names)
                .map(|(r, name)| {
                    let out = r.wait(Duration::from_secs(120));
                    assert_success(&out, &format!("{} of {name}", args(name).join(" ")))
                })
                .collect::<Vec<String>>()
        };

        let ids = parallel(&|name| {
            ["run", "-d", "--name", name, "busybox", "sleep", &token]
                .map(str::to_string)
                .to_vec()
        });
        for id in &ids {
            assert!(is_hex(id.trim(), 64), "run -d printed {id:?}");
        }
        let distinct: BTreeSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), 20, "20 different IDs");
        assert_eq!(ctx.ps_names(&[]).len(), 20, "20 running");
        assert_eq!(
            pids_with_argv(&["sleep", &token]).len(),
            20,
            "20 sleeps on the host"
        );

        parallel(&|name| ["stop", "-t", "1", name].map(str::to_string).to_vec());
        assert!(ctx.ps_names(&[]).is_empty(), "all stopped");
        parallel(&|name| ["rm", name].map(str::to_string).to_vec());

        assert!(ctx.all_short_ids().is_empty(), "ps -aq after rm");
        let containers = ctx.root.join("containers");
        let left: Vec<String> = fs::read_dir(&containers)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "names")
            .collect();
        assert!(
            left.is_empty(),
            "{} still holds {left:?}",
            containers.display()
        );
        if let Ok(names) = fs::read_dir(containers.join("names")) {
            let names: Vec<_> = names.flatten().map(|e| e.file_name()).collect();
            assert!(names.is_empty(), "names/ still holds {names:?}");
        }
        if let Ok(runtime) = fs::read_dir(ctx.runroot.join("containers")) {
            let runtime: Vec<_> = runtime.flatten().map(|e| e.file_name()).collect();
            assert!(runtime.is_empty(), "the runroot still holds {runtime:?}");
        }
        wait_for(
            "every container process and monitor to end",
            STATE_TIMEOUT,
            || {
                pids_with_argv(&["sleep", &token]).is_empty()
                    && pids_with_argv_containing(&store).is_empty()
            },
        );
        // No cgroup is left either (v2, or any v1 controller's hierarchy).
        let hierarchies = ["", "memory", "pids", "freezer", "cpu", "cpuacct", "blkio"];
        for id in &ids {
            for hierarchy in hierarchies {
                let dir = Path::new("/sys/fs/cgroup")
                    .join(hierarchy)
                    .join("skiff")
                    .join(id.trim());
                assert!(!dir.exists(), "{} is left", dir.display());
            }
        }
    });
}

#[test]
fn s40_a_detached_rm_container_disappears_once_it_exits() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let id = ctx.run_detached(&["--rm", "--name", "fleeting", "busybox", "sleep", "0.3"]);
        wait_for("the --rm container to disappear", STATE_TIMEOUT, || {
            ctx.all_short_ids().is_empty()
        });
        let out = ctx.run_status(&["inspect", &id]);
        assert_exit_code(&out, 125, "inspect of a removed container");
        assert!(
            !ctx.root.join("containers").join(&id).exists(),
            "its directory is gone too"
        );
    });
}

#[test]
fn s41_cidfile_receives_the_id_and_an_existing_one_is_refused() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let cidfile = ctx.work.join("cid");
        let cid = cidfile.to_str().unwrap();
        let id = ctx.run_detached(&["--cidfile", cid, "busybox", "true"]);
        assert_eq!(fs::read_to_string(&cidfile).unwrap().trim(), id);

        let out = ctx.run_status(&["run", "-d", "--cidfile", cid, "busybox", "true"]);
        assert_exit_code(&out, 125, "run with an existing cidfile");
        assert_one_error_mentioning(&out, cid, "run with an existing cidfile");
        assert_eq!(
            fs::read_to_string(&cidfile).unwrap().trim(),
            id,
            "left unchanged"
        );
        assert_eq!(
            ctx.all_short_ids(),
            [&id[..12]],
            "no second container was made"
        );
    });
}

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

// --- the harness's own helpers ----------------------------------------------

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
