//! Containers with a mapping of their own (`--userns keep-id|nomap|auto`)
//! under the verbs that read their files back (commit, export, cp, diff,
//! exec, restart), with volumes, with `--rm`, and when another container
//! enters their user namespace: owners come out as the container sees
//! them, and nothing is left behind.

mod common;

use std::fs;

use common::archives::read_tar_entries;
use common::id_maps::*;
use common::*;

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
