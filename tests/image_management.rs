//! Managing stored images: tag, untag, rmi, image prune, history,
//! inspect, save and load in every format, images filters, --change for
//! import and commit, system df. Each test runs as root and rootless.

mod common;

use std::fs;

use common::archives::read_tar_entries;
use common::image_layout::{check_image_layout, dir_files, tar_files};
use common::image_output::{path_str, table};
use common::*;

#[test]
fn tag_untag_and_rmi_like_docker() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let id = ctx.image_ids()[0].clone();
        ctx.run_ok(&["tag", "busybox", "mine:1", "localhost/other:2"]);
        let listed = ctx.run_ok(&["images"]);
        assert!(
            listed.contains("docker.io/library/mine") && listed.contains("localhost/other"),
            "{listed}"
        );
        assert_eq!(
            ctx.run_ok(&["run", "--rm", "mine:1", "echo", "tagged"]),
            "tagged\n"
        );

        // A name of an image with other names is only untagged.
        assert_eq!(
            ctx.run_ok(&["rmi", "mine:1"]),
            "Untagged: docker.io/library/mine:1\n"
        );
        ctx.run_ok(&["untag", "busybox", "localhost/other:2"]);
        assert_eq!(
            table(&ctx.run_ok(&["images"])).len(),
            2,
            "header and one row"
        );
        assert_eq!(
            ctx.run_status(&["image", "exists", "mine:1"]).status.code(),
            Some(1)
        );
        assert_eq!(
            ctx.run_status(&["image", "exists", "busybox"])
                .status
                .code(),
            Some(0)
        );

        // An image a container uses is refused, and -f removes both.
        ctx.run_ok(&["create", "--name", "user1", "busybox", "true"]);
        let out = ctx.run_status(&["rmi", "busybox"]);
        assert_exit_code(&out, 2, "rmi of an image in use");
        assert_one_error_mentioning(&out, "in use by container", "rmi of an image in use");
        let out = ctx.run_ok(&["rmi", "-f", "busybox"]);
        assert!(
            out.contains("Removed container: ") && out.contains(&format!("Deleted: sha256:{id}")),
            "{out}"
        );
        assert!(ctx.image_ids().is_empty());
        assert_exit_code(
            &ctx.run_status(&["rm", "user1"]),
            1,
            "rm of the removed container",
        );
        // Its content went with it.
        let left = |sub: &str| fs::read_dir(ctx.root.join(sub)).unwrap().count();
        assert_eq!((left("blobs/sha256"), left("layers")), (0, 0));
        let out = ctx.run_status(&["rmi", "busybox"]);
        assert_exit_code(&out, 1, "rmi of a missing image");
        assert_one_error_mentioning(&out, "image not known", "rmi of a missing image");
    });
}

#[test]
fn rmi_of_several_names_of_one_image_untags_each_and_deletes_it_once() {
    for_each_user(|ctx| {
        let deleted = |id: &str| {
            format!(
                "Untagged: docker.io/library/busybox:latest\n\
                 Untagged: docker.io/library/mine:1\n\
                 Deleted: sha256:{id}\n"
            )
        };
        // -f, with a container to remove; without -f; by ID and by name.
        for (args, container) in [
            (vec!["rmi", "-f", "busybox:latest", "mine:1"], true),
            (vec!["rmi", "busybox:latest", "mine:1"], false),
            (vec!["rmi", "-f", "ID", "mine:1"], false),
        ] {
            ctx.load_busybox();
            let id = ctx.run_ok(&["image", "inspect", "--format", "{{.Id}}", "busybox"]);
            let id = id.trim().to_string();
            ctx.run_ok(&["tag", "busybox", "mine:1"]);
            if container {
                ctx.run_ok(&["create", "--name", "user1", "mine:1", "true"]);
            }
            let args: Vec<&str> = args
                .iter()
                .map(|a| if *a == "ID" { id.as_str() } else { a })
                .collect();
            let out = ctx.run_status(&args);
            assert_exit_code(&out, 0, &args.join(" "));
            assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{args:?}");
            let stdout = String::from_utf8_lossy(&out.stdout);
            let expected = if container {
                let (first, rest) = stdout.split_once('\n').unwrap();
                assert!(first.starts_with("Removed container: "), "{stdout}");
                rest.to_string()
            } else {
                stdout.to_string()
            };
            assert_eq!(expected, deleted(&id), "{args:?}");
            assert!(ctx.image_ids().is_empty(), "{args:?}");
            let left = |sub: &str| fs::read_dir(ctx.root.join(sub)).unwrap().count();
            assert_eq!((left("blobs/sha256"), left("layers")), (0, 0));
        }
        // The same name twice is still one name: the second is not known.
        ctx.load_busybox();
        ctx.run_ok(&["tag", "busybox", "mine:1"]);
        let out = ctx.run_status(&["rmi", "mine:1", "mine:1"]);
        assert_exit_code(&out, 1, "rmi of a name given twice");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "Untagged: docker.io/library/mine:1\n"
        );
        assert_one_error_mentioning(&out, "mine:1: image not known", "the second mine:1");
    });
}

