//! What a container sees of its volumes: two live containers sharing one,
//! read-only mounts, docker's copy-up of the image's content into a new
//! volume, `--volumes-from`, `inspect .Mounts`, and the mount specs that
//! are refused before anything is created. Each story runs as root and
//! rootless.

mod common;

use std::fs;

use common::containers::*;
use common::*;

fn mounts_of(ctx: &Ctx, container: &str) -> Vec<serde_json::Value> {
    let json = ctx.inspect_format(container, "{{json .Mounts}}");
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"))
}

#[test]
fn two_running_containers_share_a_volume() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        // The watcher appends a line once /s/go appears; the reader makes
        // it appear and must then see the line, both running throughout.
        ctx.run_detached(&[
            "--name",
            "watcher",
            "-v",
            "shared:/s",
            "busybox",
            "sh",
            "-c",
            "echo ready; until [ -e /s/go ]; do sleep 0.05; done; \
             echo from-watcher >> /s/log; echo wrote; exec sleep 1000",
        ]);
        ctx.run_detached(&[
            "--name",
            "reader",
            "-v",
            "shared:/s",
            "busybox",
            "sleep",
            "1000",
        ]);
        ctx.wait_for_log_lines("watcher", "ready", 1);
        assert_eq!(
            ctx.run_ok(&[
                "exec",
                "reader",
                "sh",
                "-c",
                "test -e /s/log || echo no-log"
            ]),
            "no-log\n"
        );
        ctx.run_ok(&["exec", "reader", "touch", "/s/go"]);
        wait_for(
            "the reader to see the watcher's line in /s/log",
            STATE_TIMEOUT,
            || {
                let out = ctx.run_status(&["exec", "reader", "cat", "/s/log"]);
                out.status.success() && stdout_of(&out) == "from-watcher\n"
            },
        );
        assert_eq!(ctx.status_of("watcher"), "running");
        assert_eq!(ctx.status_of("reader"), "running");
    });
}

#[test]
fn read_only_volumes_refuse_writes() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let host = ctx.make_dir("host");
        let bind = format!("type=bind,source={},target=/d,readonly", host.display());
        for mount in [
            vec!["-v", "rovol:/d:ro"],
            vec!["--mount", "type=volume,source=rovol,target=/d,readonly"],
            vec!["--mount", "source=rovol,target=/d,ro=true"],
            vec!["--mount", bind.as_str()],
        ] {
            let mut args = vec!["run", "--rm"];
            args.extend(&mount);
            args.extend(["busybox", "touch", "/d/f"]);
            let out = ctx.run_status(&args);
            assert_exit_code(&out, 1, &format!("touch in a {mount:?} mount"));
            assert!(
                stderr_of(&out).contains("touch: /d/f: Read-only file system"),
                "{mount:?}: {}",
                stderr_of(&out)
            );
        }
        assert!(!host.join("f").exists());
        // Read-write again: the volume is empty (nothing got through) and
        // writable.
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "-v",
            "rovol:/d:rw",
            "busybox",
            "sh",
            "-c",
            "ls -A /d; touch /d/f && echo written",
        ]);
        assert_eq!(out, "written\n");
    });
}

