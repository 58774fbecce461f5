//! How `rm`, `stop`, `kill`, `start`, `restart`, `pause` and `unpause`
//! choose their containers, as podman's do: by name, `--cidfile`,
//! `--all`, `--latest` and `--filter`, plus `rm -f -t`, `--ignore`,
//! `restart --running` and `start --sig-proxy`; and the combinations
//! podman refuses, refused the same way. One user story per test, each
//! run as root and rootless.

mod common;

use common::containers::*;
use common::*;

/// A PID 1 that runs until killed (busybox `sleep` as PID 1 ignores
/// SIGTERM, so a stop ends it with SIGKILL).
const SLEEPER: [&str; 3] = ["busybox", "sleep", "300"];

/// `run -d --name NAME [EXTRA…] busybox sleep 300`; returns the ID.
fn sleeper(ctx: &Ctx, name: &str, extra: &[&str]) -> String {
    let mut args = vec!["--name", name];
    args.extend_from_slice(extra);
    args.extend_from_slice(&SLEEPER);
    ctx.run_detached(&args)
}

/// The output lines of a command that must succeed, sorted.
fn sorted_lines(out: &str) -> Vec<String> {
    let mut lines = nonempty_lines(out);
    lines.sort();
    lines
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

#[test]
fn v01_rm_cidfile_removes_the_container_and_its_cidfile() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        let cidfile = ctx.dir.join("web.cid");
        let cid = cidfile.to_str().unwrap();
        let id = ctx.run_detached(&["--cidfile", cid, "--name", "web", "busybox", "sleep", "300"]);
        assert_eq!(std::fs::read_to_string(&cidfile).unwrap(), id);

        // The ID is read from the file; a running container still needs -f.
        let out = ctx.run_status(&["rm", "--cidfile", cid]);
        assert_exit_code(&out, 2, "rm --cidfile of a running container");
        assert!(cidfile.exists(), "a refused rm leaves the cidfile");

        assert_eq!(
            ctx.run_ok(&["rm", "-f", "--cidfile", cid]),
            format!("{id}\n")
        );
        assert!(ctx.all_short_ids().is_empty(), "the container is gone");
        assert!(!cidfile.exists(), "rm --cidfile removes the file too");

        // Now the file is missing: an error, unless --ignore.
        let out = ctx.run_status(&["rm", "--cidfile", cid]);
        assert_exit_code(&out, 125, "rm --cidfile of a missing file");
        assert_one_error_mentioning(&out, "reading CIDFile", "rm --cidfile missing");
        let out = ctx.run_status(&["rm", "--ignore", "--cidfile", cid]);
        assert_exit_code(&out, 0, "rm -i --cidfile of a missing file");
        assert!(error_lines(&out).is_empty(), "{}", stderr_of(&out));
    });
}

#[test]
fn v02_stop_kill_and_restart_read_ids_from_cidfiles() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        let cidfile = ctx.dir.join("db.cid");
        let cid = cidfile.to_str().unwrap();
        let id = ctx.run_detached(&["--cidfile", cid, "--name", "db", "busybox", "sleep", "300"]);
        let other = sleeper(ctx, "other", &[]);

        let started = ctx.inspect_format("db", "{{.State.StartedAt}}");
        let out = ctx.run_ok(&["restart", "-t", "0", "--cidfile", cid]);
        assert_eq!(out, format!("{id}\n"));
        assert_eq!(ctx.status_of("db"), "running");
        assert_ne!(ctx.inspect_format("db", "{{.State.StartedAt}}"), started);

        assert_eq!(
            ctx.run_ok(&["stop", "-t", "0", "--cidfile", cid]),
            format!("{id}\n")
        );
        assert_eq!(ctx.status_of("db"), "exited");
        ctx.run_ok(&["start", "db"]);
        assert_eq!(ctx.run_ok(&["kill", "--cidfile", cid]), format!("{id}\n"));
        ctx.wait_for_status("db", "exited");
        assert_eq!(ctx.inspect_format("db", "{{.State.ExitCode}}"), "137");
        assert_eq!(
            ctx.status_of(&other),
            "running",
            "only the cidfile's container"
        );
        assert!(cidfile.exists(), "only rm removes the cidfile");

        let missing = ctx.dir.join("none.cid");
        let missing = missing.to_str().unwrap();
        let out = ctx.run_status(&["stop", "--cidfile", missing]);
        assert_exit_code(&out, 125, "stop --cidfile of a missing file");
        assert_one_error_mentioning(&out, missing, "stop --cidfile missing");
        let out = ctx.run_status(&["stop", "-i", "--cidfile", missing]);
        assert_exit_code(&out, 0, "stop -i --cidfile of a missing file");
    });
}

