//! Tests of archive load and rootfs import, with archives built here.

use std::fs;

use super::*;
use crate::layers::manifest::{
    INDEX_MEDIA_TYPES, OCI_CONFIG as CONFIG_MEDIA_TYPE, OCI_MANIFEST as MANIFEST_MEDIA_TYPE,
    host_goarch,
};
use crate::layers::test_support::{TarBuilder, gzip};

/// A docker-style config for `layers` (uncompressed tars).
fn docker_config(layers: &[Vec<u8>], cmd: &str, created: &str) -> Vec<u8> {
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| Digest::of_bytes(l).to_string())
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "created": created,
        "docker_version": "24.0.5",
        "container": "abc",
        "container_config": { "Hostname": "abc", "Cmd": ["/bin/sh", "-c", "#(nop)"] },
        "config": {
            "Env": ["PATH=/bin"],
            "Cmd": [cmd],
            "Healthcheck": { "Test": ["CMD", "true"] },
            "OnBuild": null,
            "Volumes": null,
            "ArgsEscaped": true
        },
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
        "history": [{ "created_by": "ADD rootfs", "empty_layer": false }]
    }))
    .unwrap()
}

fn layer(files: &[(&str, &str)]) -> Vec<u8> {
    let mut tar = TarBuilder::new();
    for (name, content) in files {
        tar.file(name, content.as_bytes(), 0o755);
    }
    tar.finish()
}

/// One image of a docker-archive under construction.
struct DockerImage {
    config: Vec<u8>,
    /// Overrides the config member name (default `<sha256 of config>.json`).
    config_name: Option<String>,
    tags: Vec<&'static str>,
    /// (member name, blob bytes).
    layers: Vec<(String, Vec<u8>)>,
}

impl DockerImage {
    /// Legacy `docker save` layout: `<hex>.json`, `<id>/layer.tar`.
    fn new(tags: &[&'static str], layers: &[Vec<u8>], cmd: &str, created: &str) -> DockerImage {
        DockerImage {
            config: docker_config(layers, cmd, created),
            config_name: None,
            tags: tags.to_vec(),
            layers: layers
                .iter()
                .map(|l| {
                    (
                        format!("{}/layer.tar", &Digest::of_bytes(l).hex()[..20]),
                        l.clone(),
                    )
                })
                .collect(),
        }
    }
}

fn docker_archive(images: &[DockerImage]) -> Vec<u8> {
    let mut tar = TarBuilder::new();
    let mut manifest = Vec::new();
    for image in images {
        let config_name = image
            .config_name
            .clone()
            .unwrap_or_else(|| format!("{}.json", Digest::of_bytes(&image.config).hex()));
        tar.file(&config_name, &image.config, 0o644);
        for (name, data) in &image.layers {
            tar.file(name, data, 0o644);
        }
        manifest.push(serde_json::json!({
            "Config": config_name,
            "RepoTags": image.tags,
            "Layers": image.layers.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
        }));
    }
    tar.file(
        "manifest.json",
        &serde_json::to_vec(&manifest).unwrap(),
        0o644,
    );
    tar.finish()
}

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store")).unwrap();
    (dir, store)
}

fn load(store: &Store, archive: &[u8]) -> Result<Vec<String>, LayerError> {
    store.load_archive(&mut &archive[..])
}

#[test]
fn docker_archive_loads_a_resolvable_image() {
    let (_dir, store) = store();
    let base = layer(&[("bin/sh", "shell")]);
    let top = layer(&[("etc/motd", "hi")]);
    let image = DockerImage::new(
        &["busybox:latest", "busybox:1.36"],
        &[base, top],
        "sh",
        "2023-01-01T00:00:00Z",
    );
    let archive = docker_archive(&[image]);
    let names = load(&store, &archive).unwrap();
    assert_eq!(
        names,
        [
            "docker.io/library/busybox:latest",
            "docker.io/library/busybox:1.36"
        ]
    );

    let img = store.resolve_image("busybox").unwrap();
    assert_eq!(img.names, names);
    let cmd = img.config.config().as_ref().unwrap().cmd().clone();
    assert_eq!(cmd, Some(vec!["sh".to_string()]));
    assert_eq!(img.layer_dirs.len(), 2);
    assert_eq!(
        fs::read(img.layer_dirs[0].join("bin/sh")).unwrap(),
        b"shell"
    );
    assert_eq!(fs::read(img.layer_dirs[1].join("etc/motd")).unwrap(), b"hi");
    assert_eq!(store.resolve_image("busybox:1.36").unwrap().id, img.id);
    assert_eq!(store.resolve_image(&img.id.hex()[..6]).unwrap().id, img.id);

    // The synthesized manifest is stored and points at config and layers.
    let index = store.read_index().unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&store.read_blob(&index.images[0].manifest).unwrap()).unwrap();
    assert_eq!(manifest["mediaType"], MANIFEST_MEDIA_TYPE);
    assert_eq!(manifest["config"]["digest"], img.id.to_string());
    assert_eq!(
        manifest["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar"
    );
    let blob = Digest::parse(manifest["layers"][1]["digest"].as_str().unwrap()).unwrap();
    assert!(store.blob_path(&blob).is_file());

    let rows = store.list_images().unwrap();
    let rows: Vec<(&str, &str, u64)> = rows
        .iter()
        .map(|r| (&*r.repository, &*r.tag, r.size))
        .collect();
    assert_eq!(
        rows,
        [
            ("docker.io/library/busybox", "1.36", 7),
            ("docker.io/library/busybox", "latest", 7)
        ]
    );

    // Loading again is idempotent.
    assert_eq!(load(&store, &archive).unwrap(), names);
    assert_eq!(store.read_index().unwrap().images.len(), 1);
    assert_eq!(store.list_images().unwrap()[0].size, 7);
    assert!(
        fs::read_dir(store.root().join("tmp"))
            .unwrap()
            .next()
            .is_none()
    );
}

