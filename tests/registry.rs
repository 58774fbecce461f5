//! Pull, push, login against a real registry (Debian's docker-registry on
//! 127.0.0.1, started per test). Each test runs as root and rootless.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::archives::*;
use common::image_layout::{check_image_layout, tar_files};
use common::registry::{Registry, RegistrySetup, free_port};
use common::*;

const PLAIN: &str = "--tls-verify=false";

/// Pushes the busybox image of `ctx` to `reference`; returns the image ID.
fn push_busybox(ctx: &Ctx, reference: &str) -> String {
    ctx.load_busybox();
    ctx.run_ok(&["push", PLAIN, "busybox", reference]);
    ctx.image_ids()[0].clone()
}

/// Every blob file in the store.
fn store_blobs(ctx: &Ctx) -> Vec<String> {
    dir_entries(&ctx.root.join("blobs/sha256"))
}

#[test]
fn push_then_pull_into_an_empty_store_and_run() {
    let registry = Registry::start(RegistrySetup::default());
    for_each_user(|ctx| {
        let reference = registry.image(&format!("{}/busybox:1", ctx.user));
        let id = push_busybox(ctx, &reference);

        let fresh = Ctx::new(ctx.user);
        let out = fresh.run_status(&["pull", PLAIN, &reference]);
        let stdout = assert_success(&out, "pull");
        let stderr = stderr_of(&out);
        assert!(
            stdout.trim().starts_with(&id),
            "pull printed {stdout:?}, image {id}"
        );
        assert!(
            stderr.contains(&format!("Trying to pull {reference}...")),
            "{stderr}"
        );
        assert!(stderr.contains(": Pull complete"), "{stderr}");
        assert!(stderr.contains("Digest: sha256:"), "{stderr}");
        assert_eq!(
            fresh.run_ok(&["run", "--rm", &reference, "echo", "pulled"]),
            "pulled\n"
        );
        let listed = fresh.run_ok(&["images"]);
        assert!(
            listed.contains(&registry.image(&format!("{}/busybox", ctx.user))),
            "{listed}"
        );

        // Present layers are not fetched again.
        let out = fresh.run_status(&["pull", PLAIN, &reference]);
        assert_success(&out, "second pull");
        assert!(
            stderr_of(&out).contains(": Already exists"),
            "{}",
            stderr_of(&out)
        );
        assert!(
            !stderr_of(&out).contains("Pull complete"),
            "{}",
            stderr_of(&out)
        );

        // By digest, and quiet: only the ID.
        let digest = stderr_of(&out)
            .lines()
            .find_map(|l| l.strip_prefix("Digest: "))
            .unwrap()
            .to_string();
        let by_digest = format!(
            "{}@{digest}",
            registry.image(&format!("{}/busybox", ctx.user))
        );
        let other = Ctx::new(ctx.user);
        let quiet = other.run_ok(&["pull", "-q", PLAIN, &by_digest]);
        assert!(
            quiet.trim().starts_with(&id) && quiet.lines().count() == 1,
            "{quiet:?}"
        );
        assert_eq!(other.run_ok(&["run", "--rm", &by_digest, "true"]), "");
    });
}

