//! Finding containers: `run -d` and `ps` (quiet, all, filters, format,
//! last), generated names, ID prefixes, unknown names, `--cidfile`. One
//! numbered user story per test, each run as root and rootless.
//!
//! Containers that must react to a signal first install a trap, then print
//! `ready`; the test waits for that line in `logs` before it signals. Every
//! wait has a deadline; nothing sleeps and hopes.

mod common;

use std::collections::BTreeSet;
use std::fs;

use common::containers::*;
use common::*;

// --- run -d and ps -------------------------------------------------------------

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

// --- names, IDs and prefixes ---------------------------------------------------

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
            // podman's `rm --force` of a missing container is silent too.
            &["rm", "-f", "nosuch"],
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