#[test]
fn a_loaded_name_moves_and_the_old_image_stays_untagged() {
    let (_dir, store) = store();
    let a = DockerImage::new(
        &["app:1"],
        &[layer(&[("a", "a")])],
        "a",
        "2020-01-01T00:00:00Z",
    );
    let b = DockerImage::new(
        &["app:1"],
        &[layer(&[("b", "b")])],
        "b",
        "2021-01-01T00:00:00Z",
    );
    load(&store, &docker_archive(&[a])).unwrap();
    let old = store.resolve_image("app:1").unwrap().id;
    load(&store, &docker_archive(&[b])).unwrap();
    let new = store.resolve_image("app:1").unwrap().id;
    assert_ne!(old, new);
    let rows: Vec<_> = store
        .list_images()
        .unwrap()
        .into_iter()
        .map(|r| (r.repository, r.tag, r.id))
        .collect();
    assert_eq!(
        rows,
        [
            ("docker.io/library/app".to_string(), "1".to_string(), new),
            ("<none>".to_string(), "<none>".to_string(), old.clone()),
        ]
    );
    assert!(
        store
            .resolve_image(&old.to_string())
            .unwrap()
            .names
            .is_empty()
    );
}

#[test]
fn modern_docker_layout_with_gzip_and_shared_layer_links() {
    let (_dir, store) = store();
    let shared = layer(&[("shared", "s")]);
    let gz = gzip(&layer(&[("gz", "g")]));
    let config = docker_config(
        &[shared.clone(), layer(&[("gz", "g")])],
        "x",
        "2024-01-01T00:00:00Z",
    );
    let config_name = format!("blobs/sha256/{}", Digest::of_bytes(&config).hex());
    let mut tar = TarBuilder::new();
    tar.file(&config_name, &config, 0o644)
        .file("first/layer.tar", &shared, 0o644)
        // Old `docker save` links a layer saved under a second v1 id.
        .symlink("second/layer.tar", "../first/layer.tar")
        .file(
            &format!("blobs/sha256/{}", Digest::of_bytes(&gz).hex()),
            &gz,
            0o644,
        );
    let manifest = serde_json::json!([{
        "Config": config_name,
        "RepoTags": ["localhost:5000/x:y"],
        "Layers": ["second/layer.tar", format!("blobs/sha256/{}", Digest::of_bytes(&gz).hex())],
    }]);
    tar.file("manifest.json", manifest.to_string().as_bytes(), 0o644);
    assert_eq!(load(&store, &tar.finish()).unwrap(), ["localhost:5000/x:y"]);
    let img = store.resolve_image("localhost:5000/x:y").unwrap();
    assert_eq!(fs::read(img.layer_dirs[0].join("shared")).unwrap(), b"s");
    assert_eq!(fs::read(img.layer_dirs[1].join("gz")).unwrap(), b"g");
    assert!(store.blob_path(&Digest::of_bytes(&gz)).is_file());
}

/// Each corruption fails the load with `expect` in the message and leaves
/// the index without the image.
fn assert_load_fails(archive: &[u8], expect: &str) {
    let (_dir, store) = store();
    let err = load(&store, archive).unwrap_err().to_string();
    assert!(err.starts_with("loading archive: "), "{err}");
    assert!(err.contains(expect), "{err:?} lacks {expect:?}");
    assert!(!err.contains('\n'));
    assert!(store.list_images().unwrap().is_empty());
    assert!(
        fs::read_dir(store.root().join("tmp"))
            .unwrap()
            .next()
            .is_none()
    );
}