#[test]
fn run_pulls_a_missing_image_as_the_pull_policy_says() {
    let registry = Registry::start(RegistrySetup::default());
    for_each_user(|ctx| {
        let reference = registry.image(&format!("{}/auto:latest", ctx.user));
        push_busybox(ctx, &reference);
        let fresh = Ctx::new(ctx.user);

        let out = fresh.run_status(&["run", "--rm", "--pull=never", &reference, "true"]);
        assert_exit_code(&out, 125, "run --pull=never of a missing image");
        assert_one_error_mentioning(&out, "image not known", "run --pull=never");

        let out = fresh.run_status(&["run", "--rm", PLAIN, &reference, "echo", "auto"]);
        assert_eq!(assert_success(&out, "run with pull"), "auto\n");
        assert!(
            stderr_of(&out).contains("Trying to pull"),
            "{}",
            stderr_of(&out)
        );

        // Present now: no pull, even with the registry gone for this name.
        let out = fresh.run_status(&["run", "--rm", &reference, "echo", "again"]);
        assert_eq!(assert_success(&out, "run of the present image"), "again\n");
        assert!(
            !stderr_of(&out).contains("Trying to pull"),
            "{}",
            stderr_of(&out)
        );

        // --pull=always contacts the registry: a bad registry fails.
        let gone = format!("127.0.0.1:{}/x:1", free_port());
        fresh.run_ok(&["tag", &reference, &gone]);
        let out = fresh.run_status(&["run", "--rm", "--pull=always", PLAIN, &gone, "true"]);
        assert_exit_code(&out, 125, "run --pull=always against no registry");
        assert_one_error_mentioning(&out, "connection refused", "--pull=always");
        let out = fresh.run_status(&["run", "--rm", "--pull=bogus", &reference, "true"]);
        assert_exit_code(&out, 125, "run --pull=bogus");
        assert_one_error_mentioning(&out, "invalid pull policy", "--pull=bogus");
        // --pull=newer keeps the local image when the registry is gone.
        let out = fresh.run_status(&["run", "--rm", "--pull=newer", PLAIN, &gone, "echo", "local"]);
        assert_eq!(
            assert_success(&out, "run --pull=newer without a registry"),
            "local\n"
        );
        assert!(
            stderr_of(&out).contains("using the local image"),
            "{}",
            stderr_of(&out)
        );

        // create pulls too.
        let other = Ctx::new(ctx.user);
        let id = other.run_ok(&[
            "create", PLAIN, "--name", "made", &reference, "echo", "created",
        ]);
        assert_eq!(id.trim().len(), 64, "{id:?}");
        assert_eq!(other.run_ok(&["start", "-a", "made"]), "created\n");
        assert_eq!(other.run_ok(&["image", "ls", "-q"]).lines().count(), 1);
    });
}

#[test]
fn insecure_registries_can_be_configured() {
    let registry = Registry::start(RegistrySetup::default());
    for_each_user(|ctx| {
        let reference = registry.image(&format!("{}/insecure:1", ctx.user));
        push_busybox(ctx, &reference);
        let fresh = Ctx::new(ctx.user);
        let mut pull = fresh.skiff(&["pull", "-q", &reference]);
        pull.env(
            "SKIFF_INSECURE_REGISTRIES",
            format!("example.com,{}", registry.address),
        );
        fresh.ok(pull);
        // --tls-verify (true) overrides the setting.
        let mut pull = fresh.skiff(&["pull", "--tls-verify", &reference]);
        pull.env("SKIFF_INSECURE_REGISTRIES", &registry.address);
        let out = output_of(pull, None, COMMAND_TIMEOUT);
        assert_exit_code(
            &out,
            125,
            "pull with --tls-verify from a plain HTTP registry",
        );
    });
}

#[test]
fn registry_errors_are_one_line_naming_the_reference() {
    let registry = Registry::start(RegistrySetup::default());
    for_each_user(|ctx| {
        let missing = registry.image("nothing/here:1");
        let out = ctx.run_status(&["pull", PLAIN, &missing]);
        assert_exit_code(&out, 125, "pull of a missing image");
        assert_one_error_mentioning(&out, &missing, "pull of a missing image");
        assert!(
            stderr_of(&out).contains("manifest unknown"),
            "{}",
            stderr_of(&out)
        );

        let nobody = format!("127.0.0.1:{}/x:1", free_port());
        let out = ctx.run_status(&["pull", PLAIN, &nobody]);
        assert_exit_code(&out, 125, "pull from a closed port");
        assert_one_error_mentioning(&out, "connection refused", "pull from a closed port");

        // Plain HTTP registry without --tls-verify=false.
        let out = ctx.run_status(&["pull", &missing]);
        assert_exit_code(&out, 125, "pull over TLS from an HTTP registry");
        assert_one_error_mentioning(&out, "TLS", "pull over TLS from an HTTP registry");

        let out = ctx.run_status(&["pull", "Bad/Name"]);
        assert_exit_code(&out, 125, "pull of a malformed reference");
        assert_one_error_mentioning(&out, "invalid reference format", "malformed reference");
        assert!(ctx.image_ids().is_empty());
    });
}

