//! The image index (`images/index.json`) and the lookups on it: resolve a
//! name or ID prefix to a runnable `LocalImage`, list `skiff images` rows.
//!
//! Writers take `flock` on `images/index.lock`, read, modify, write a temp
//! file and rename it over `index.json`. Readers (the hot `run` path) read
//! `index.json` without the lock: the rename makes every read see a whole
//! index, old or new.

use std::cmp::Reverse;
use std::fs::{self, OpenOptions};
use std::io::ErrorKind;

use serde::{Deserialize, Serialize};

use super::digest::Digest;
use super::reference::ImageReference;
use super::store::{Store, TempGuard};
use super::{ImageConfiguration, ImageSummary, LayerError, LocalImage, io_error};
use crate::timestamp::parse_rfc3339;

const NONE: &str = "<none>";

/// The whole index file.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct ImageIndex {
    #[serde(default)]
    pub images: Vec<ImageRecord>,
}

/// One image: a config digest with the names that point at it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ImageRecord {
    /// The config digest, the IMAGE ID.
    pub id: Digest,
    /// Normalized references; empty for an untagged image.
    #[serde(default)]
    pub names: Vec<String>,
    /// The manifest blob this image was stored with.
    pub manifest: Digest,
    /// Bottom layer first.
    pub diff_ids: Vec<Digest>,
    /// Unpacked size of each layer, parallel to `diff_ids`.
    #[serde(default)]
    pub layer_sizes: Vec<u64>,
    /// Sum of `layer_sizes`.
    pub size: u64,
    /// `created` from the config (RFC 3339), if any.
    #[serde(default)]
    pub created: Option<String>,
    /// A build step's result kept as cache (`skiff build`): without a
    /// name it is listed only by `images -a` and pruned only by `-a`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub intermediate: bool,
}

impl ImageIndex {
    /// Adds or updates `record`. Its names move away from any other image
    /// (which stays, possibly untagged, like docker); an image already
    /// present keeps its names and gains the new ones.
    pub(crate) fn add(&mut self, record: ImageRecord) {
        for other in self.images.iter_mut().filter(|r| r.id != record.id) {
            other.names.retain(|n| !record.names.contains(n));
        }
        match self.images.iter_mut().find(|r| r.id == record.id) {
            Some(existing) => {
                let mut names = std::mem::take(&mut existing.names);
                for name in &record.names {
                    if !names.contains(name) {
                        names.push(name.clone());
                    }
                }
                // Still cache only when every writer said so.
                let intermediate = existing.intermediate && record.intermediate;
                *existing = ImageRecord {
                    names,
                    intermediate,
                    ..record
                };
            }
            None => self.images.push(record),
        }
    }

    /// The recorded unpacked size of a layer, from any image that has it.
    pub(crate) fn layer_size(&self, diff_id: &Digest) -> Option<u64> {
        self.images.iter().find_map(|r| {
            let i = r.diff_ids.iter().position(|d| d == diff_id)?;
            r.layer_sizes.get(i).copied()
        })
    }
}

impl Store {
    /// Reads `images/index.json` without locking; a missing file is an
    /// empty index.
    pub(crate) fn read_index(&self) -> Result<ImageIndex, LayerError> {
        let path = self.images_dir().join("index.json");
        let data = match fs::read(&path) {
            Ok(data) => data,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(ImageIndex::default()),
            Err(e) => return Err(io_error("reading", &path)(e)),
        };
        serde_json::from_slice(&data).map_err(|e| LayerError::Corrupt {
            root: self.root().to_path_buf(),
            problem: format!("images/index.json: {e}"),
        })
    }

