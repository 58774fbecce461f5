//! A container's files and processes from the outside: `cp` both ways
//! (running and stopped, tar streams, symlinks), `diff`, `export`, `top`,
//! `stats`, healthchecks, `commit`. Each test runs as root and rootless
//! (`pause` and cgroup-based `stats` are in `tests/cgroups.rs`).

mod common;

use std::fs;

use common::archives::*;
use common::containers::*;
use common::image_layout::{check_image_layout, tar_files};
use common::*;

/// Rows of an aligned table, cells cut at the header's column starts.
fn table_rows(output: &str, columns: &[&str]) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut lines = output.lines().filter(|l| !l.trim().is_empty());
    let header = lines.next().unwrap_or_default();
    let starts: Vec<usize> = columns
        .iter()
        .map(|c| {
            header
                .find(c)
                .unwrap_or_else(|| panic!("no {c} in {header:?}"))
        })
        .collect();
    lines
        .map(|line| {
            columns
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let end = starts
                        .get(i + 1)
                        .copied()
                        .unwrap_or(line.len())
                        .min(line.len());
                    let cell = line.get(starts[i].min(end)..end).unwrap_or_default();
                    (c.to_string(), cell.trim().to_string())
                })
                .collect()
        })
        .collect()
}

#[test]
fn f01_cp_copies_files_and_directories_out_of_a_running_container() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        let script = "mkdir -p /data/sub; echo hi > /data/sub/f; ln -s /etc/passwd /data/link; \
                      echo ready; sleep 30";
        ctx.run_detached(&["--name", "c", "busybox", "sh", "-c", script]);
        ctx.wait_for_log_lines("c", "ready", 1);
        let out = ctx.make_dir("out");
        ctx.run_ok(&["cp", "c:/data", out.to_str().unwrap()]);
        assert_eq!(fs::read_to_string(out.join("data/sub/f")).unwrap(), "hi\n");
        // A symlink is copied as a symlink, never followed to the host's file.
        assert_eq!(
            fs::read_link(out.join("data/link")).unwrap().to_str(),
            Some("/etc/passwd")
        );
        // A file to a new name.
        let renamed = out.join("renamed");
        ctx.run_ok(&["cp", "c:/data/sub/f", renamed.to_str().unwrap()]);
        assert_eq!(fs::read_to_string(&renamed).unwrap(), "hi\n");
        // `-` writes a tar stream.
        let tar = ctx.run_status(&["cp", "c:/data/sub/f", "-"]);
        assert_exit_code(&tar, 0, "cp to -");
        let names: Vec<String> = read_tar_entries(&tar.stdout)
            .iter()
            .map(|(h, _)| h.path().unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["f"]);
        // A missing path is one clear error.
        let missing = ctx.run_status(&["cp", "c:/nope", out.to_str().unwrap()]);
        assert_exit_code(&missing, 125, "cp of a missing path");
        assert_one_error_mentioning(&missing, "/nope", "cp of a missing path");
    });
}

#[test]
fn f02_cp_copies_into_running_and_stopped_containers() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        ctx.run_detached(&["--name", "c", "busybox", "sleep", "30"]);
        let host = ctx.write_file("h.txt", "from host\n");
        ctx.run_ok(&["cp", host.to_str().unwrap(), "c:/tmp/"]);
        assert_eq!(
            ctx.run_ok(&["exec", "c", "cat", "/tmp/h.txt"]),
            "from host\n"
        );
        // A file the container's root owns: rootless, that is the caller.
        assert_eq!(
            ctx.run_ok(&["exec", "c", "stat", "-c", "%u", "/tmp/h.txt"]),
            "0\n"
        );

        ctx.run_ok(&["stop", "-t", "0", "c"]);
        ctx.run_ok(&["cp", host.to_str().unwrap(), "c:/stopped.txt"]);
        let out = ctx.make_dir("back");
        let back = out.join("again.txt");
        ctx.run_ok(&["cp", "c:/stopped.txt", back.to_str().unwrap()]);
        assert_eq!(fs::read_to_string(back).unwrap(), "from host\n");
    });
}