#[test]
fn image_prune_removes_unused_images_and_their_content() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        ctx.run_ok(&["import", path_str(busybox_rootfs_tar()), "imported:1"]);
        ctx.run_ok(&["untag", "imported:1"]);
        assert_eq!(ctx.image_ids().len(), 2);
        // Only the untagged image goes.
        let out = ctx.run_ok(&["image", "prune", "-f"]);
        assert_eq!(out.lines().count(), 1, "{out}");
        assert_eq!(ctx.image_ids().len(), 1);
        // -a keeps images that containers use.
        ctx.run_ok(&["create", "busybox", "true"]);
        ctx.run_ok(&["image", "prune", "-a", "-f"]);
        assert_eq!(ctx.image_ids().len(), 1);
        assert_eq!(
            ctx.run_ok(&["run", "--rm", "busybox", "echo", "kept"]),
            "kept\n"
        );
    });
}

#[test]
fn history_and_inspect_describe_the_image() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let id = ctx.image_ids()[0].clone();
        let rows = table(&ctx.run_ok(&["history", "busybox"]));
        assert_eq!(rows[0], ["ID", "CREATED", "CREATED BY", "SIZE", "COMMENT"]);
        assert_eq!(rows[1][0], id[..12]);
        let ids = ctx.run_ok(&["history", "-q", "--no-trunc", "busybox"]);
        assert!(ids.starts_with(&id), "{ids}");
        let by = ctx.run_ok(&["history", "--format", "{{.CreatedBy}}", "busybox"]);
        assert!(!by.trim().is_empty());
        let rows = table(&ctx.run_ok(&[
            "history",
            "--format",
            "table {{.ID}} {{.CreatedBy}}",
            "busybox",
        ]));
        assert_eq!(rows[0], ["ID", "CREATED BY"]);
        assert_eq!(
            (rows[1][0].as_str(), rows[1][1].as_str()),
            (&id[..12], by.lines().next().unwrap())
        );

        let doc: serde_json::Value =
            serde_json::from_str(&ctx.run_ok(&["image", "inspect", "busybox"])).unwrap();
        assert!(doc[0]["Id"].as_str().unwrap().starts_with(&id), "{doc}");
        assert_eq!(doc[0]["RepoTags"][0], BUSYBOX_REF);
        assert_eq!(doc[0]["Os"], "linux");
        assert!(
            doc[0]["RootFS"]["Layers"]
                .as_array()
                .is_some_and(|l| !l.is_empty())
        );
        let formatted = ctx.run_ok(&[
            "inspect",
            "--format",
            "{{.Os}}/{{index .RepoTags 0}}",
            "busybox",
        ]);
        assert_eq!(formatted.trim(), format!("linux/{BUSYBOX_REF}"));
        let out = ctx.run_status(&["image", "inspect", "nosuch"]);
        assert_exit_code(&out, 125, "inspect of a missing image");
    });
}