    /// Runs `change` on the current index under the index lock and writes
    /// the result atomically.
    pub(crate) fn update_index<T>(
        &self,
        change: impl FnOnce(&mut ImageIndex) -> T,
    ) -> Result<T, LayerError> {
        let lock_path = self.images_dir().join("index.lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_error("opening", &lock_path))?;
        lock.lock().map_err(io_error("locking", &lock_path))?;
        let mut index = self.read_index()?;
        let result = change(&mut index);
        let data =
            serde_json::to_vec_pretty(&index).map_err(|e| LayerError::Other(e.to_string()))?;
        let tmp = TempGuard::new(self.temp_path("index"));
        fs::write(tmp.path(), data).map_err(io_error("writing", tmp.path()))?;
        let path = self.images_dir().join("index.json");
        fs::rename(tmp.path(), &path).map_err(io_error("renaming into", &path))?;
        tmp.keep();
        drop(lock);
        Ok(result)
    }

    /// Finds a local image by name (`busybox`, `quay.io/x/y:1`,
    /// `name@sha256:…`) or by ID (`sha256:<hex>`, or a prefix of at least
    /// 3 hex digits). Reads the index and one config blob.
    pub fn resolve_image(&self, name_or_id: &str) -> Result<LocalImage, LayerError> {
        let index = self.read_index()?;
        let record = find_record(&index, name_or_id)?;
        self.local_image(record)
    }

    fn local_image(&self, record: &ImageRecord) -> Result<LocalImage, LayerError> {
        let data = self.read_blob(&record.id)?;
        let config = parse_config(&data, &format!("config {}", record.id))?;
        let healthcheck = parse_healthcheck(&data);
        let mut layer_dirs = Vec::with_capacity(record.diff_ids.len());
        for diff_id in &record.diff_ids {
            let dir = self.layer_dir(diff_id);
            if !dir.is_dir() {
                return Err(LayerError::Corrupt {
                    root: self.root().to_path_buf(),
                    problem: format!(
                        "layer {diff_id} of image {} is missing (layers/{})",
                        record.id,
                        diff_id.hex()
                    ),
                });
            }
            layer_dirs.push(dir);
        }
        Ok(LocalImage {
            id: record.id.clone(),
            names: record.names.clone(),
            manifest: record.manifest.clone(),
            layer_sizes: record.layer_sizes.clone(),
            config,
            healthcheck,
            layer_dirs,
        })
    }

    /// One row per (image, name), plus a `<none>` row for each untagged
    /// image; newest first.
    pub fn list_images(&self) -> Result<Vec<ImageSummary>, LayerError> {
        let index = self.read_index()?;
        let mut rows = Vec::new();
        for record in &index.images {
            let row = |repository: String, tag: String| ImageSummary {
                id: record.id.clone(),
                repository,
                tag,
                digest: record.manifest.clone(),
                created: record.created.clone(),
                size: record.size,
                intermediate: record.intermediate,
            };
            if record.names.is_empty() {
                rows.push(row(NONE.to_string(), NONE.to_string()));
            }
            for name in &record.names {
                rows.push(match ImageReference::parse(name) {
                    Ok(r) => row(r.name(), r.tag.clone().unwrap_or_else(|| NONE.to_string())),
                    Err(_) => row(name.clone(), NONE.to_string()),
                });
            }
        }
        // Newest first; images without a (parsable) date last.
        rows.sort_by(|a, b| {
            let key = |s: &ImageSummary| Reverse(s.created.as_deref().and_then(parse_rfc3339));
            key(a)
                .cmp(&key(b))
                .then_with(|| a.id.cmp(&b.id))
                .then_with(|| a.repository.cmp(&b.repository))
                .then_with(|| a.tag.cmp(&b.tag))
        });
        Ok(rows)
    }
}

/// Parses an image config, docker's extra fields (`container_config`,
/// `docker_version`, `Healthcheck`, …) ignored.
pub(crate) fn parse_config(data: &[u8], subject: &str) -> Result<ImageConfiguration, LayerError> {
    serde_json::from_slice(data).map_err(|e| LayerError::Invalid {
        subject: subject.to_string(),
        problem: format!("invalid image config: {e}"),
    })
}

/// docker's `config.Healthcheck`, which the OCI image config (and so
/// `oci-spec`) does not model. A malformed one is ignored, as docker does
/// for fields it cannot use.
fn parse_healthcheck(data: &[u8]) -> Option<super::ImageHealthcheck> {
    #[derive(serde::Deserialize)]
    struct Outer {
        config: Option<Inner>,
    }
    #[derive(serde::Deserialize)]
    struct Inner {
        #[serde(rename = "Healthcheck")]
        healthcheck: Option<super::ImageHealthcheck>,
    }
    serde_json::from_slice::<Outer>(data)
        .ok()?
        .config?
        .healthcheck
        .filter(|h| !h.test.is_empty())
}

/// Lowercase hex of 3..=64 digits, optionally `sha256:`-prefixed.
fn id_prefix(s: &str) -> Option<&str> {
    let hex = s.strip_prefix("sha256:").unwrap_or(s);
    let ok = (3..=64).contains(&hex.len())
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    ok.then_some(hex)
}

/// The lookup order: a full ID, then a name, then an ID prefix (so an
/// image named `abc` wins over IDs starting with `abc`).
pub(crate) fn find_record<'a>(
    index: &'a ImageIndex,
    s: &str,
) -> Result<&'a ImageRecord, LayerError> {
    let prefix = id_prefix(s);
    if let Some(hex) = prefix
        && hex.len() == 64
        && let Some(r) = index.images.iter().find(|r| r.id.hex() == hex)
    {
        return Ok(r);
    }
    let parsed = if s.starts_with("sha256:") {
        None
    } else {
        Some(ImageReference::parse(s))
    };
    if let Some(Ok(reference)) = &parsed
        && let Some(r) = find_by_name(index, reference)
    {
        return Ok(r);
    }
    if let Some(hex) = prefix {
        let mut matches = index.images.iter().filter(|r| r.id.hex().starts_with(hex));
        match (matches.next(), matches.count()) {
            (Some(r), 0) => return Ok(r),
            (Some(_), more) => {
                return Err(LayerError::AmbiguousImage {
                    prefix: s.to_string(),
                    count: more + 1,
                });
            }
            (None, _) => {}
        }
    }
    match parsed {
        Some(Err(e)) if prefix.is_none() => Err(e),
        None if prefix.is_none() => Err(LayerError::InvalidReference {
            reference: s.to_string(),
        }),
        _ => Err(LayerError::NoSuchImage {
            reference: s.to_string(),
        }),
    }
}

