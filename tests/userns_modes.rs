//! `--userns keep-id|nomap|auto` and `--uidmap`/`--gidmap`: the mapping a
//! container gets (read from /proc, expected values computed from
//! /etc/subuid), the image's files keeping their owners through it (the
//! store's layers re-owned in a cached copy) and the values refused
//! (`userns_verbs.rs`: the verbs that read such containers' files back).
//! keep-id and nomap exist only rootless (as in podman): root stories
//! check the refusal; auto and --uidmap run as both.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;

use common::id_maps::*;
use common::*;

#[test]
fn keep_id_runs_as_the_caller_over_the_images_own_owners() {
    for_users(&[User::Rootless], |ctx| {
        ctx.load_busybox();
        let shared = ctx.make_dir("shared");
        ctx.write_file("shared/mine", "x");
        let volume = format!("{}:/shared", shared.display());
        let script = "id -u; id -g; stat -c %u /shared/mine; touch /shared/made; \
                      stat -c %u:%g /etc/passwd; test -x /bin/busybox && echo exec-ok";
        let out = ctx.run_ok(&[
            "run", "--rm", "--userns", "keep-id", "-v", &volume, "busybox", "sh", "-c", script,
        ]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines,
            [
                ctx.uid.to_string().as_str(),
                ctx.gid.to_string().as_str(),
                ctx.uid.to_string().as_str(),
                "0:0",
                "exec-ok"
            ],
            "{out}"
        );
        let made = fs::metadata(shared.join("made")).unwrap();
        assert_eq!((made.uid(), made.gid()), (ctx.uid, ctx.gid));

        // uid=/gid= put the caller elsewhere; --user still wins.
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "--userns",
            "keep-id:uid=200,gid=300",
            "-v",
            &volume,
            "busybox",
            "sh",
            "-c",
            "id -u; id -g; stat -c %u:%g /shared/mine",
        ]);
        assert_eq!(out.lines().collect::<Vec<_>>(), ["200", "300", "200:300"]);
        let out = ctx.run_ok(&[
            "run", "--rm", "--userns", "keep-id", "--user", "0", "busybox", "id", "-u",
        ]);
        assert_eq!(out.trim(), "0");
    });
}

#[test]
fn nomap_leaves_the_caller_out_of_the_namespace() {
    for_users(&[User::Rootless], |ctx| {
        ctx.load_busybox();
        let (start, count) = subordinate(ctx, "/etc/subuid");
        let (gstart, gcount) = subordinate(ctx, "/etc/subgid");
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "--userns",
            "nomap",
            "busybox",
            "sh",
            "-c",
            "cat /proc/self/uid_map; echo --; cat /proc/self/gid_map; echo --; \
             id -u; stat -c %u:%g /etc/passwd",
        ]);
        let parts: Vec<&str> = out.split("--\n").collect();
        let uid_map = map_lines(parts[0]);
        assert_eq!(uid_map, [(0, start, count)], "{out}");
        assert!(
            uid_map
                .iter()
                .all(|&(_, h, s)| !(h..h + s).contains(&ctx.uid)),
            "the caller's uid is mapped: {out}"
        );
        assert_eq!(map_lines(parts[1]), [(0, gstart, gcount)], "{out}");
        assert_eq!(parts[2].lines().collect::<Vec<_>>(), ["0", "0:0"], "{out}");
    });
}

#[test]
fn uidmap_as_root_maps_host_ids() {
    for_users(&[User::Root], |ctx| {
        ctx.load_busybox();
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "--uidmap",
            "0:300000:2000",
            "--gidmap",
            "0:400000:2000",
            "busybox",
            "sh",
            "-c",
            "cat /proc/self/uid_map /proc/self/gid_map; stat -c %u:%g /etc/passwd; touch /new",
        ]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            map_lines(&lines[..2].join("\n")),
            [(0, 300000, 2000), (0, 400000, 2000)],
            "{out}"
        );
        assert_eq!(lines[2], "0:0");
        // The layer copy is owned by the mapped root on the host.
        let copies = idmapped_copies(ctx);
        assert!(!copies.is_empty());
        let meta = fs::metadata(copies[0].join("etc/passwd"))
            .or_else(|_| fs::metadata(copies[copies.len() - 1].join("etc/passwd")))
            .unwrap();
        assert_eq!((meta.uid(), meta.gid()), (300000, 400000));
    });
}