#[test]
fn save_and_load_round_trip_in_every_format() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        ctx.run_ok(&["tag", "busybox", "second:2"]);
        let digests = ctx.run_ok(&[
            "images",
            "--format",
            "{{.Repository}}:{{.Tag}} {{.Digest}} {{.ID}}",
        ]);
        for (format, output) in [
            ("docker-archive", ctx.work.join("saved-docker.tar")),
            ("oci-archive", ctx.work.join("saved-oci.tar")),
            ("oci-dir", ctx.work.join("saved-dir")),
        ] {
            let out_path = output.to_str().unwrap();
            ctx.run_ok(&[
                "save", "--format", format, "-o", out_path, "busybox", "second:2",
            ]);
            // Read by this test, not only by skiff: the layout, the names,
            // and every digest recomputed.
            let files = if format == "oci-dir" {
                dir_files(&output)
            } else {
                tar_files(&fs::read(&output).unwrap())
            };
            let layers = check_image_layout(
                &files,
                &[BUSYBOX_REF, "docker.io/library/second:2"],
                format == "docker-archive",
            );
            let busybox = &layers[BUSYBOX_REF];
            assert_eq!(busybox, &layers["docker.io/library/second:2"], "{format}");
            assert!(
                busybox
                    .iter()
                    .any(|layer| read_tar_entries(layer).iter().any(|(h, _)| h
                        .path()
                        .unwrap()
                        .to_str()
                        == Some("bin/busybox"))),
                "{format}: the saved busybox layers hold bin/busybox"
            );
            let other = Ctx::new(ctx.user);
            let loaded = other.run_ok(&["load", "-i", out_path]);
            assert!(
                loaded.contains(&format!("Loaded image: {BUSYBOX_REF}"))
                    && loaded.contains("Loaded image: docker.io/library/second:2"),
                "{format}: {loaded}"
            );
            // Same names, manifest digests and IDs as the source store.
            let again = other.run_ok(&[
                "images",
                "--format",
                "{{.Repository}}:{{.Tag}} {{.Digest}} {{.ID}}",
            ]);
            assert_eq!(again, digests, "{format}");
            assert_eq!(
                other.run_ok(&["run", "--rm", "second:2", "echo", format]),
                format!("{format}\n")
            );
        }
        // To standard output too, loaded from standard input.
        let out = output_of(ctx.skiff(&["save", "busybox"]), None, COMMAND_TIMEOUT);
        assert_success(&out, "save to stdout");
        check_image_layout(&tar_files(&out.stdout), &[BUSYBOX_REF], true);
        let other = Ctx::new(ctx.user);
        let loaded = other.run_stdin(&["load"], &out.stdout);
        assert_eq!(
            assert_success(&loaded, "load from stdin").trim(),
            format!("Loaded image: {BUSYBOX_REF}")
        );

        let out = ctx.run_status(&["save", "--format", "tarball", "-o", "x.tar", "busybox"]);
        assert_exit_code(&out, 125, "save with an unknown format");
        assert_one_error_mentioning(&out, "tarball", "unknown save format");
        let out = ctx.run_status(&["save", "-o", "missing.tar", "nosuch"]);
        assert_exit_code(&out, 125, "save of a missing image");
        assert!(
            !ctx.dir.join("missing.tar").exists(),
            "a failed save left a file"
        );
    });
}

#[test]
fn images_filters_digests_and_format() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        ctx.run_ok(&[
            "import",
            "-c",
            "LABEL tier=web",
            path_str(busybox_rootfs_tar()),
            "quay.io/me/app:1",
        ]);
        ctx.run_ok(&["import", path_str(busybox_rootfs_tar())]);
        let names = |args: &[&str]| -> Vec<String> {
            let mut all = vec!["images", "--format", "{{.Repository}}:{{.Tag}}"];
            all.extend_from_slice(args);
            let mut v: Vec<String> = ctx.run_ok(&all).lines().map(str::to_string).collect();
            v.sort();
            v
        };
        assert_eq!(names(&["--filter", "dangling=true"]), ["<none>:<none>"]);
        assert_eq!(names(&["--filter", "label=tier=web"]), ["quay.io/me/app:1"]);
        assert_eq!(names(&["--filter", "reference=busybox"]), [BUSYBOX_REF]);
        assert_eq!(names(&["busybox"]), [BUSYBOX_REF]);
        assert_eq!(
            names(&["--filter", "reference=quay.io/*/app:1"]),
            ["quay.io/me/app:1"]
        );
        assert_eq!(
            names(&["--filter", "since=busybox", "--filter", "dangling=false"]),
            ["quay.io/me/app:1"]
        );
        assert!(names(&["--filter", "before=busybox"]).is_empty());
        let out = ctx.run_status(&["images", "--filter", "color=red"]);
        assert_exit_code(&out, 125, "unknown filter");
        assert_one_error_mentioning(&out, "color", "unknown filter");

        let rows = table(&ctx.run_ok(&["images", "--digests", "busybox"]));
        assert_eq!(
            rows[0],
            ["REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"]
        );
        assert!(
            rows[1][2].starts_with("sha256:") && rows[1][2].len() == 71,
            "{rows:?}"
        );
        let rows = table(&ctx.run_ok(&[
            "images",
            "--format",
            "table {{.ID}} {{.Repository}}",
            "busybox",
        ]));
        assert_eq!(rows[0], ["IMAGE ID", "REPOSITORY"]);
        assert_eq!(rows[1][1], "docker.io/library/busybox");
        let json: serde_json::Value =
            serde_json::from_str(&ctx.run_ok(&["images", "--format", "json"])).unwrap();
        assert_eq!(json.as_array().unwrap().len(), 3);
    });
}