#[test]
fn a_tampered_blob_is_refused_and_nothing_is_stored() {
    for_each_user(|ctx| {
        // One registry each: blobs are shared across a registry's repositories.
        let registry = Registry::start(RegistrySetup::default());
        let reference = registry.image(&format!("{}/tampered:1", ctx.user));
        push_busybox(ctx, &reference);
        // The layer blob: the largest blob of the pushed image.
        let layer = store_blobs(ctx)
            .into_iter()
            .max_by_key(|hex| {
                fs::metadata(ctx.root.join("blobs/sha256").join(hex))
                    .unwrap()
                    .len()
            })
            .unwrap();
        let file = registry.blob_file(&layer);
        let mut bytes = fs::read(&file).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        fs::write(&file, &bytes).unwrap();

        let fresh = Ctx::new(ctx.user);
        let out = fresh.run_status(&["pull", PLAIN, &reference]);
        assert_exit_code(&out, 125, "pull of a tampered blob");
        assert_one_error_mentioning(&out, "digest mismatch", "pull of a tampered blob");
        assert!(fresh.image_ids().is_empty(), "an image was stored");
        assert!(
            !store_blobs(&fresh).contains(&layer),
            "the tampered blob was stored"
        );
        let tmp: Vec<_> = fs::read_dir(fresh.root.join("tmp")).unwrap().collect();
        assert!(tmp.is_empty(), "temp files left: {tmp:?}");
    });
}