#[test]
fn a_new_volume_gets_the_images_content_once() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        // The image has /home/tester (uid 1000, 0755) holding `owned`
        // (uid 1000, 0644).
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "-v",
            "newvol:/home/tester",
            "busybox",
            "ls",
            "-lnA",
            "/home/tester",
        ]);
        let owned: Vec<&str> = out
            .lines()
            .find(|l| l.ends_with(" owned"))
            .unwrap_or_else(|| panic!("owned was not copied into the volume: {out}"))
            .split_whitespace()
            .collect();
        assert_eq!(
            (owned[0], owned[2], owned[3]),
            ("-rw-r--r--", "1000", "1000"),
            "{out}"
        );
        // It is in the volume, not in that container's upper layer.
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "-v",
            "newvol:/v",
            "busybox",
            "sh",
            "-c",
            "stat -c '%u:%g %a' /v /v/owned && cat /v/owned && echo changed > /v/owned",
        ]);
        assert_eq!(out, "1000:1000 755\n1000:1000 644\nowned by tester\n");
        // A volume with data is not overwritten by the image's content.
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "-v",
            "newvol:/home/tester",
            "busybox",
            "cat",
            "/home/tester/owned",
        ]);
        assert_eq!(out, "changed\n");
        ctx.run_ok(&[
            "run", "--rm", "-v", "mine:/v", "busybox", "touch", "/v/mine",
        ]);
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "-v",
            "mine:/home/tester",
            "busybox",
            "ls",
            "-A",
            "/home/tester",
        ]);
        assert_eq!(out, "mine\n", "an existing volume's content stays as it is");

        // nocopy: the volume stays empty.
        for mount in [
            vec!["-v", "empty1:/home/tester:nocopy"],
            vec![
                "--mount",
                "type=volume,source=empty2,target=/home/tester,volume-nocopy",
            ],
        ] {
            let mut args = vec!["run", "--rm"];
            args.extend(&mount);
            args.extend(["busybox", "ls", "-A", "/home/tester"]);
            assert_eq!(ctx.run_ok(&args), "", "{mount:?}");
        }
    });
}

#[test]
fn volumes_from_shares_volumes_and_binds() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        let host = ctx.make_dir("host");
        let bind = format!("{}:/bind", host.display());
        ctx.run_ok(&[
            "run",
            "--name",
            "db",
            "-v",
            "dbdata:/data",
            "-v",
            &bind,
            "-v",
            "/anon",
            "busybox",
            "sh",
            "-c",
            "echo db > /data/f; echo b > /bind/g; echo a > /anon/h",
        ]);
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "--volumes-from",
            "db",
            "busybox",
            "sh",
            "-c",
            "cat /data/f /bind/g /anon/h; echo more >> /data/f",
        ]);
        assert_eq!(out, "db\nb\na\n");
        assert_eq!(fs::read_to_string(host.join("g")).unwrap(), "b\n");

        let out = ctx.run_ok(&[
            "run", "--rm", "--volumes-from", "db:ro", "busybox", "sh", "-c",
            "cat /data/f; for d in /data /bind /anon; do touch $d/x 2>/dev/null && echo $d writable; done; true",
        ]);
        assert_eq!(
            out, "db\nmore\n",
            "--volumes-from db:ro must make every mount read-only"
        );
        assert!(!host.join("x").exists());

        // A container's own mount on the same target wins.
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "--volumes-from",
            "db",
            "-v",
            "other:/data",
            "busybox",
            "ls",
            "-A",
            "/data",
        ]);
        assert_eq!(out, "");
    });
}

#[test]
fn inspect_shows_each_kind_of_mount() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        let host = ctx.make_dir("host");
        let bind = format!("{}:/b", host.display());
        ctx.run_ok(&[
            "create",
            "--name",
            "m",
            "-v",
            "named:/v:ro",
            "-v",
            &bind,
            "--tmpfs",
            "/t:size=1m",
            "busybox",
            "true",
        ]);
        let mounts = mounts_of(ctx, "m");
        assert_eq!(mounts.len(), 3, "{mounts:?}");
        let at = |destination: &str| {
            mounts
                .iter()
                .find(|m| m["Destination"] == destination)
                .unwrap_or_else(|| panic!("no mount at {destination}: {mounts:?}"))
        };
        let mountpoint = ctx.run_ok(&["volume", "inspect", "--format", "{{.Mountpoint}}", "named"]);
        let volume = at("/v");
        assert_eq!(volume["Type"], "volume");
        assert_eq!(volume["Name"], "named");
        assert_eq!(volume["Source"], mountpoint.trim());
        assert_eq!(volume["Driver"], "local");
        assert_eq!(volume["Mode"], "ro");
        assert_eq!(volume["RW"], false);

        let bind = at("/b");
        assert_eq!(bind["Type"], "bind");
        assert_eq!(bind["Source"], host.to_str().unwrap());
        assert_eq!(bind["RW"], true);
        assert_eq!(bind["Propagation"], "rprivate");

        let tmpfs = at("/t");
        assert_eq!(tmpfs["Type"], "tmpfs");
        assert_eq!(tmpfs["RW"], true);
    });
}