#[test]
fn v03_stop_filter_stops_only_the_containers_it_selects() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        let web1 = sleeper(ctx, "web1", &["--label", "tier=web"]);
        let web2 = sleeper(ctx, "web2", &["--label", "tier=web"]);
        sleeper(ctx, "db", &["--label", "tier=db"]);
        sleeper(ctx, "plain", &[]);

        let out = ctx.run_ok(&["stop", "-t", "0", "--filter", "label=tier=web"]);
        assert_eq!(sorted_lines(&out), sorted(vec![web1, web2]), "{out}");
        assert_eq!(ctx.status_of("web1"), "exited");
        assert_eq!(ctx.status_of("web2"), "exited");
        assert_eq!(ctx.status_of("db"), "running");
        assert_eq!(ctx.status_of("plain"), "running");

        // Filters with the same key are alternatives (podman's rule).
        let out = ctx.run_ok(&["stop", "-t", "0", "-f", "name=db", "-f", "name=plain"]);
        assert_eq!(nonempty_lines(&out).len(), 2, "{out}");
        assert_eq!(ctx.status_of("db"), "exited");
        assert_eq!(ctx.status_of("plain"), "exited");

        // A filter nothing matches selects nothing, and that is no error.
        assert_eq!(ctx.run_ok(&["stop", "--filter", "label=nobody"]), "");
    });
}

#[test]
fn v04_kill_latest_signals_only_the_newest_container() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        sleeper(ctx, "older", &[]);
        let newest = ctx.run_detached(&[
            "--name",
            "newest",
            "busybox",
            "sh",
            "-c",
            &trapping("USR1", 7),
        ]);
        ctx.wait_for_log_lines("newest", "ready", 1);

        assert_eq!(
            ctx.run_ok(&["kill", "-s", "USR1", "--latest"]),
            format!("{newest}\n")
        );
        ctx.wait_for_status("newest", "exited");
        assert_eq!(ctx.inspect_format("newest", "{{.State.ExitCode}}"), "7");
        assert_eq!(ctx.status_of("older"), "running");

        // The newest is exited now: --latest still means it, and kill
        // refuses a container that does not run.
        let out = ctx.run_status(&["kill", "-l"]);
        assert_exit_code(&out, 125, "kill --latest of an exited container");
        assert_eq!(ctx.status_of("older"), "running");
    });
}

#[test]
fn v05_rm_force_time_zero_removes_a_running_container_at_once() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        sleeper(ctx, "busy", &[]);
        sleeper(ctx, "keep", &[]);

        let out = ctx.run_status(&["rm", "-t", "0", "busy"]);
        assert_exit_code(&out, 125, "rm -t without -f");
        assert_eq!(
            error_lines(&out),
            ["Error: --force option must be specified to use the --time option"]
        );
        assert_eq!(ctx.status_of("busy"), "running");

        assert_eq!(ctx.run_ok(&["rm", "-f", "-t", "0", "busy"]), "busy\n");
        assert_eq!(ctx.ps_names(&["-a"]), ["keep"]);

        // With -t the container gets its stop signal first and that many
        // seconds to act on it; plain -f kills at once (docker's rm -f).
        let out_dir = ctx.make_dir("out");
        let mount = format!("{}:/out", out_dir.display());
        let graceful =
            "trap 'echo term > /out/$NAME; exit 0' TERM; echo ready; while :; do sleep 0.1; done";
        for (name, rm) in [
            ("patient", &["rm", "-f", "-t", "30"][..]),
            ("abrupt", &["rm", "-f"]),
        ] {
            let env = format!("NAME={name}");
            ctx.run_detached(&[
                "--name", name, "-e", &env, "-v", &mount, "busybox", "sh", "-c", graceful,
            ]);
            ctx.wait_for_log_lines(name, "ready", 1);
            let mut args = rm.to_vec();
            args.push(name);
            assert_eq!(ctx.run_ok(&args), format!("{name}\n"));
        }
        assert_eq!(
            std::fs::read_to_string(out_dir.join("patient")).unwrap_or_default(),
            "term\n",
            "rm -f -t 30 gives the stop signal first"
        );
        assert!(
            !out_dir.join("abrupt").exists(),
            "rm -f alone sends SIGKILL"
        );

        // --latest and --depend (no container joined it: just it).
        assert_eq!(ctx.run_ok(&["rm", "-f", "--depend", "--latest"]).len(), 65);
        assert!(ctx.all_short_ids().is_empty());
    });
}