/// Pushes a one-layer image with a 64 MiB file, big enough that a pull
/// is still downloading when a test acts on it; returns its reference.
fn push_big_image(ctx: &Ctx, registry: &Registry, name: &str) -> String {
    let rootfs = ctx.work.join("big.tar");
    let mut builder = tar::Builder::new(Vec::new());
    let data: Vec<u8> = (0..64u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_cksum();
    builder
        .append_data(&mut header, "big.bin", &data[..])
        .unwrap();
    fs::write(&rootfs, builder.into_inner().unwrap()).unwrap();
    fs::set_permissions(&rootfs, fs::Permissions::from_mode(0o644)).unwrap();
    let reference = registry.image(&format!("{}/{name}:1", ctx.user));
    ctx.run_ok(&["import", rootfs.to_str().unwrap(), &reference]);
    ctx.run_ok(&["push", PLAIN, &reference]);
    reference
}

/// Starts `skiff pull` of `reference` in `ctx` and returns once more than
/// 1 MiB of a blob has arrived in the store's `tmp/`.
fn start_pull_and_wait_for_download(ctx: &Ctx, reference: &str) -> Running {
    let mut pull = ctx.start(ctx.skiff(&["pull", PLAIN, reference]));
    let tmp = ctx.root.join("tmp");
    pull.wait_until(
        "a blob to be half downloaded",
        Duration::from_secs(60),
        || {
            fs::read_dir(&tmp).is_ok_and(|d| {
                d.flatten()
                    .any(|e| e.metadata().is_ok_and(|m| m.len() > 1 << 20))
            })
        },
    );
    pull
}

#[test]
fn a_killed_pull_leaves_nothing_and_the_next_pull_works() {
    let registry = Registry::start(RegistrySetup::default());
    for_each_user(|ctx| {
        let reference = push_big_image(ctx, &registry, "big");
        let fresh = Ctx::new(ctx.user);
        let pull = start_pull_and_wait_for_download(&fresh, &reference);
        pull.signal(nix::sys::signal::Signal::SIGKILL);
        let _ = pull.wait(Duration::from_secs(30));
        assert!(fresh.image_ids().is_empty());
        let big_blobs = store_blobs(&fresh)
            .into_iter()
            .filter(|hex| {
                fs::metadata(fresh.root.join("blobs/sha256").join(hex))
                    .unwrap()
                    .len()
                    > 1 << 20
            })
            .count();
        assert_eq!(big_blobs, 0, "a partial blob became visible");

        let out = fresh.run_status(&["pull", PLAIN, &reference]);
        assert_success(&out, "pull after a killed pull");
        assert_eq!(fresh.image_ids().len(), 1);
        assert!(
            fs::read_dir(fresh.root.join("tmp"))
                .unwrap()
                .next()
                .is_none(),
            "the killed pull's temp file stayed"
        );
    });
}

#[test]
fn prune_during_a_pull_keeps_what_the_pull_wrote() {
    let registry = Registry::start(RegistrySetup::default());
    for_each_user(|ctx| {
        let reference = push_big_image(ctx, &registry, "during-prune");
        let fresh = Ctx::new(ctx.user);
        fresh.load_busybox();
        let pull = start_pull_and_wait_for_download(&fresh, &reference);
        // Removes busybox now; collects garbage once the pull is done.
        let mut prune = fresh.start(fresh.skiff(&["image", "prune", "-a", "-f"]));
        wait_for(
            "prune to remove busybox from the index",
            COMMAND_TIMEOUT,
            || !fresh.run_ok(&["images"]).contains("busybox"),
        );
        let mut pull = pull;
        if pull.try_status().is_none() {
            assert!(
                prune.try_status().is_none(),
                "prune collected garbage while a pull was still writing"
            );
        }
        assert_success(&pull.wait(COMMAND_TIMEOUT), "pull during a prune");
        assert_success(&prune.wait(COMMAND_TIMEOUT), "prune during a pull");
        let listed = fresh.run_ok(&["images", "--format", "{{.Repository}}"]);
        assert_eq!(
            listed.trim(),
            registry.image(&format!("{}/during-prune", ctx.user))
        );
        // Its blobs and layer are whole: saved, every digest recomputed
        // here matches (blob names, diff_ids).
        let saved = fresh.work.join("saved.tar");
        fresh.run_ok(&["save", "-o", saved.to_str().unwrap(), &reference]);
        assert!(fs::metadata(&saved).unwrap().len() > 64 << 20);
        let name = fresh.run_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
        check_image_layout(&tar_files(&fs::read(&saved).unwrap()), &[name.trim()], true);
        let layers = fs::read_dir(fresh.root.join("layers")).unwrap().count();
        assert_eq!(
            layers, 1,
            "busybox's layer is collected, the pulled one kept"
        );
    });
}

#[test]
fn concurrent_pulls_sharing_layers_both_succeed() {
    let registry = Registry::start(RegistrySetup::default());
    for_each_user(|ctx| {
        let first = registry.image(&format!("{}/one:1", ctx.user));
        let second = registry.image(&format!("{}/two:1", ctx.user));
        push_busybox(ctx, &first);
        ctx.run_ok(&["push", PLAIN, "busybox", &second]);

        let fresh = Ctx::new(ctx.user);
        let a = fresh.start(fresh.skiff(&["pull", PLAIN, &first]));
        let b = fresh.start(fresh.skiff(&["pull", PLAIN, &second]));
        assert_success(&a.wait(COMMAND_TIMEOUT), "first concurrent pull");
        assert_success(&b.wait(COMMAND_TIMEOUT), "second concurrent pull");
        let listed = fresh.run_ok(&["images"]);
        assert!(
            listed.contains("/one") && listed.contains("/two"),
            "{listed}"
        );
        assert_eq!(fresh.image_ids().len(), 1, "both names are one image");
        let layers = fs::read_dir(fresh.root.join("layers")).unwrap().count();
        assert_eq!(layers, 1, "the shared layer is stored once");
        assert_eq!(
            fresh.run_ok(&["run", "--rm", &second, "echo", "ok"]),
            "ok\n"
        );
    });
}

/// The GOARCH name of this machine.
fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// Puts a one-layer busybox image into `repository` the way other tools
/// would (raw registry API): `compression` of the layer, docker schema 2
/// or OCI media types, a config whose CMD echoes `message`. Returns the
/// manifest's digest and size.
fn put_image(
    registry: &Registry,
    repository: &str,
    compression: &str,
    docker_types: bool,
    arch: &str,
    message: &str,
) -> (String, usize) {
    use std::io::Write;
    let tar = fs::read(busybox_rootfs_tar()).unwrap();
    let diff_id = format!("sha256:{}", sha256_hex(&tar));
    let (layer, layer_type) = match (compression, docker_types) {
        ("gzip", true) => {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&tar).unwrap();
            (
                gz.finish().unwrap(),
                "application/vnd.docker.image.rootfs.diff.tar.gzip",
            )
        }
        ("gzip", false) => {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&tar).unwrap();
            (
                gz.finish().unwrap(),
                "application/vnd.oci.image.layer.v1.tar+gzip",
            )
        }
        ("zstd", _) => (
            zstd::encode_all(&tar[..], 3).unwrap(),
            "application/vnd.oci.image.layer.v1.tar+zstd",
        ),
        (_, _) => (tar.clone(), "application/vnd.oci.image.layer.v1.tar"),
    };
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": arch,
        "os": "linux",
        "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": ["echo", message], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "a test"}],
    }))
    .unwrap();
    let layer_digest = registry.put_blob(repository, &layer);
    let config_digest = registry.put_blob(repository, &config);
    let (manifest_type, config_type) = if docker_types {
        (
            "application/vnd.docker.distribution.manifest.v2+json",
            "application/vnd.docker.container.image.v1+json",
        )
    } else {
        (
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.oci.image.config.v1+json",
        )
    };
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": manifest_type,
        "config": {"mediaType": config_type, "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": layer_type, "digest": layer_digest, "size": layer.len()}],
    }))
    .unwrap();
    let digest = registry.put_manifest(
        repository,
        &format!("{compression}-{arch}"),
        manifest_type,
        &manifest,
    );
    (digest, manifest.len())
}