#[test]
fn invalid_mounts_are_refused_before_anything_is_created() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        ctx.run_ok(&[
            "create",
            "--name",
            "before",
            "-v",
            "existing:/e",
            "busybox",
            "true",
        ]);
        let containers = ctx.all_short_ids();
        let volumes = ctx.run_ok(&["volume", "ls", "-q"]);
        let host = ctx.work.join("never-made");
        let host_bind = format!("{}:/d", host.display());
        let shared_bind = format!(
            "type=bind,source={},target=/d,bind-propagation=shared",
            ctx.work.display()
        );

        // (arguments before the image, what the error must name)
        let cases: &[(&[&str], &str)] = &[
            (&["-v", "vol1:/d:bogus"], "unknown option \"bogus\""),
            (
                &["--mount", "type=volume,source=vol1,target=/d,colour=red"],
                "unknown key \"colour\"",
            ),
            (
                &["--mount", "type=bind,source=rel/dir,target=/d"],
                "\"rel/dir\" must be an absolute",
            ),
            (
                &["-v", "vol1:relative"],
                "\"relative\" must be an absolute path",
            ),
            (
                &["--mount", "type=volume,source=vol1"],
                "target is required",
            ),
            (
                &["-v", "vol1:/d", "-v", "vol2:/d/"],
                "duplicate mount destination",
            ),
            (
                &["-v", "vol1:/d", "-v", host_bind.as_str()],
                "duplicate mount destination",
            ),
            (&["-v", "vol1:/d:O"], ":O"),
            (
                &["--mount", shared_bind.as_str()],
                "\"shared\" is not supported",
            ),
            (
                &[
                    "--mount",
                    "type=volume,source=vol1,target=/d,volume-opt=type=nfs",
                ],
                "\"nfs\"",
            ),
            (
                &[
                    "-v",
                    "vol1:/a",
                    "--mount",
                    "type=volume,source=vol2,target=/d,volume-opt=o=bind",
                ],
                "device",
            ),
            (&["--tmpfs", "relative"], "\"relative\""),
            (
                &["--mount", "type=tmpfs,target=/d,tmpfs-size=huge"],
                "\"huge\"",
            ),
            (&["-v", "vol1:/d", "--volumes-from", "nosuch"], "nosuch"),
        ];
        for verb in ["run", "create"] {
            for (flags, subject) in cases {
                let mut args = vec![verb, "--rm"];
                if verb == "create" {
                    args.pop();
                }
                args.extend_from_slice(flags);
                args.extend(["busybox", "true"]);
                let what = format!("skiff {}", args.join(" "));
                let out = ctx.run_status(&args);
                assert_exit_code(&out, 125, &what);
                assert_one_error_mentioning(&out, subject, &what);
                assert_eq!(
                    stderr_of(&out).lines().count(),
                    1,
                    "{what}: {}",
                    stderr_of(&out)
                );
                assert_eq!(stdout_of(&out), "", "{what}");
                assert_eq!(ctx.all_short_ids(), containers, "{what} left a container");
                assert_eq!(
                    ctx.run_ok(&["volume", "ls", "-q"]),
                    volumes,
                    "{what} left a volume"
                );
                assert!(
                    !host.exists(),
                    "{what} made the bind source {}",
                    host.display()
                );
            }
        }

        for (args, subject) in [
            (
                vec!["volume", "create", "--opt", "colour=red", "vol1"],
                "\"colour\"",
            ),
            (
                vec!["volume", "create", "--opt", "type=nfs", "vol1"],
                "\"nfs\"",
            ),
            (vec!["volume", "create", "bad/name"], "bad/name"),
            (
                vec!["volume", "create", "--driver", "nfs", "vol1"],
                "\"nfs\"",
            ),
            (vec!["volume", "ls", "--filter", "size=1"], "size=1"),
        ] {
            let what = format!("skiff {}", args.join(" "));
            let out = ctx.run_status(&args);
            assert_exit_code(&out, 125, &what);
            assert_one_error_mentioning(&out, subject, &what);
            assert_eq!(
                ctx.run_ok(&["volume", "ls", "-q"]),
                volumes,
                "{what} left a volume"
            );
        }
    });
}
