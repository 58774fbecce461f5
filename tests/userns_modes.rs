//! `--userns keep-id|nomap|auto` and `--uidmap`/`--gidmap`: the mapping a
//! container gets (read from /proc, expected values computed from
//! /etc/subuid), the image's files keeping their owners through it (the
//! store's layers re-owned in a cached copy), the verbs that read a
//! container's files back, and the values refused. keep-id and nomap
//! exist only rootless (as in podman): root stories check the refusal;
//! auto and --uidmap run as both.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use common::archives::read_tar_entries;
use common::*;

/// The test user's first subordinate range in `file` (/etc/subuid or
/// /etc/subgid): (start, count).
fn subordinate(ctx: &Ctx, file: &str) -> (u32, u32) {
    let text = fs::read_to_string(file).unwrap();
    text.lines()
        .find_map(|line| {
            let f: Vec<&str> = line.trim().split(':').collect();
            (f.len() == 3 && (f[0] == TEST_USER || f[0] == ctx.uid.to_string()))
                .then(|| (f[1].parse().unwrap(), f[2].parse().unwrap()))
        })
        .unwrap_or_else(|| panic!("no {file} entry for {TEST_USER}"))
}

/// Root's pool for `--userns auto`: the `containers` user's subordinate
/// uids, else 2^31 + 2^30 IDs.
fn root_auto_pool() -> (u32, u32) {
    let text = fs::read_to_string("/etc/subuid").unwrap_or_default();
    text.lines()
        .find_map(|line| {
            let f: Vec<&str> = line.trim().split(':').collect();
            (f.len() == 3 && f[0] == "containers")
                .then(|| (f[1].parse().unwrap(), f[2].parse().unwrap()))
        })
        .unwrap_or((1 << 31, 1 << 30))
}

/// The lines of a uid_map as (container, host, size).
fn map_lines(text: &str) -> Vec<(u32, u32, u32)> {
    text.lines()
        .map(|l| {
            let f: Vec<u32> = l.split_whitespace().map(|n| n.parse().unwrap()).collect();
            (f[0], f[1], f[2])
        })
        .collect()
}

/// Every layer copy the store holds for other mappings.
fn idmapped_copies(ctx: &Ctx) -> Vec<PathBuf> {
    let Ok(mappings) = fs::read_dir(ctx.root.join("idmapped")) else {
        return Vec::new();
    };
    let mut copies: Vec<PathBuf> = mappings
        .flatten()
        .flat_map(|m| fs::read_dir(m.path()).into_iter().flatten().flatten())
        .map(|e| e.path())
        .collect();
    copies.sort();
    copies
}

fn inspect_field(ctx: &Ctx, name: &str, template: &str) -> String {
    ctx.run_ok(&["inspect", "--format", template, name])
        .trim()
        .to_string()
}

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
fn a_keep_id_containers_files_come_back_with_the_owners_it_gave_them() {
    for_users(&[User::Rootless], |ctx| {
        ctx.load_busybox();
        let ids = format!("{}:{}", ctx.uid, ctx.gid);
        ctx.run_ok(&[
            "run",
            "--name",
            "k",
            "--userns",
            "keep-id",
            "--user",
            "0",
            "busybox",
            "sh",
            "-c",
            &format!("touch /rootfile /userfile && chown {ids} /userfile"),
        ]);
        assert_eq!(
            inspect_field(ctx, "k", "{{.HostConfig.UsernsMode}}"),
            "keep-id"
        );
        let diff = ctx.run_ok(&["diff", "k"]);
        assert!(
            diff.contains("A /rootfile") && diff.contains("A /userfile"),
            "{diff}"
        );

        // commit: the new image has the container's owners, the image's
        // own files keep theirs, under the default mapping.
        ctx.run_ok(&["commit", "k", "committed"]);
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "committed",
            "stat",
            "-c",
            "%u:%g %n",
            "/rootfile",
            "/userfile",
            "/etc/passwd",
        ]);
        assert_eq!(
            out.lines().collect::<Vec<_>>(),
            [
                "0:0 /rootfile",
                &format!("{ids} /userfile"),
                "0:0 /etc/passwd"
            ]
        );

        // export: the same owners in the tar.
        let tar = ctx.make_dir("x").join("k.tar");
        ctx.run_ok(&["export", "-o", tar.to_str().unwrap(), "k"]);
        let owners: Vec<(String, u64, u64)> = read_tar_entries(&fs::read(&tar).unwrap())
            .iter()
            .map(|(h, _)| {
                (
                    h.path().unwrap().display().to_string(),
                    h.uid().unwrap(),
                    h.gid().unwrap(),
                )
            })
            .filter(|(p, _, _)| ["rootfile", "userfile", "etc/passwd"].contains(&p.as_str()))
            .collect();
        let (u, g) = (u64::from(ctx.uid), u64::from(ctx.gid));
        assert_eq!(owners.len(), 3, "{owners:?}");
        for (path, uid, gid) in owners {
            let expected = if path == "userfile" { (u, g) } else { (0, 0) };
            assert_eq!((uid, gid), expected, "{path}");
        }

        // cp out of the stopped container, a restart, and exec into it.
        let copied = ctx.work.join("passwd");
        ctx.run_ok(&["cp", "k:/etc/passwd", copied.to_str().unwrap()]);
        assert!(fs::read_to_string(&copied).unwrap().starts_with("root:"));
        ctx.run_ok(&["rm", "k"]);
        ctx.run_ok(&[
            "run", "-d", "--name", "e", "--userns", "keep-id", "busybox", "sleep", "600",
        ]);
        let out = ctx.run_ok(&["exec", "e", "sh", "-c", "id -u; stat -c %u /etc/passwd"]);
        assert_eq!(
            out.lines().collect::<Vec<_>>(),
            [ctx.uid.to_string().as_str(), "0"]
        );
        ctx.run_ok(&["restart", "e"]);
        let out = ctx.run_ok(&["exec", "e", "id", "-u"]);
        assert_eq!(out.trim(), ctx.uid.to_string());
        ctx.run_ok(&["rm", "-f", "e"]);
        assert_eq!(ctx.run_ok(&["ps", "-aq"]).trim(), "");
    });
}