#[test]
fn pulls_docker_and_oci_manifests_with_every_layer_compression() {
    let registry = Registry::start(RegistrySetup::default());
    for_each_user(|ctx| {
        for (compression, docker_types) in [
            ("gzip", true),
            ("gzip", false),
            ("zstd", false),
            ("none", false),
        ] {
            let repository = format!("{}/formats-{compression}-{docker_types}", ctx.user);
            put_image(
                &registry,
                &repository,
                compression,
                docker_types,
                host_arch(),
                compression,
            );
            let reference = registry.image(&format!("{repository}:{compression}-{}", host_arch()));
            ctx.run_ok(&["pull", "-q", PLAIN, &reference]);
            assert_eq!(
                ctx.run_ok(&["run", "--rm", &reference]),
                format!("{compression}\n"),
                "{compression}, docker types: {docker_types}"
            );
        }
        // Every variant has the same uncompressed layer: unpacked once.
        assert_eq!(fs::read_dir(ctx.root.join("layers")).unwrap().count(), 1);
    });
}

#[test]
fn an_index_gives_the_host_platform_unless_another_is_asked_for() {
    let registry = Registry::start(RegistrySetup::default());
    for_each_user(|ctx| {
        let repository = format!("{}/multi", ctx.user);
        let other_arch = if host_arch() == "arm64" {
            "amd64"
        } else {
            "arm64"
        };
        let mine = put_image(&registry, &repository, "gzip", false, host_arch(), "native");
        let theirs = put_image(&registry, &repository, "gzip", false, other_arch, "foreign");
        let entry = |(digest, size): &(String, usize), arch: &str| {
            serde_json::json!({
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": digest, "size": size,
                "platform": {"os": "linux", "architecture": arch},
            })
        };
        let index = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [entry(&theirs, other_arch), entry(&mine, host_arch())],
        }))
        .unwrap();
        let index_digest = registry.put_manifest(
            &repository,
            "latest",
            "application/vnd.oci.image.index.v1+json",
            &index,
        );
        let reference = registry.image(&format!("{repository}:latest"));

        let out = ctx.run_status(&["pull", PLAIN, &reference]);
        assert_success(&out, "pull of an index");
        assert!(
            stderr_of(&out).contains(&format!("Digest: {index_digest}")),
            "{}",
            stderr_of(&out)
        );
        assert_eq!(ctx.run_ok(&["run", "--rm", &reference]), "native\n");

        let other = Ctx::new(ctx.user);
        other.run_ok(&[
            "pull",
            "-q",
            PLAIN,
            "--platform",
            &format!("linux/{other_arch}"),
            &reference,
        ]);
        let arch = other.run_ok(&[
            "image",
            "inspect",
            "--format",
            "{{.Architecture}}",
            &reference,
        ]);
        assert_eq!(arch.trim(), other_arch);
        let out = other.run_status(&["pull", PLAIN, "--platform", "linux/s390x", &reference]);
        assert_exit_code(&out, 125, "pull of a platform the index lacks");
        assert_one_error_mentioning(&out, "has no manifest for linux/s390x", "missing platform");
    });
}

#[test]
fn pull_on_a_terminal_shows_a_progress_bar() {
    let registry = Registry::start(RegistrySetup::default());
    for_each_user(|ctx| {
        let reference = registry.image(&format!("{}/tty:1", ctx.user));
        push_busybox(ctx, &reference);
        let fresh = Ctx::new(ctx.user);
        let session = fresh.start_on_tty(&["pull", PLAIN, &reference], 24, 100);
        let (status, output) = session.wait(COMMAND_TIMEOUT);
        assert!(status.success(), "{output}");
        assert!(
            output.contains("Copying 1 blob(s) ["),
            "no progress bar: {output:?}"
        );
        assert!(output.contains("Pull complete"), "{output:?}");
        // Without a terminal: plain lines only.
        let other = Ctx::new(ctx.user);
        let out = other.run_status(&["pull", PLAIN, &reference]);
        assert!(!stderr_of(&out).contains('\r'), "{:?}", stderr_of(&out));
    });
}
