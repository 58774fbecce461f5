//! Getting images into the store: `load`, `import`, `images`, and what
//! happens with broken or hostile input. Each test runs as root and rootless.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use common::archives::*;
use common::image_output::{is_hex, path_str, table};
use common::*;

#[test]
fn load_docker_archive() {
    for_each_user(|ctx| {
        let out = ctx.run_ok(&["load", "-i", path_str(busybox_docker_archive())]);
        assert_eq!(out.trim(), format!("Loaded image: {BUSYBOX_REF}"));
        // Short names resolve to docker.io/library/…:latest.
        assert_eq!(
            ctx.run_ok(&["run", "--rm", "busybox", "echo", "ok"]),
            "ok\n"
        );
        assert_eq!(
            ctx.run_ok(&["run", "--rm", BUSYBOX_REF, "echo", "ok"]),
            "ok\n"
        );
    });
}

#[test]
fn load_oci_archive() {
    for_each_user(|ctx| {
        let out = ctx.run_ok(&["load", "-i", path_str(busybox_oci_archive())]);
        assert_eq!(out.trim(), format!("Loaded image: {BUSYBOX_OCI_REF}"));
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            BUSYBOX_OCI_REF,
            "stat",
            "-c",
            "%u:%g",
            "/home/tester/owned",
        ]);
        assert_eq!(
            out, "1000:1000\n",
            "the gzip layer was unpacked with its owners"
        );
    });
}

#[test]
fn load_from_stdin() {
    for_each_user(|ctx| {
        let archive = fs::read(busybox_docker_archive()).unwrap();
        let out = ctx.run_stdin(&["load"], &archive);
        let stdout = assert_success(&out, "skiff load < archive");
        assert_eq!(stdout.trim(), format!("Loaded image: {BUSYBOX_REF}"));
        assert_eq!(ctx.run_ok(&["run", "--rm", "busybox", "true"]), "");
    });
}

#[test]
fn images_lists_columns() {
    for_each_user(|ctx| {
        let header = ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"];
        let empty = table(&ctx.run_ok(&["images"]));
        assert_eq!(empty, [header], "an empty store lists only the header");
        assert_eq!(
            ctx.image_ids(),
            Vec::<String>::new(),
            "images -q of an empty store"
        );

        ctx.load_busybox();
        let rows = table(&ctx.run_ok(&["images"]));
        assert_eq!(rows[0], header);
        assert_eq!(rows.len(), 2, "one image: {rows:?}");
        let row = &rows[1];
        assert_eq!(row.len(), 5, "five columns: {row:?}");
        assert_eq!(row[0], "docker.io/library/busybox");
        assert_eq!(row[1], "latest");
        // The image ID is the config digest, shortened to 12 hex digits.
        let config_hex = docker_archive_config_hex(busybox_docker_archive());
        assert_eq!(row[2], config_hex[..12], "IMAGE ID");
        assert!(!row[3].is_empty() && !row[4].is_empty());

        assert_eq!(ctx.image_ids(), [config_hex[..12].to_string()], "images -q");
    });
}

#[test]
fn import_rootfs_tarball_and_run() {
    for_each_user(|ctx| {
        let rootfs = busybox_rootfs_tar();
        let printed = ctx.run_ok(&["import", path_str(rootfs), "localhost/imported:v1"]);
        let id = printed.trim().trim_start_matches("sha256:");
        assert!(
            is_hex(id, 64),
            "import should print the image ID, printed {printed:?}"
        );
        assert!(
            ctx.image_ids().contains(&id[..12].to_string()),
            "images -q lists the imported ID"
        );
        let rows = table(&ctx.run_ok(&["images"]));
        assert!(
            rows.iter().any(|r| r.len() == 5
                && r[0] == "localhost/imported"
                && r[1] == "v1"
                && r[2] == id[..12]),
            "images: {rows:?}"
        );
        // An imported image has no config: the command is given in full.
        assert_eq!(
            ctx.run_ok(&[
                "run",
                "--rm",
                "localhost/imported:v1",
                "/bin/echo",
                "imported"
            ]),
            "imported\n"
        );
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "localhost/imported:v1",
            "/bin/stat",
            "-c",
            "%u:%g",
            "/home/tester/owned",
        ]);
        assert_eq!(out, "1000:1000\n", "owners in the tarball are kept");

        // The same from stdin.
        let out = ctx.run_stdin(
            &["import", "-", "localhost/from-stdin:v1"],
            &fs::read(rootfs).unwrap(),
        );
        let printed = assert_success(&out, "skiff import - < rootfs.tar");
        assert!(
            is_hex(printed.trim().trim_start_matches("sha256:"), 64),
            "{printed:?}"
        );
        assert_eq!(
            ctx.run_ok(&["run", "--rm", "localhost/from-stdin:v1", "/bin/echo", "ok"]),
            "ok\n"
        );
    });
}

