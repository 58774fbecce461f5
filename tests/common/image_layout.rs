//! Reading what `skiff save` wrote without skiff: the OCI image layout
//! (`oci-layout`, `index.json`, `blobs/sha256/`) and docker's
//! `manifest.json`, checked against the specs (digests recomputed here), so
//! a save is not only judged by skiff's own `load`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Read;
use std::path::Path;

use serde_json::Value;

use super::archives::{read_tar_entries, sha256_hex};

/// The regular files of a tar archive, by path (`./` prefixes dropped).
pub fn tar_files(archive: &[u8]) -> BTreeMap<String, Vec<u8>> {
    read_tar_entries(archive)
        .into_iter()
        .filter(|(h, _)| h.entry_type().is_file())
        .map(|(h, data)| {
            let path = h.path().unwrap().to_string_lossy().into_owned();
            (path.trim_start_matches("./").to_string(), data)
        })
        .collect()
}

/// The regular files below `dir`, by path relative to it.
pub fn dir_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, files: &mut BTreeMap<String, Vec<u8>>) {
        for entry in fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                walk(root, &path, files);
            } else if kind.is_file() {
                let relative = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                files.insert(relative, fs::read(&path).unwrap());
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(dir, dir, &mut files);
    files
}

/// A layer blob as a plain tar (gzip layers are decompressed).
pub fn uncompressed(blob: &[u8]) -> Vec<u8> {
    if blob.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(blob)
            .read_to_end(&mut out)
            .expect("decompressing a gzip layer");
        out
    } else {
        blob.to_vec()
    }
}

fn json(files: &BTreeMap<String, Vec<u8>>, path: &str) -> Value {
    let data = files
        .get(path)
        .unwrap_or_else(|| panic!("no {path} in the layout: {:?}", files.keys()));
    serde_json::from_slice(data).unwrap_or_else(|e| panic!("{path} is not JSON: {e}"))
}

/// The blob a descriptor or docker manifest path names, checked to exist.
fn blob<'a>(files: &'a BTreeMap<String, Vec<u8>>, digest: &str) -> &'a [u8] {
    let hex = digest
        .strip_prefix("sha256:")
        .unwrap_or_else(|| panic!("not a sha256 digest: {digest:?}"));
    let path = format!("blobs/sha256/{hex}");
    files
        .get(&path)
        .unwrap_or_else(|| panic!("{path} is referenced but missing"))
}

/// Checks an image layout as the OCI image spec and docker describe it, and
/// that it holds exactly `names` (full references); `docker_manifest`: a
/// docker `manifest.json` must be there too (docker-archive). Returns, per
/// name, the image's layers as plain tars, bottom first.
pub fn check_image_layout(
    files: &BTreeMap<String, Vec<u8>>,
    names: &[&str],
    docker_manifest: bool,
) -> BTreeMap<String, Vec<Vec<u8>>> {
    assert_eq!(
        json(files, "oci-layout"),
        serde_json::json!({"imageLayoutVersion": "1.0.0"}),
        "oci-layout"
    );
    // Every blob is named by its content's digest.
    for (path, data) in files {
        if let Some(hex) = path.strip_prefix("blobs/sha256/") {
            assert_eq!(sha256_hex(data), hex, "{path} does not hash to its name");
        }
    }

    let index = json(files, "index.json");
    assert_eq!(index["schemaVersion"], 2, "index.json: {index}");
    let entries = index["manifests"].as_array().expect("index.json manifests");
    let mut by_name = BTreeMap::new();
    for entry in entries {
        let annotations = &entry["annotations"];
        let name = annotations["org.opencontainers.image.ref.name"]
            .as_str()
            .unwrap_or_else(|| panic!("index entry without a ref.name: {entry}"));
        assert_eq!(
            annotations["io.containerd.image.name"], name,
            "containerd's name annotation matches: {entry}"
        );
        let digest = entry["digest"].as_str().expect("index entry digest");
        let manifest_blob = blob(files, digest);
        assert_eq!(
            entry["size"].as_u64(),
            Some(manifest_blob.len() as u64),
            "{entry}"
        );
        assert!(
            by_name
                .insert(name.to_string(), digest.to_string())
                .is_none(),
            "{name} is in index.json twice"
        );
    }
    let listed: BTreeSet<&str> = by_name.keys().map(String::as_str).collect();
    assert_eq!(
        listed,
        names.iter().copied().collect(),
        "index.json names one entry per saved name"
    );

    let mut layers_by_name = BTreeMap::new();
    for (name, digest) in &by_name {
        let manifest: Value = serde_json::from_slice(blob(files, digest)).unwrap();
        assert_eq!(manifest["schemaVersion"], 2, "{name}: {manifest}");
        let config_digest = manifest["config"]["digest"].as_str().expect("config");
        let config: Value = serde_json::from_slice(blob(files, config_digest)).unwrap();
        let diff_ids = config["rootfs"]["diff_ids"].as_array().expect("diff_ids");
        let layer_descriptors = manifest["layers"].as_array().expect("layers");
        assert_eq!(
            diff_ids.len(),
            layer_descriptors.len(),
            "{name}: {manifest}"
        );
        let mut layers = Vec::new();
        for (layer, diff_id) in layer_descriptors.iter().zip(diff_ids) {
            let data = blob(files, layer["digest"].as_str().expect("layer digest"));
            assert_eq!(layer["size"].as_u64(), Some(data.len() as u64), "{layer}");
            let tar = uncompressed(data);
            assert_eq!(
                diff_id.as_str(),
                Some(format!("sha256:{}", sha256_hex(&tar)).as_str()),
                "{name}: a layer's diff_id is the digest of its uncompressed tar"
            );
            layers.push(tar);
        }
        layers_by_name.insert(name.clone(), layers);
    }

    if docker_manifest {
        let manifest = json(files, "manifest.json");
        let mut tagged = BTreeSet::new();
        for image in manifest.as_array().expect("manifest.json is an array") {
            let config_path = image["Config"].as_str().expect("Config");
            let config = files
                .get(config_path)
                .unwrap_or_else(|| panic!("manifest.json Config {config_path} is missing"));
            for tag in image["RepoTags"].as_array().expect("RepoTags") {
                let tag = tag.as_str().expect("a RepoTag is a string");
                assert!(tagged.insert(tag.to_string()), "{tag} is tagged twice");
                // The same image as index.json names under that tag.
                let digest = &by_name[tag];
                let oci: Value = serde_json::from_slice(blob(files, digest)).unwrap();
                assert_eq!(
                    blob(files, oci["config"]["digest"].as_str().unwrap()),
                    config.as_slice(),
                    "manifest.json and index.json agree on {tag}'s config"
                );
                let layers: Vec<&[u8]> = image["Layers"]
                    .as_array()
                    .expect("Layers")
                    .iter()
                    .map(|l| {
                        let path = l.as_str().unwrap();
                        files
                            .get(path)
                            .unwrap_or_else(|| panic!("manifest.json layer {path} is missing"))
                            .as_slice()
                    })
                    .collect();
                let expected: Vec<Vec<u8>> = layers.iter().map(|l| uncompressed(l)).collect();
                assert_eq!(
                    expected, layers_by_name[tag],
                    "manifest.json and index.json agree on {tag}'s layers"
                );
            }
        }
        assert_eq!(
            tagged,
            names.iter().map(|n| n.to_string()).collect(),
            "manifest.json RepoTags"
        );
    }
    layers_by_name
}