#[test]
fn import_and_commit_apply_changes() {
    for_each_user(|ctx| {
        let out = ctx.run_ok(&[
            "import",
            "--change",
            r#"CMD ["sh", "-c", "echo $GREETING from $(pwd)"]"#,
            "-c",
            "ENV GREETING=hello",
            "-c",
            "WORKDIR /tmp",
            "-m",
            "imported by a test",
            path_str(busybox_rootfs_tar()),
            "changed:1",
        ]);
        assert_eq!(out.trim().len(), 64);
        assert_eq!(
            ctx.run_ok(&["run", "--rm", "changed:1"]),
            "hello from /tmp\n"
        );
        let comment = ctx.run_ok(&["history", "--format", "{{.Comment}}", "changed:1"]);
        assert_eq!(comment.trim(), "imported by a test");

        ctx.run_ok(&[
            "run",
            "--name",
            "src",
            "changed:1",
            "sh",
            "-c",
            "echo kept > /tmp/file",
        ]);
        ctx.run_ok(&[
            "commit",
            "-c",
            r#"CMD ["cat", "/tmp/file"]"#,
            "-c",
            "USER 1000",
            "src",
            "committed:1",
        ]);
        assert_eq!(ctx.run_ok(&["run", "--rm", "committed:1"]), "kept\n");
        assert_eq!(
            ctx.run_ok(&["run", "--rm", "committed:1", "id", "-u"]),
            "1000\n"
        );

        let out = ctx.run_status(&[
            "import",
            "-c",
            "RUN make",
            path_str(busybox_rootfs_tar()),
            "bad:1",
        ]);
        assert_exit_code(&out, 125, "import with RUN");
        assert_one_error_mentioning(&out, "unknown instruction RUN", "import with RUN");
        assert_eq!(
            ctx.image_ids().len(),
            2,
            "the refused import stored an image"
        );
    });
}

#[test]
fn system_df_counts_images_and_containers() {
    for_each_user(|ctx| {
        let counts = || -> Vec<String> {
            ctx.run_ok(&[
                "system",
                "df",
                "--format",
                "{{.Type}}:{{.Total}}:{{.Active}}:{{.RawSize}}:{{.RawReclaimable}}",
            ])
            .lines()
            .map(str::to_string)
            .collect()
        };
        assert_eq!(
            counts(),
            [
                "Images:0:0:0:0",
                "Containers:0:0:0:0",
                "Local Volumes:0:0:0:0",
                "Build Cache:0:0:0:0"
            ]
        );
        ctx.load_busybox();
        // TOTAL, ACTIVE, SIZE, RECLAIMABLE of one row.
        let numbers = |row: &str| -> Vec<u64> {
            row.split(':').skip(1).map(|n| n.parse().unwrap()).collect()
        };
        let rows = counts();
        let image = numbers(&rows[0]);
        assert_eq!(&image[..2], [1, 0]);
        assert!(
            image[2] > 1 << 20,
            "busybox is over 1 MiB unpacked: {rows:?}"
        );
        assert_eq!(image[3], image[2], "an unused image is all reclaimable");

        ctx.run_ok(&[
            "run",
            "--name",
            "writer",
            "busybox",
            "sh",
            "-c",
            "head -c 100000 /dev/zero > /big",
        ]);
        let rows = counts();
        let image = numbers(&rows[0]);
        assert_eq!((image[1], image[3]), (1, 0), "{rows:?}");
        let container = numbers(&rows[1]);
        assert_eq!(&container[..2], [1, 0]);
        assert!(
            container[2] >= 100_000 && container[3] == container[2],
            "{rows:?}"
        );
        let table_text = ctx.run_ok(&["system", "df"]);
        assert_eq!(
            table(&table_text)[0],
            ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
        );
    });
}

#[test]
fn rmi_all_keeps_images_in_use_and_shared_layers() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        // Same layer as busybox, another config: the layer is shared.
        ctx.run_ok(&["import", path_str(busybox_rootfs_tar()), "sharing:1"]);
        ctx.run_ok(&["tag", "sharing:1", "sharing:2"]);
        ctx.run_ok(&["create", "--name", "user1", "sharing:1", "true"]);
        let out = ctx.run_status(&["rmi", "-a"]);
        assert_exit_code(&out, 2, "rmi -a with an image in use");
        assert_one_error_mentioning(&out, "in use by container", "rmi -a");
        let left = ctx.run_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
        let mut left: Vec<&str> = left.lines().collect();
        left.sort();
        assert_eq!(
            left,
            ["docker.io/library/sharing:1", "docker.io/library/sharing:2"]
        );
        // The shared layer stayed for the image still there.
        ctx.run_ok(&["start", "-a", "user1"]);
        assert_eq!(
            ctx.run_ok(&["run", "--rm", "sharing:2", "echo", "ok"]),
            "ok\n"
        );
    });
}