#[test]
fn corrupt_layer_is_rejected() {
    for_each_user(|ctx| {
        // Same archive, a few bytes of the layer flipped: still a valid tar,
        // but its digest no longer matches the config's diff_id.
        let mut entries = read_tar_entries(&fs::read(busybox_docker_archive()).unwrap());
        let (_, layer) = entries
            .iter_mut()
            .find(|(h, _)| h.path().unwrap().ends_with("layer.tar"))
            .expect("a layer in the archive");
        let middle = layer.len() / 2;
        for byte in &mut layer[middle..middle + 16] {
            *byte ^= 0xff;
        }
        let corrupt = ctx.write_file("corrupt.tar", write_tar_entries(&entries));

        let before = ctx.image_ids();
        let out = ctx.run_status(&["load", "-i", path_str(&corrupt)]);
        assert_exit_code(&out, 125, "load of a corrupt archive");
        assert_one_error_mentioning(&out, "digest", "load of a corrupt archive");
        assert_eq!(
            ctx.image_ids(),
            before,
            "a failed load must not add an image"
        );

        // Nothing half-written stays behind to poison a later, good load.
        ctx.load_busybox();
        assert_eq!(
            ctx.run_ok(&["run", "--rm", "busybox", "cat", "/etc/os-release"])
                .lines()
                .nth(1),
            Some("ID=skiff-busybox")
        );
    });
}

#[test]
fn layer_escaping_with_dotdot_is_rejected() {
    for_each_user(|ctx| {
        let token = format!("{}-{}", std::process::id(), ctx.user);
        let deep_target = Path::new(TESTS_DIR).join(format!("escape-{token}"));
        let deep_name = format!(
            "{}{}",
            "../".repeat(12),
            deep_target.strip_prefix("/").unwrap().display()
        );
        for name in [format!("../evil-{token}"), deep_name] {
            let layer = LayerBuilder::default()
                .entry("etc/", RawEntry::Dir)
                .entry(&name, RawEntry::File(b"escaped\n"))
                .finish();
            let archive = ctx.work.join("dotdot.tar");
            write_docker_archive(&archive, "localhost/evil:dotdot", &layer);

            let out = ctx.run_status(&["load", "-i", path_str(&archive)]);
            assert_exit_code(&out, 125, &format!("load of a layer with {name:?}"));
            assert_one_error_mentioning(
                &out,
                &format!("\"{name}\""),
                &format!("load of a layer with {name:?}"),
            );
            assert_eq!(
                ctx.image_ids(),
                Vec::<String>::new(),
                "no image from a rejected archive"
            );
            assert!(
                !deep_target.exists(),
                "{} was written outside the store",
                deep_target.display()
            );
            assert_no_file_named(&ctx.dir, &format!("evil-{token}"));
        }
    });
}