#[test]
fn f03_cp_cannot_write_outside_the_container_through_its_symlinks() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        let target = ctx.make_dir("victim");
        let link_script = format!("ln -s {} /escape; sleep 30", target.display());
        ctx.run_detached(&["--name", "c", "busybox", "sh", "-c", &link_script]);
        wait_for("the symlink in the container", STATE_TIMEOUT, || {
            ctx.run_status(&["exec", "c", "test", "-L", "/escape"])
                .status
                .success()
        });
        let host = ctx.write_file("payload", "x");
        // Whatever skiff answers, the host directory stays untouched: the
        // link resolves inside the container's root.
        ctx.run_status(&["cp", host.to_str().unwrap(), "c:/escape/"]);
        assert!(
            fs::read_dir(&target).unwrap().next().is_none(),
            "cp wrote through a container symlink onto the host"
        );
    });
}

#[test]
fn f04_diff_lists_added_changed_and_deleted_paths() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        let script = "mkdir /newdir; echo x > /newdir/f; rm /bin/vi";
        ctx.run_ok(&["run", "--name", "d", "busybox", "sh", "-c", script]);
        let diff = ctx.run_ok(&["diff", "d"]);
        let lines: Vec<&str> = diff.lines().collect();
        for expected in ["A /newdir", "A /newdir/f", "D /bin/vi", "C /bin"] {
            assert!(lines.contains(&expected), "{expected} missing in:\n{diff}");
        }
        assert!(
            !diff.contains("/etc/hosts"),
            "skiff's own mount points are not changes:\n{diff}"
        );
    });
}

#[test]
fn f05_export_writes_the_filesystem_without_what_is_mounted_over_it() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        ctx.run_detached(&[
            "--name",
            "e",
            "busybox",
            "sh",
            "-c",
            "echo mark > /marker; sleep 30",
        ]);
        wait_for("the marker file", STATE_TIMEOUT, || {
            ctx.run_status(&["exec", "e", "test", "-f", "/marker"])
                .status
                .success()
        });
        let file = ctx.make_dir("x").join("e.tar");
        ctx.run_ok(&["export", "-o", file.to_str().unwrap(), "e"]);
        let entries = read_tar_entries(&fs::read(&file).unwrap());
        let names: Vec<String> = entries
            .iter()
            .map(|(h, _)| h.path().unwrap().display().to_string())
            .collect();
        assert!(names.iter().any(|n| n == "marker"), "{names:?}");
        assert!(names.iter().any(|n| n == "bin/busybox"), "{names:?}");
        assert!(
            !names.iter().any(|n| n.starts_with("proc/")),
            "/proc contents must not be exported"
        );
    });
}

#[test]
fn f06_top_lists_the_containers_processes_with_container_pids() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        ctx.run_detached(&["--name", "t", "busybox", "sh", "-c", "sleep 31 & sleep 32"]);
        wait_for("both sleeps", STATE_TIMEOUT, || {
            ctx.run_ok(&["top", "t"]).contains("sleep 31")
        });
        let top = ctx.run_ok(&["top", "t"]);
        let columns = [
            "USER", "PID", "PPID", "%CPU", "ELAPSED", "TTY", "TIME", "COMMAND",
        ];
        let rows = table_rows(&top, &columns);
        let pid1 = rows
            .iter()
            .find(|r| r["COMMAND"] == "sleep 32")
            .unwrap_or_else(|| panic!("no PID 1 row in:\n{top}"));
        assert_eq!(pid1["PID"], "1");
        assert_eq!(pid1["USER"], "root");
        assert!(rows.iter().any(|r| r["COMMAND"] == "sleep 31"), "{top}");

        // podman's descriptors pick the columns.
        let picked = ctx.run_ok(&["top", "t", "pid", "comm", "state", "hpid"]);
        let rows = table_rows(&picked, &["PID", "COMMAND", "STATE", "HPID"]);
        let pid1 = rows.iter().find(|r| r["PID"] == "1").expect(&picked);
        assert_eq!(
            (pid1["COMMAND"].as_str(), pid1["STATE"].as_str()),
            ("sleep", "S")
        );
        let host_pid = ctx.run_ok(&["inspect", "--format", "{{.State.Pid}}", "t"]);
        assert_eq!(pid1["HPID"], host_pid.trim());
        let listed = ctx.run_ok(&["top", "t", "-o", "pid,args"]);
        assert!(
            listed.starts_with("PID") && listed.contains("sleep 32"),
            "{listed}"
        );
        let out = ctx.run_status(&["top", "t", "bogus"]);
        assert_exit_code(&out, 125, "top with an unknown descriptor");
        assert_one_error_mentioning(&out, "unknown descriptor \"bogus\"", "top bogus");

        let stats = ctx.run_status(&["stats", "--no-stream", "t"]);
        assert_exit_code(&stats, 0, "stats --no-stream");
        let table = table_rows(&stdout_of(&stats), &["ID", "NAME", "CPU %", "PIDS"]);
        assert_eq!(table[0]["PIDS"], "2", "{}", stdout_of(&stats));
    });
}