#[test]
fn corrupt_archives_add_nothing() {
    let good_layer = layer(&[("f", "f")]);
    let good = || {
        DockerImage::new(
            &["bad:1"],
            std::slice::from_ref(&good_layer),
            "x",
            "2020-01-01T00:00:00Z",
        )
    };

    let mut wrong_config_name = good();
    let wrong = Digest::of_bytes(b"something else");
    wrong_config_name.config_name = Some(format!("{}.json", wrong.hex()));
    assert_load_fails(
        &docker_archive(&[wrong_config_name]),
        &format!(
            "config {}.json: digest mismatch: expected {wrong}, got sha256:",
            wrong.hex()
        ),
    );

    let mut wrong_layer = good();
    wrong_layer.layers[0].1 = layer(&[("f", "tampered")]);
    let name = wrong_layer.layers[0].0.clone();
    assert_load_fails(
        &docker_archive(&[wrong_layer]),
        &format!(
            "layer {name}: digest mismatch: expected {}",
            Digest::of_bytes(&good_layer)
        ),
    );

    let mut too_few = good();
    too_few.layers.clear();
    assert_load_fails(
        &docker_archive(&[too_few]),
        "lists 1 diff_ids but the image has 0 layers",
    );

    // The second image is bad: the first must not be indexed either.
    let mut second = DockerImage::new(
        &["other:1"],
        &[layer(&[("o", "o")])],
        "o",
        "2020-01-01T00:00:00Z",
    );
    second.layers[0].1 = layer(&[("o", "tampered")]);
    assert_load_fails(&docker_archive(&[good(), second]), "digest mismatch");

    let mut missing = TarBuilder::new();
    let manifest = serde_json::json!([{"Config": "c.json", "RepoTags": null, "Layers": []}]);
    missing.file("manifest.json", manifest.to_string().as_bytes(), 0o644);
    assert_load_fails(&missing.finish(), "c.json: not found in the archive");

    let archive = docker_archive(&[good()]);
    assert_load_fails(&archive[..archive.len() / 2], "");
    assert_load_fails(b"definitely not a tar archive", "reading tar");
    assert_load_fails(&TarBuilder::new().finish(), "neither a docker-archive");

    let mut escaping = TarBuilder::new();
    escaping.file("../manifest.json", b"[]", 0o644);
    assert_load_fails(
        &escaping.finish(),
        "archive entry \"../manifest.json\": escapes the archive root",
    );

    let mut linked = TarBuilder::new();
    linked.symlink("manifest.json", "../../etc/passwd");
    assert_load_fails(
        &linked.finish(),
        "manifest.json: is a symlink out of the archive",
    );

    let mut bad_tag = good();
    bad_tag.tags = vec!["Bad:1"];
    assert_load_fails(
        &docker_archive(&[bad_tag]),
        "manifest.json: invalid reference format: \"Bad:1\"",
    );
}

/// An OCI layout archive; `nested` wraps the manifest in an image index
/// listing another platform first.
fn oci_archive(layers: &[Vec<u8>], annotation: Option<&str>, nested: bool) -> (Vec<u8>, Digest) {
    let uncompressed: Vec<Vec<u8>> = layers.to_vec();
    let blobs: Vec<Vec<u8>> = uncompressed.iter().map(|l| gzip(l)).collect();
    let config = docker_config(&uncompressed, "oci", "2022-02-02T00:00:00Z");
    let desc = |media: &str, data: &[u8]| serde_json::json!({"mediaType": media, "digest": Digest::of_bytes(data).to_string(), "size": data.len()});
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": desc(CONFIG_MEDIA_TYPE, &config),
        "layers": blobs.iter().map(|b| desc("application/vnd.oci.image.layer.v1.tar+gzip", b)).collect::<Vec<_>>(),
    }))
    .unwrap();
    let mut tar = TarBuilder::new();
    tar.file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#, 0o644);
    let mut put = |data: &[u8]| {
        tar.file(
            &format!("blobs/sha256/{}", Digest::of_bytes(data).hex()),
            data,
            0o644,
        );
    };
    put(&config);
    put(&manifest);
    blobs.iter().for_each(|b| put(b));
    let mut top = desc(MANIFEST_MEDIA_TYPE, &manifest);
    if nested {
        let mut other = desc(MANIFEST_MEDIA_TYPE, &manifest);
        other["platform"] = serde_json::json!({"architecture": "s390x-nope", "os": "linux"});
        let mut mine = desc(MANIFEST_MEDIA_TYPE, &manifest);
        mine["platform"] = serde_json::json!({"architecture": host_goarch(), "os": "linux"});
        let index = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPES[0], "manifests": [other, mine]
        }))
        .unwrap();
        put(&index);
        top = desc(INDEX_MEDIA_TYPES[0], &index);
    }
    if let Some(name) = annotation {
        top["annotations"] = serde_json::json!({ OCI_REF_NAME: name });
    }
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [top]});
    tar.file("index.json", index.to_string().as_bytes(), 0o644);
    (tar.finish(), Digest::of_bytes(&manifest))
}