fn find_by_name<'a>(index: &'a ImageIndex, reference: &ImageReference) -> Option<&'a ImageRecord> {
    let full = reference.to_string();
    if let Some(r) = index.images.iter().find(|r| r.names.contains(&full)) {
        return Some(r);
    }
    // `repo@sha256:…`: the image of that repository stored with that
    // manifest, whatever its tag.
    let digest = reference.digest.as_ref()?;
    let repository = reference.name();
    index.images.iter().find(|r| {
        r.manifest == *digest
            && r.names
                .iter()
                .any(|n| ImageReference::parse(n).is_ok_and(|other| other.name() == repository))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(seed: &str) -> Digest {
        Digest::of_bytes(seed.as_bytes())
    }

    fn record(seed: &str, names: &[&str], created: Option<&str>) -> ImageRecord {
        ImageRecord {
            id: digest(seed),
            names: names.iter().map(|n| n.to_string()).collect(),
            manifest: digest(&format!("{seed}-manifest")),
            diff_ids: vec![],
            layer_sizes: vec![],
            size: 10,
            created: created.map(str::to_string),
            intermediate: false,
        }
    }

    /// A store whose images have a trivial config blob and no layers.
    fn store_with(records: Vec<ImageRecord>) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .update_index(|index| {
                for r in records {
                    index.add(r);
                }
            })
            .unwrap();
        (dir, store)
    }

    #[test]
    fn names_move_and_readding_is_idempotent() {
        let mut index = ImageIndex::default();
        index.add(record(
            "a",
            &["docker.io/library/busybox:latest", "x.io/a:1"],
            None,
        ));
        index.add(record("b", &["docker.io/library/busybox:latest"], None));
        index.add(record("b", &["docker.io/library/busybox:latest"], None));
        assert_eq!(index.images.len(), 2);
        assert_eq!(index.images[0].names, vec!["x.io/a:1"]);
        assert_eq!(
            index.images[1].names,
            vec!["docker.io/library/busybox:latest"]
        );
        index.add(record("a", &["docker.io/library/other:1"], None));
        assert_eq!(
            index.images[0].names,
            vec!["x.io/a:1", "docker.io/library/other:1"]
        );
    }

    #[test]
    fn find_by_name_id_and_prefix() {
        let mut index = ImageIndex::default();
        index.add(record("a", &["docker.io/library/busybox:latest"], None));
        index.add(record("b", &["quay.io/x/y:1"], None));
        let a = digest("a");
        let b = digest("b");
        let found = |s: &str| find_record(&index, s).map(|r| r.id.clone());
        assert_eq!(found("busybox").unwrap(), a);
        assert_eq!(found("busybox:latest").unwrap(), a);
        assert_eq!(found("docker.io/library/busybox").unwrap(), a);
        assert_eq!(found("quay.io/x/y:1").unwrap(), b);
        assert_eq!(found(&a.to_string()).unwrap(), a);
        assert_eq!(found(&a.hex()[..5]).unwrap(), a);
        assert_eq!(found(&format!("sha256:{}", &b.hex()[..8])).unwrap(), b);
        let manifest = digest("b-manifest");
        assert_eq!(found(&format!("quay.io/x/y@{manifest}")).unwrap(), b);
        assert!(found(&format!("quay.io/x/z@{manifest}")).is_err());

        assert_eq!(
            found("busybox:1").unwrap_err().to_string(),
            "busybox:1: image not known"
        );
        assert_eq!(
            found("quay.io/x/y").unwrap_err().to_string(),
            "quay.io/x/y: image not known"
        );
        assert_eq!(
            found("Busybox").unwrap_err().to_string(),
            "invalid reference format: \"Busybox\""
        );
        assert!(matches!(
            found("sha256:zz"),
            Err(LayerError::InvalidReference { .. })
        ));
        assert!(matches!(found("fff"), Err(LayerError::NoSuchImage { .. })));
    }

    #[test]
    fn ambiguous_prefix_is_an_error_and_names_win_over_prefixes() {
        // Find two IDs sharing their first 3 hex digits.
        let mut seen = std::collections::HashMap::new();
        let (x, y) = (0..10_000)
            .find_map(|i| {
                let seed = format!("s{i}");
                let p = digest(&seed).hex()[..3].to_string();
                seen.insert(p, seed.clone()).map(|other| (other, seed))
            })
            .unwrap();
        let prefix = digest(&x).hex()[..3].to_string();
        let mut index = ImageIndex::default();
        index.add(record(&x, &[], None));
        index.add(record(&y, &[], None));
        let err = find_record(&index, &prefix).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{prefix}: image ID prefix is ambiguous: it matches 2 images")
        );
        index.add(record(
            "named",
            &[&format!("docker.io/library/{prefix}:latest")],
            None,
        ));
        assert_eq!(find_record(&index, &prefix).unwrap().id, digest("named"));
    }

    #[test]
    fn list_rows_per_name_and_untagged_newest_first() {
        let (_dir, store) = store_with(vec![
            record(
                "old",
                &["docker.io/library/busybox:latest"],
                Some("2020-01-01T00:00:00Z"),
            ),
            record(
                "new",
                &["docker.io/library/app:1", "localhost:5000/app:2"],
                Some("2024-01-01T00:00:00+01:00"),
            ),
            record(
                "mid",
                &["docker.io/library/busybox:latest"],
                Some("2022-06-01T00:00:00.5Z"),
            ),
            record("nodate", &[], None),
        ]);
        let rows: Vec<(String, String, Digest)> = store
            .list_images()
            .unwrap()
            .into_iter()
            .map(|r| (r.repository, r.tag, r.id))
            .collect();
        let s = |a: &str, b: &str, seed: &str| (a.to_string(), b.to_string(), digest(seed));
        assert_eq!(
            rows,
            vec![
                s("docker.io/library/app", "1", "new"),
                s("localhost:5000/app", "2", "new"),
                s("docker.io/library/busybox", "latest", "mid"),
                s(NONE, NONE, "old"),
                s(NONE, NONE, "nodate"),
            ]
        );
    }

    #[test]
    fn concurrent_index_updates_lose_nothing() {
        let (_dir, store) = store_with(vec![]);
        let root = store.root().to_path_buf();
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let root = root.clone();
                std::thread::spawn(move || {
                    let store = Store::open(&root).unwrap();
                    for i in 0..10 {
                        let name = format!("docker.io/library/t{t}:{i}");
                        // Half the threads share an image, half add their own.
                        let seed = if t % 2 == 0 {
                            "shared".to_string()
                        } else {
                            format!("{t}-{i}")
                        };
                        store
                            .update_index(|index| index.add(record(&seed, &[&name], None)))
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let index = store.read_index().unwrap();
        let mut names: Vec<&String> = index.images.iter().flat_map(|r| &r.names).collect();
        names.sort();
        assert_eq!(names.len(), 80, "{names:?}");
        names.dedup();
        assert_eq!(names.len(), 80);
        assert_eq!(index.images.len(), 1 + 40);
    }

    #[test]
    fn docker_style_configs_parse() {
        let config = r##"{
            "architecture": "amd64",
            "config": {
                "Hostname": "", "Domainname": "", "User": "", "AttachStdin": false,
                "Tty": false, "OpenStdin": false, "StdinOnce": false,
                "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                "Cmd": ["sh"], "Image": "sha256:abc", "Volumes": null, "WorkingDir": "",
                "Entrypoint": null, "OnBuild": null, "Labels": null,
                "ExposedPorts": {"80/tcp": {}},
                "Healthcheck": {"Test": ["CMD", "true"], "Interval": 1000000000},
                "ArgsEscaped": true
            },
            "container": "0123456789",
            "container_config": {"Hostname": "x", "Cmd": ["/bin/sh", "-c", "#(nop) CMD [\"sh\"]"]},
            "created": "2023-05-19T20:19:24.451335543Z",
            "docker_version": "20.10.23",
            "history": [
                {"created": "2023-05-19T20:19:24Z", "created_by": "ADD file:abc in / "},
                {"created": "2023-05-19T20:19:24Z", "created_by": "CMD [\"sh\"]", "empty_layer": true}
            ],
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": ["sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]},
            "variant": "v8"
        }"##;
        let parsed = parse_config(config.as_bytes(), "config x").unwrap();
        let cfg = parsed.config().as_ref().unwrap();
        assert_eq!(cfg.cmd().as_deref(), Some(&["sh".to_string()][..]));
        assert_eq!(
            cfg.exposed_ports().as_deref(),
            Some(&["80/tcp".to_string()][..])
        );
        assert_eq!(parsed.rootfs().diff_ids().len(), 1);
        assert_eq!(
            parsed.created().as_deref(),
            Some("2023-05-19T20:19:24.451335543Z")
        );
        let err = parse_config(b"{\"os\": 1}", "config y")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("config y: invalid image config: "), "{err}");
    }
}