#[test]
fn uidmap_maps_what_it_says_relative_to_the_callers_namespace() {
    for_users(&[User::Rootless], |ctx| {
        ctx.load_busybox();
        let (start, _) = subordinate(ctx, "/etc/subuid");
        let (gstart, _) = subordinate(ctx, "/etc/subgid");
        // HOST 1 is the first subordinate ID; without --gidmap groups map
        // the same way.
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "--uidmap",
            "0:1:1000",
            "--uidmap",
            "1000:0:1",
            "busybox",
            "sh",
            "-c",
            "cat /proc/self/uid_map; echo --; cat /proc/self/gid_map; echo --; \
             stat -c %u:%g /etc/passwd",
        ]);
        let parts: Vec<&str> = out.split("--\n").collect();
        let mut uid_map = map_lines(parts[0]);
        uid_map.sort();
        assert_eq!(uid_map, [(0, start, 1000), (1000, ctx.uid, 1)], "{out}");
        let mut gid_map = map_lines(parts[1]);
        gid_map.sort();
        assert_eq!(gid_map, [(0, gstart, 1000), (1000, ctx.gid, 1)], "{out}");
        assert_eq!(parts[2].trim(), "0:0");

        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "--uidmap",
            "0:10:100",
            "--gidmap",
            "0:20:50",
            "busybox",
            "sh",
            "-c",
            "cat /proc/self/uid_map; cat /proc/self/gid_map",
        ]);
        assert_eq!(
            map_lines(&out),
            [(0, start + 9, 100), (0, gstart + 19, 50)],
            "{out}"
        );
    });
}

/// The host's view of a running container's uid_map.
fn host_uid_map(ctx: &Ctx, name: &str) -> Vec<(u32, u32, u32)> {
    let pid = inspect_field(ctx, name, "{{.State.Pid}}");
    map_lines(&fs::read_to_string(format!("/proc/{pid}/uid_map")).unwrap())
}

#[test]
fn auto_gives_each_container_its_own_range() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        // Rootless: the caller's subordinate range; root: the containers
        // user's, else the range skiff reserves (DESIGN.md).
        let (start, count) = if ctx.is_rootless() {
            subordinate(ctx, "/etc/subuid")
        } else {
            root_auto_pool()
        };
        ctx.run_ok(&[
            "run", "-d", "--name", "a1", "--userns", "auto", "busybox", "sleep", "600",
        ]);
        ctx.run_ok(&[
            "run",
            "-d",
            "--name",
            "a2",
            "--userns",
            "auto:size=500",
            "busybox",
            "sleep",
            "600",
        ]);
        let (m1, m2) = (host_uid_map(ctx, "a1"), host_uid_map(ctx, "a2"));
        assert_eq!(m1.len(), 1, "{m1:?}");
        assert_eq!(m2.len(), 1, "{m2:?}");
        let ((c1, h1, s1), (c2, h2, s2)) = (m1[0], m2[0]);
        assert_eq!((c1, s1, c2, s2), (0, 1024, 0, 500));
        for h in [h1, h2] {
            assert!(
                h >= start && h < start + count,
                "{h} outside the subuid range"
            );
        }
        assert!(
            h1 + s1 <= h2 || h2 + s2 <= h1,
            "overlapping ranges {m1:?} {m2:?}"
        );
        assert_eq!(
            inspect_field(ctx, "a1", "{{.HostConfig.UsernsMode}}"),
            "auto"
        );
        // The image's files are owned by the container's root.
        let out = ctx.run_ok(&["exec", "a2", "stat", "-c", "%u:%g", "/etc/passwd"]);
        assert_eq!(out.trim(), "0:0");

        // A range is free again once its container is gone.
        ctx.run_ok(&["rm", "-f", "a1"]);
        ctx.run_ok(&[
            "run", "-d", "--name", "a3", "--userns", "auto", "busybox", "sleep", "600",
        ]);
        assert_eq!(host_uid_map(ctx, "a3"), m1);
        ctx.run_ok(&["rm", "-f", "a2", "a3"]);
    });
}