#[test]
fn oci_archives_load_with_names_nested_indexes_or_untagged() {
    let (_dir, store) = store();
    let l = layer(&[("oci", "yes")]);
    let (archive, manifest) = oci_archive(std::slice::from_ref(&l), Some("quay.io/x/y:2"), true);
    assert_eq!(load(&store, &archive).unwrap(), ["quay.io/x/y:2"]);
    let img = store.resolve_image("quay.io/x/y:2").unwrap();
    assert_eq!(fs::read(img.layer_dirs[0].join("oci")).unwrap(), b"yes");
    assert_eq!(store.read_index().unwrap().images[0].manifest, manifest);
    assert!(store.blob_path(&manifest).is_file());
    assert_eq!(
        store
            .resolve_image(&format!("quay.io/x/y@{manifest}"))
            .unwrap()
            .id,
        img.id
    );

    let (archive, _) = oci_archive(&[layer(&[("t", "t")])], Some("1.36"), false);
    assert_eq!(
        load(&store, &archive).unwrap(),
        ["docker.io/library/1.36:latest"]
    );

    let (archive, _) = oci_archive(&[layer(&[("u", "u")])], None, false);
    let loaded = load(&store, &archive).unwrap();
    let id = Digest::parse(&loaded[0]).unwrap();
    assert!(store.resolve_image(&loaded[0]).unwrap().names.is_empty());
    assert!(
        store
            .list_images()
            .unwrap()
            .iter()
            .any(|r| r.id == id && r.repository == "<none>")
    );
}

#[test]
fn oci_blob_mismatches_are_refused() {
    let l = layer(&[("oci", "yes")]);
    let (archive, manifest) = oci_archive(std::slice::from_ref(&l), Some("a:1"), false);
    // Swap one byte inside the manifest blob: its name no longer matches.
    let text = String::from_utf8_lossy(&archive).into_owned();
    let at = text.find("\"schemaVersion\":2}").unwrap();
    let mut broken = archive.clone();
    broken[at + 16] = b'3';
    let name = format!(
        "manifest blobs/sha256/{}: digest mismatch: expected {manifest}",
        manifest.hex()
    );
    assert_load_fails(&broken, &name);
}

#[test]
fn import_makes_a_one_layer_image() {
    let (_dir, store) = store();
    let tar = layer(&[("bin/true", "#!")]);
    let id = store
        .import_rootfs(&mut &gzip(&tar)[..], Some("imported:v1"))
        .unwrap();
    let img = store.resolve_image("imported:v1").unwrap();
    assert_eq!(img.id, id);
    assert_eq!(img.names, ["docker.io/library/imported:v1"]);
    assert_eq!(
        img.config.rootfs().diff_ids(),
        &[Digest::of_bytes(&tar).to_string()]
    );
    assert_eq!(img.config.architecture().to_string(), host_goarch());
    let created = img.config.created().clone().unwrap();
    assert!(
        crate::timestamp::parse_rfc3339(&created).is_some(),
        "{created}"
    );
    let history = img.config.history().clone().unwrap();
    assert_eq!(history[0].created_by().as_deref(), Some("skiff import"));
    assert_eq!(fs::read(img.layer_dirs[0].join("bin/true")).unwrap(), b"#!");
    let manifest = store.read_index().unwrap().images[0].manifest.clone();
    let manifest: serde_json::Value =
        serde_json::from_slice(&store.read_blob(&manifest).unwrap()).unwrap();
    assert_eq!(
        manifest["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );

    let other = layer(&[("bin/false", "#!")]);
    let untagged = store.import_rootfs(&mut &other[..], None).unwrap();
    assert!(
        store
            .resolve_image(&untagged.to_string())
            .unwrap()
            .names
            .is_empty()
    );
    assert!(matches!(
        store.import_rootfs(&mut &tar[..], Some("Bad")),
        Err(LayerError::InvalidReference { .. })
    ));
    let mut evil = TarBuilder::new();
    evil.file("../x", b"", 0o644);
    let err = store
        .import_rootfs(&mut &evil.finish()[..], Some("evil"))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("entry \"../x\" escapes the layer root"),
        "{err}"
    );
    assert!(store.resolve_image("evil").is_err());
}