#[test]
fn v06_a_missing_container_is_no_error_with_ignore_or_rm_force() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        ctx.run_ok(&["create", "--name", "there", "busybox", "true"]);
        for args in [
            &["rm", "--ignore", "nosuch"][..],
            &["stop", "-i", "nosuch"],
            // podman: `rm --force` of a container that is not there is
            // silent too.
            &["rm", "-f", "nosuch"],
        ] {
            let out = ctx.run_status(args);
            assert_exit_code(&out, 0, &args.join(" "));
            assert_eq!(stdout_of(&out), "", "{}", args.join(" "));
            assert!(error_lines(&out).is_empty(), "{}", stderr_of(&out));
        }
        // The others in the same command are still acted on.
        assert_eq!(ctx.run_ok(&["rm", "-i", "nosuch", "there"]), "there\n");
        let out = ctx.run_status(&["rm", "nosuch"]);
        assert_exit_code(&out, 1, "rm of a missing container");
    });
}

#[test]
fn v07_restart_all_running_leaves_stopped_containers_alone() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        let up = sleeper(ctx, "up", &[]);
        let mut create = vec!["create", "--name", "made"];
        create.extend_from_slice(&SLEEPER);
        ctx.run_ok(&create);
        ctx.run_detached(&["--name", "done", "busybox", "true"]);
        ctx.wait_for_status("done", "exited");
        let done_finished = ctx.inspect_format("done", "{{.State.FinishedAt}}");
        let up_started = ctx.inspect_format("up", "{{.State.StartedAt}}");

        let out = ctx.run_ok(&["restart", "--all", "--running", "-t", "0"]);
        assert_eq!(out, format!("{up}\n"));
        assert_eq!(ctx.status_of("up"), "running");
        assert_ne!(ctx.inspect_format("up", "{{.State.StartedAt}}"), up_started);
        assert_eq!(ctx.status_of("made"), "created");
        assert_eq!(ctx.status_of("done"), "exited");
        assert_eq!(
            ctx.inspect_format("done", "{{.State.FinishedAt}}"),
            done_finished
        );

        // Without --running, --all restarts every container.
        let out = ctx.run_ok(&["restart", "--all", "-t", "0"]);
        assert_eq!(nonempty_lines(&out).len(), 3, "{out}");
        assert_eq!(ctx.status_of("made"), "running");
    });
}

#[test]
fn v08_pause_all_and_unpause_all_act_on_every_running_container() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        let a = sleeper(ctx, "a", &["--label", "grp=x"]);
        let b = sleeper(ctx, "b", &[]);
        ctx.run_ok(&["create", "--name", "idle", "busybox", "true"]);
        if ctx.is_rootless() {
            // No cgroup for the test user here (see tests/cgroups.rs): each
            // running container is refused, by name of the freezer.
            let out = ctx.run_status(&["pause", "--all"]);
            assert_exit_code(&out, 125, "pause --all without cgroups");
            let errors = error_lines(&out);
            assert_eq!(errors.len(), 2, "{errors:?}");
            assert!(
                errors.iter().all(|e| e.contains("cgroup freezer")),
                "{errors:?}"
            );
            assert_eq!(ctx.status_of("a"), "running");
            assert_eq!(ctx.status_of("b"), "running");
            // Nothing is paused, so unpause --all has nothing to do.
            assert_eq!(ctx.run_ok(&["unpause", "--all"]), "");
            return;
        }
        let out = ctx.run_ok(&["pause", "--all"]);
        assert_eq!(sorted_lines(&out), sorted(vec![a.clone(), b.clone()]));
        assert_eq!(ctx.status_of("a"), "paused");
        assert_eq!(ctx.status_of("b"), "paused");
        assert_eq!(ctx.status_of("idle"), "created");

        assert_eq!(
            ctx.run_ok(&["unpause", "--filter", "label=grp=x"]),
            format!("{a}\n")
        );
        assert_eq!(ctx.status_of("a"), "running");
        assert_eq!(ctx.status_of("b"), "paused");

        let out = ctx.run_ok(&["unpause", "--all"]);
        assert_eq!(out, format!("{b}\n"));
        assert_eq!(ctx.status_of("b"), "running");
    });
}