#[test]
fn the_reowned_layers_are_made_once_and_go_with_the_image() {
    for_users(&[User::Rootless], |ctx| {
        ctx.load_busybox();
        assert!(idmapped_copies(ctx).is_empty());
        // Two creates racing to make the same copy: both succeed, one
        // copy stays, no temp directory is left.
        let racers: Vec<Running> = (0..2)
            .map(|_| ctx.start(ctx.skiff(&["create", "--userns", "keep-id", "busybox"])))
            .collect();
        for racer in racers {
            assert_success(&racer.wait(COMMAND_TIMEOUT), "racing create");
        }
        assert_eq!(fs::read_dir(ctx.root.join("tmp")).unwrap().count(), 0);
        let layers = fs::read_dir(ctx.root.join("layers")).unwrap().count();
        assert_eq!(idmapped_copies(ctx).len(), layers);
        ctx.run_ok(&["rm", "-a"]);
        ctx.run_ok(&["run", "--rm", "--userns", "keep-id", "busybox", "true"]);
        let first = idmapped_copies(ctx);
        assert!(!first.is_empty(), "no copy was made");
        let inode = fs::metadata(&first[0]).unwrap().ino();
        ctx.run_ok(&["run", "--rm", "--userns", "keep-id", "busybox", "true"]);
        assert_eq!(idmapped_copies(ctx), first, "a second copy was made");
        assert_eq!(
            fs::metadata(&first[0]).unwrap().ino(),
            inode,
            "the copy was remade"
        );
        // The default mapping uses the store's layers.
        ctx.run_ok(&["run", "--rm", "busybox", "true"]);
        assert_eq!(idmapped_copies(ctx), first);

        ctx.run_ok(&["rmi", "busybox"]);
        assert!(
            idmapped_copies(ctx).is_empty(),
            "{:?}",
            idmapped_copies(ctx)
        );
    });
}

#[test]
fn keep_id_and_nomap_are_refused_as_root() {
    for_users(&[User::Root], |ctx| {
        ctx.load_busybox();
        for (mode, text) in [
            ("keep-id", "keep-id is only supported in rootless mode"),
            ("nomap", "nomap is only supported in rootless mode"),
        ] {
            let out = ctx.run_status(&["run", "--rm", "--userns", mode, "busybox", "true"]);
            assert_exit_code(&out, 125, mode);
            assert_one_error_mentioning(&out, text, mode);
        }
        assert_eq!(ctx.run_ok(&["ps", "-aq"]).trim(), "");
    });
}

#[test]
fn bad_values_are_one_line_errors_and_create_nothing() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        for (args, subject) in [
            (&["--userns", "keep-id:uid=x"][..], "keep-id"),
            (&["--userns", "keep-id:size=3"], "keep-id"),
            (&["--userns", "bogus"], "bogus"),
            (&["--userns", "auto:size=0"], "size"),
            (&["--userns", "auto:color=red"], "color=red"),
            (&["--uidmap", "0:1"], "0:1"),
            (&["--uidmap", "0:1:0"], "0:1:0"),
            (&["--uidmap", "a:1:2"], "a"),
            (&["--uidmap", "0:1:10", "--uidmap", "5:100:10"], "overlaps"),
            (&["--gidmap", "0:1:10"], "--uidmap"),
            (&["--userns", "auto", "--uidmap", "0:1:10"], "--uidmap"),
        ] {
            let mut full = vec!["create"];
            full.extend_from_slice(args);
            full.push("busybox");
            let out = ctx.run_status(&full);
            assert_exit_code(&out, 125, &format!("{args:?}"));
            assert_one_error_mentioning(&out, subject, &format!("{args:?}"));
        }
        if ctx.is_rootless() {
            // More IDs than the caller has.
            let out = ctx.run_status(&["create", "--uidmap", "0:1:70000", "busybox"]);
            assert_exit_code(&out, 125, "--uidmap too large");
            assert_one_error_mentioning(&out, "--uidmap", "--uidmap too large");
        }
        assert_eq!(ctx.run_ok(&["ps", "-aq"]).trim(), "");
        assert!(idmapped_copies(ctx).is_empty());
    });
}

#[test]
fn keep_id_names_the_caller_in_passwd_and_group() {
    for_users(&[User::Rootless], |ctx| {
        ctx.load_busybox();
        let me = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(ctx.uid))
            .unwrap()
            .expect("the test user has a passwd entry");
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "--userns",
            "keep-id",
            "busybox",
            "sh",
            "-c",
            "whoami; id -gn; echo $HOME; grep -c . /etc/passwd; stat -c %u:%g /etc/passwd",
        ]);
        let image_entries = ctx
            .run_ok(&["run", "--rm", "busybox", "grep", "-c", ".", "/etc/passwd"])
            .trim()
            .parse::<usize>()
            .unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines,
            [
                me.name.as_str(),
                me.name.as_str(),
                me.dir.to_str().unwrap(),
                (image_entries + 1).to_string().as_str(),
                "0:0",
            ],
            "{out}"
        );
        // An ID the image already names keeps the image's entry.
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "--userns",
            "keep-id:uid=0,gid=0",
            "busybox",
            "whoami",
        ]);
        assert_eq!(out.trim(), "root");
        // The entry is the container's view, not a change to its layer.
        ctx.run_ok(&[
            "run", "--name", "k", "--userns", "keep-id", "busybox", "true",
        ]);
        let diff = ctx.run_ok(&["diff", "k"]);
        assert!(!diff.contains("/etc/passwd"), "{diff}");
    });
}