#[test]
fn layer_links_and_absolute_paths_stay_inside() {
    // Entries that must resolve inside the layer, whatever happens: nothing
    // outside the store may change. What skiff answers is decided per case:
    // - an absolute name is taken relative to the layer root, as docker and
    //   podman do (moby's archive package joins every name to the root): the
    //   load succeeds and the file lands inside the store;
    // - a write through a symlinked parent is refused (README: "symlinked
    //   parents, `..`, hardlinks out are refused"; docker refuses the
    //   absolute symlink too, and would follow the relative one inside its
    //   chroot; skiff refuses both rather than follow any link);
    // - hard links to anything that is not an earlier entry of the layer
    //   are refused, as docker refuses them ("invalid hardlink").
    // A refusal is exit 125 with one error naming the entry.
    for_each_user(|ctx| {
        let token = format!("{}-{}", std::process::id(), ctx.user);
        let outside_dir = ctx.make_dir("outside");
        let outside_file = ctx.write_file("outside/precious", "precious\n");
        let absolute_target = Path::new(TESTS_DIR).join(format!("absolute-{token}"));
        let relative_to_outside = format!(
            "{}{}",
            "../".repeat(12),
            outside_file.strip_prefix("/").unwrap().display()
        );

        let cases = [
            (
                "absolute name",
                None,
                LayerBuilder::default().entry(
                    absolute_target.to_str().unwrap(),
                    RawEntry::File(b"escaped\n"),
                ),
            ),
            (
                "write through an absolute symlink",
                Some(format!("link/evil-{token}")),
                LayerBuilder::default()
                    .entry("link", RawEntry::Symlink(outside_dir.to_str().unwrap()))
                    .entry(&format!("link/evil-{token}"), RawEntry::File(b"escaped\n")),
            ),
            (
                "write through a relative symlink",
                Some(format!("rlink/tmp/evil-{token}")),
                LayerBuilder::default()
                    .entry("rlink", RawEntry::Symlink(&"../".repeat(12)))
                    .entry(
                        &format!("rlink/tmp/evil-{token}"),
                        RawEntry::File(b"escaped\n"),
                    ),
            ),
            (
                "hard link to an absolute path",
                Some("hl".to_string()),
                LayerBuilder::default()
                    .entry("hl", RawEntry::Hardlink(outside_file.to_str().unwrap())),
            ),
            (
                "hard link with ..",
                Some("hl2".to_string()),
                LayerBuilder::default().entry("hl2", RawEntry::Hardlink(&relative_to_outside)),
            ),
        ];
        for (i, (what, refused_entry, layer)) in cases.into_iter().enumerate() {
            let archive = ctx.work.join(format!("case-{i}.tar"));
            write_docker_archive(
                &archive,
                &format!("localhost/evil:case{i}"),
                &layer.finish(),
            );
            let out = ctx.run_status(&["load", "-i", path_str(&archive)]);
            eprintln!(
                "    {what}: load exited {}: {}",
                out.status,
                stderr_of(&out).trim()
            );
            match &refused_entry {
                Some(entry) => {
                    assert_exit_code(&out, 125, what);
                    assert_one_error_mentioning(&out, &format!("\"{entry}\""), what);
                }
                None => {
                    assert_exit_code(&out, 0, what);
                    let name = absolute_target.file_name().unwrap().to_str().unwrap();
                    assert!(
                        find_file_named(&ctx.root, name).is_some(),
                        "{what}: the entry {} should be stored inside the layer",
                        absolute_target.display()
                    );
                }
            }
            assert_eq!(
                ctx.image_ids().len(),
                1,
                "{what}: only the accepted archive (the first) made an image"
            );
            assert!(
                !absolute_target.exists(),
                "{what}: wrote {}",
                absolute_target.display()
            );
            assert!(
                !Path::new(&format!("/tmp/evil-{token}")).exists(),
                "{what}: wrote /tmp/evil-{token}"
            );
            assert_eq!(
                fs::read_dir(&outside_dir).unwrap().count(),
                1,
                "{what}: something was created in {}",
                outside_dir.display()
            );
            let meta = fs::metadata(&outside_file).unwrap();
            assert_eq!(
                meta.nlink(),
                1,
                "{what}: a hard link to a file outside the store was created"
            );
            assert_eq!(fs::read_to_string(&outside_file).unwrap(), "precious\n");
        }
    });
}

#[test]
fn malformed_reference_is_rejected() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        for reference in ["Busybox", "busybox:", "bad//name"] {
            let out = ctx.run_status(&["run", "--rm", reference, "true"]);
            assert_exit_code(&out, 125, &format!("run {reference:?}"));
            assert_one_error_mentioning(
                &out,
                "invalid reference format",
                &format!("run {reference:?}"),
            );
        }
    });
}

/// The first file below `dir` named exactly `name` (symlinks not followed).
fn find_file_named(dir: &Path, name: &str) -> Option<std::path::PathBuf> {
    for entry in fs::read_dir(dir).ok()?.flatten() {
        if entry.file_name() == name {
            return Some(entry.path());
        }
        if entry.file_type().is_ok_and(|t| t.is_dir())
            && let Some(found) = find_file_named(&entry.path(), name)
        {
            return Some(found);
        }
    }
    None
}

/// Fails if any file below `dir` has a name containing `needle`.
fn assert_no_file_named(dir: &Path, needle: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        assert!(
            !entry.file_name().to_string_lossy().contains(needle),
            "{} was written by a rejected layer",
            path.display()
        );
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            assert_no_file_named(&path, needle);
        }
    }
}