#[test]
fn f07_a_healthcheck_turns_healthy_once_its_command_succeeds() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        ctx.run_detached(&[
            "--name",
            "h",
            "--health-cmd",
            "test -e /tmp/ok",
            "--health-interval",
            "200ms",
            "--health-retries",
            "1",
            "busybox",
            "sleep",
            "30",
        ]);
        wait_for("unhealthy", STATE_TIMEOUT, || {
            ctx.inspect_format("h", "{{.State.Health.Status}}") == "unhealthy"
        });
        let manual = ctx.run_status(&["healthcheck", "run", "h"]);
        assert_exit_code(&manual, 1, "healthcheck run while failing");
        ctx.run_ok(&["exec", "h", "touch", "/tmp/ok"]);
        wait_for("healthy", STATE_TIMEOUT, || {
            ctx.inspect_format("h", "{{.State.Health.Status}}") == "healthy"
        });
        let ps = ctx.run_ok(&["ps", "--format", "{{.Status}}"]);
        assert!(ps.contains("(healthy)"), "{ps}");
    });
}

#[test]
fn f09_commit_makes_an_image_of_the_containers_changes() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        let script = "echo made > /newfile; chown 1234:1234 /newfile; rm /bin/vi; \
                      mkdir /d; echo x > /d/y";
        ctx.run_ok(&["run", "--name", "c", "busybox", "sh", "-c", script]);
        let out = ctx.run_ok(&["commit", "-m", "my change", "c", "mine:1"]);
        assert!(
            is_hex(out.trim(), 64),
            "commit prints the image ID: {out:?}"
        );
        let check = "cat /newfile; stat -c %u /newfile; \
                     test -e /bin/vi && echo vi-present || echo vi-gone; cat /d/y";
        assert_eq!(
            ctx.run_ok(&["run", "--rm", "mine:1", "sh", "-c", check]),
            "made\n1234\nvi-gone\nx\n"
        );
        // The generated /etc files were mount points, not changes: the
        // committed layer (read from `save`, not through skiff) holds the
        // container's changes and none of them.
        let saved = ctx.work.join("mine.tar");
        ctx.run_ok(&["save", "-o", saved.to_str().unwrap(), "mine:1"]);
        let layers = check_image_layout(
            &tar_files(&fs::read(&saved).unwrap()),
            &["docker.io/library/mine:1"],
            true,
        );
        let committed = layers["docker.io/library/mine:1"]
            .last()
            .expect("the image has layers");
        let names: Vec<String> = read_tar_entries(committed)
            .iter()
            .map(|(h, _)| {
                let path = h.path().unwrap().to_string_lossy().into_owned();
                path.trim_start_matches("./")
                    .trim_end_matches('/')
                    .to_string()
            })
            .collect();
        for change in ["newfile", "d/y", "bin/.wh.vi"] {
            assert!(
                names.iter().any(|n| n == change),
                "the committed layer should hold {change}: {names:?}"
            );
        }
        for generated in ["etc/hostname", "etc/hosts", "etc/resolv.conf"] {
            assert!(
                !names.iter().any(|n| n == generated),
                "the committed layer holds the generated {generated}: {names:?}"
            );
        }
        let hostname = ctx.run_ok(&["run", "--rm", "mine:1", "cat", "/etc/hostname"]);
        let own_id = ctx.inspect_format("c", "{{.Id}}");
        assert_ne!(
            hostname.trim(),
            &own_id[..12],
            "a container of the image got the committed container's hostname"
        );
        // A container of the image still reports the base's layers intact.
        assert!(
            ctx.run_ok(&["images"]).contains("docker.io/library/mine"),
            "the new image is listed"
        );
    });
}

#[test]
fn f10_port_lists_no_mappings_for_a_container_without_published_ports() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        ctx.run_detached(&["--name", "np", "busybox", "sleep", "30"]);
        assert_eq!(ctx.run_ok(&["port", "np"]), "", "nothing is published");
        let out = ctx.run_status(&["port", "np", "80"]);
        assert_exit_code(&out, 125, "port np 80");
        assert_one_error_mentioning(&out, "failed to find published port \"80/tcp\"", "port 80");
        let out = ctx.run_status(&["port", "nosuch"]);
        assert_exit_code(&out, 125, "port of a missing container");
        assert_one_error_mentioning(&out, "nosuch", "port nosuch");
    });
}