#[test]
fn v09_start_chooses_by_filter_all_and_latest() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        for (name, label) in [
            ("w1", "grp=w"),
            ("w2", "grp=w"),
            ("o1", "grp=o"),
            ("o2", "grp=o"),
        ] {
            let mut args = vec!["create", "--name", name, "--label", label];
            args.extend_from_slice(&SLEEPER);
            ctx.run_ok(&args);
        }
        let out = ctx.run_ok(&["start", "--filter", "label=grp=w"]);
        assert_eq!(nonempty_lines(&out).len(), 2, "{out}");
        assert_eq!(ctx.ps_names(&[]).len(), 2);
        assert_eq!(ctx.status_of("o1"), "created");

        let o2 = ctx.inspect_format("o2", "{{.Id}}");
        assert_eq!(ctx.run_ok(&["start", "--latest"]), format!("{o2}\n"));
        assert_eq!(ctx.status_of("o1"), "created");

        let o1 = ctx.inspect_format("o1", "{{.Id}}");
        assert_eq!(ctx.run_ok(&["start", "--all"]), format!("{o1}\n"));
        assert_eq!(ctx.ps_names(&[]).len(), 4);

        // Attached, with signals not proxied: output and exit code as usual.
        ctx.run_ok(&[
            "create",
            "--name",
            "job",
            "busybox",
            "sh",
            "-c",
            "echo hi; exit 3",
        ]);
        let out = ctx.run_status(&["start", "-a", "--sig-proxy=false", "job"]);
        assert_exit_code(&out, 3, "start -a --sig-proxy=false");
        assert_eq!(stdout_of(&out), "hi\n");
    });
}

#[test]
fn v10_combinations_podman_refuses_are_refused_before_anything_changes() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        sleeper(ctx, "a", &[]);
        sleeper(ctx, "b", &[]);
        let cases: &[(&[&str], &str)] = &[
            (
                &["rm", "-f", "--all", "a"],
                "no arguments are needed with --all",
            ),
            (
                &["stop", "--all", "--latest"],
                "--all and --latest cannot be used together",
            ),
            (
                &["kill", "--latest", "a"],
                "--latest and containers cannot be used together",
            ),
            (
                &["kill", "--latest", "--cidfile", "/nonexistent"],
                "--all, --latest, and --cidfile cannot be used together",
            ),
            (
                &["pause", "--cidfile", "/nonexistent", "a"],
                "no arguments are needed with --latest or --cidfile",
            ),
            (
                &["restart", "--filter", "name=a", "a"],
                "--filter takes no arguments",
            ),
            (&["unpause"], "you must provide at least one name or id"),
            (
                &["stop", "--filter", "colour=red"],
                "invalid filter \"colour=red\"",
            ),
            (&["rm", "-t", "1", "a"], "--force option must be specified"),
            (
                &["start", "--sig-proxy", "a"],
                "you cannot use sig-proxy without --attach",
            ),
            (
                &["start", "-a", "a", "b"],
                "you cannot start and attach multiple containers",
            ),
            (
                &["start", "-a", "--all"],
                "you cannot start and attach all containers",
            ),
            // Flags podman does not have for the verb: the parser refuses.
            (&["kill", "--filter", "name=a"], "--filter"),
            (&["start", "--cidfile", "/nonexistent"], "--cidfile"),
        ];
        for (args, text) in cases {
            let out = ctx.run_status(args);
            let what = format!("skiff {}", args.join(" "));
            assert_exit_code(&out, 125, &what);
            assert_one_error_mentioning(&out, text, &what);
            assert_eq!(stdout_of(&out), "", "{what}");
        }
        assert_eq!(ctx.status_of("a"), "running");
        assert_eq!(ctx.status_of("b"), "running");
    });
}