#[test]
fn nomap_and_auto_containers_clean_up_and_take_volumes() {
    for_users(&[User::Rootless], |ctx| {
        ctx.load_busybox();
        let fresh = image_bytes(ctx);
        for mode in ["nomap", "auto"] {
            // A named volume gets the image's /etc (copy-up by the
            // container's root), owned as the container sees it.
            let out = ctx.run_ok(&[
                "run",
                "--rm",
                "--userns",
                mode,
                "-v",
                &format!("vol-{mode}:/etc"),
                "busybox",
                "sh",
                "-c",
                "stat -c %u:%g /etc/passwd; touch /etc/new && echo written",
            ]);
            assert_eq!(
                out.lines().collect::<Vec<_>>(),
                ["0:0", "written"],
                "{mode}"
            );
        }
        // --rm removed them, files of subordinate owners included.
        assert_eq!(ctx.run_ok(&["ps", "-aq"]).trim(), "");
        let left: Vec<_> = fs::read_dir(ctx.root.join("containers"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.len() == 64)
            .collect();
        assert!(left.is_empty(), "{left:?}");
        // system df counts the copies with the image: one per mapping.
        assert_eq!(idmapped_copies(ctx).len(), 2, "{:?}", idmapped_copies(ctx));
        let with_copies = image_bytes(ctx);
        assert!(
            with_copies > 2 * fresh,
            "{with_copies} bytes with two copies, {fresh} without"
        );
    });
}

/// `system df`'s image size in bytes.
fn image_bytes(ctx: &Ctx) -> u64 {
    ctx.run_ok(&["system", "df", "--format", "{{.RawSize}}"])
        .lines()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn an_auto_containers_commit_keeps_the_owners_it_sees() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        ctx.run_ok(&[
            "run",
            "--name",
            "c",
            "--userns",
            "auto",
            "busybox",
            "sh",
            "-c",
            "touch /f && mkdir /d && chown 5:6 /d",
        ]);
        ctx.run_ok(&["commit", "c", "from-auto"]);
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "from-auto",
            "stat",
            "-c",
            "%u:%g %n",
            "/f",
            "/d",
            "/etc/passwd",
        ]);
        assert_eq!(
            out.lines().collect::<Vec<_>>(),
            ["0:0 /f", "5:6 /d", "0:0 /etc/passwd"]
        );
        // cp reads the stopped container through its own mapping.
        let dest = ctx.make_dir("out");
        ctx.run_ok(&["cp", "c:/etc/passwd", dest.to_str().unwrap()]);
        assert!(
            fs::read_to_string(dest.join("passwd"))
                .unwrap()
                .starts_with("root:")
        );
        ctx.run_ok(&["rm", "c"]);
        assert_eq!(ctx.run_ok(&["ps", "-aq"]).trim(), "");
    });
}

#[test]
fn entering_a_mapped_containers_user_namespace_takes_its_mapping() {
    for_users(&[User::Rootless], |ctx| {
        ctx.load_busybox();
        ctx.run_ok(&[
            "run", "-d", "--name", "n", "--userns", "nomap", "busybox", "sleep", "600",
        ]);
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "--userns",
            "container:n",
            "busybox",
            "sh",
            "-c",
            "id -u; stat -c %u:%g /etc/passwd; touch /new && echo written",
        ]);
        assert_eq!(out.lines().collect::<Vec<_>>(), ["0", "0:0", "written"]);
        let out = ctx.run_status(&[
            "run",
            "--rm",
            "--userns",
            "keep-id",
            "--pid",
            "container:n",
            "busybox",
            "true",
        ]);
        assert_exit_code(&out, 125, "keep-id with a join");
        assert_one_error_mentioning(&out, "keep-id", "keep-id with a join");
        ctx.run_ok(&["rm", "-f", "n"]);
    });
}
