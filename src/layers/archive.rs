//! Images arriving as files: `docker save` archives, OCI image layout
//! archives, and plain rootfs tarballs (`skiff import`).
//!
//! An archive is spooled and read in place (see `spooled.rs`).
//!
//! Every image of an archive is verified and its blobs and layers stored
//! before the index is touched, once, at the end: a failed load adds no
//! image (orphan blobs and layers may stay, for GC).

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::time::SystemTime;

use serde::Deserialize;

use super::assemble::{LayerBlob, NewImage};
use super::commit::CommitOptions;
use super::compression::Compression;
use super::config_changes::{apply_changes, validate_changes};
use super::digest::Digest;
use super::image::{ImageIndex, ImageRecord, parse_config};
use super::manifest::{Descriptor, OciDocument, Platform, host_goarch, synthesize_manifest};
use super::reference::ImageReference;
use super::spooled::Members;
use super::store::{Store, tree_size};
use super::unpack::UnpackStats;
use super::{LayerError, invalid, io_error};
use crate::timestamp::format_rfc3339_utc;

/// Full image name annotation written by containerd and docker ≥ 25.
const CONTAINERD_NAME: &str = "io.containerd.image.name";
const OCI_REF_NAME: &str = "org.opencontainers.image.ref.name";

/// What a load did: the references (or IDs of untagged images) loaded,
/// and the unpack counters a caller may warn about.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    pub images: Vec<String>,
    pub stats: UnpackStats,
}

impl Store {
    /// Loads a docker-archive or oci-archive; returns the references (or
    /// image IDs when untagged) it loaded.
    pub fn load_archive(&self, archive: &mut dyn Read) -> Result<Vec<String>, LayerError> {
        self.load_archive_report(archive).map(|r| r.images)
    }

    /// `load_archive`, also returning the unpack counters.
    pub fn load_archive_report(&self, archive: &mut dyn Read) -> Result<LoadReport, LayerError> {
        self.load(archive)
            .map_err(|e| LayerError::Archive { inner: Box::new(e) })
    }

    fn load(&self, input: &mut dyn Read) -> Result<LoadReport, LayerError> {
        let file = self.spool(input)?;
        let members = Members::scan(&file)?;
        let known = self.read_index()?;
        let mut loader = Loader {
            store: self,
            members,
            known,
            stats: UnpackStats::default(),
        };
        // docker ≥ 25 (and `skiff save`) write both layouts; the OCI one
        // keeps the manifests, so a loaded image keeps its digest.
        let images = if loader.members.has("oci-layout") && loader.members.has("index.json") {
            loader.oci_archive()?
        } else if loader.members.has("manifest.json") {
            loader.docker_archive()?
        } else {
            return Err(invalid(
                "archive",
                "neither a docker-archive (no manifest.json) nor an oci-archive (no oci-layout, index.json)",
            ));
        };
        let loaded = images
            .iter()
            .map(PendingImage::shown_names)
            .collect::<Vec<_>>()
            .concat();
        self.update_index(|index| {
            for image in images {
                index.add(image.record);
            }
        })?;
        Ok(LoadReport {
            images: loaded,
            stats: loader.stats,
        })
    }

    /// Loads an OCI image layout directory (`save --format oci-dir`): it
    /// is packed into a tar under `tmp/` and loaded like an archive.
    pub fn load_directory(&self, dir: &std::path::Path) -> Result<LoadReport, LayerError> {
        let tmp = super::store::TempGuard::new(self.temp_path("layout"));
        let file = File::create(tmp.path()).map_err(io_error("creating", tmp.path()))?;
        let mut builder = tar::Builder::new(file);
        builder.follow_symlinks(false);
        builder
            .append_dir_all(".", dir)
            .map_err(|e| invalid(dir.display().to_string(), format!("reading: {e}")))?;
        builder
            .into_inner()
            .map_err(io_error("writing", tmp.path()))?;
        let mut packed = File::open(tmp.path()).map_err(io_error("opening", tmp.path()))?;
        self.load_archive_report(&mut packed)
    }

    /// Turns a plain rootfs tarball into a one-layer image.
    pub fn import_rootfs(
        &self,
        tarball: &mut dyn Read,
        reference: Option<&str>,
    ) -> Result<Digest, LayerError> {
        let options = CommitOptions {
            reference: reference.map(str::to_string),
            ..CommitOptions::default()
        };
        self.import_rootfs_report(tarball, &options)
            .map(|(id, _)| id)
    }

    /// `import_rootfs` with a message and `--change`s (`options`'
    /// `created_by` is ignored), also returning the unpack counters.
    pub fn import_rootfs_report(
        &self,
        tarball: &mut dyn Read,
        options: &CommitOptions,
    ) -> Result<(Digest, UnpackStats), LayerError> {
        validate_changes(&options.changes)?;
        let name = options
            .reference
            .as_deref()
            .map(ImageReference::parse)
            .transpose()?
            .map(|r| r.to_string());
        let (blob, blob_size) = self.put_blob(tarball, None, None, "rootfs tarball")?;
        let compression = self.blob_compression(&blob)?;
        let layer = self.ensure_layer(&blob, None, &blob.to_string())?;
        let size = match layer.size {
            Some(size) => size,
            None => tree_size(&self.layer_dir(&layer.diff_id)),
        };
        let now = format_rfc3339_utc(SystemTime::now());
        let mut history = serde_json::json!({ "created": now, "created_by": "skiff import" });
        if let Some(message) = &options.message {
            history["comment"] = message.clone().into();
        }
        let mut config = serde_json::json!({
            "created": now,
            "architecture": host_goarch(),
            "os": "linux",
            "config": {},
            "rootfs": { "type": "layers", "diff_ids": [layer.diff_id.to_string()] },
            "history": [history],
        });
        apply_changes(&mut config, &options.changes)?;
        let config = serde_json::to_vec(&config).map_err(|e| LayerError::Other(e.to_string()))?;
        let id = self.put_blob_bytes(&config, "image config")?;
        let manifest = synthesize_manifest(
            (&id, config.len() as u64),
            &[(blob, blob_size, compression)],
        )?;
        let manifest = self.put_blob_bytes(&manifest, "image manifest")?;
        let record = ImageRecord {
            id: id.clone(),
            names: name.into_iter().collect(),
            manifest,
            diff_ids: vec![layer.diff_id],
            layer_sizes: vec![size],
            size,
            created: Some(now),
            intermediate: false,
        };
        self.update_index(|index| index.add(record))?;
        Ok((id, layer.stats))
    }

    pub(crate) fn blob_compression(&self, blob: &Digest) -> Result<Compression, LayerError> {
        let path = self.blob_path(blob);
        let file = File::open(&path).map_err(io_error("opening", &path))?;
        let mut magic = [0u8; 4];
        let n = file
            .read_at(&mut magic, 0)
            .map_err(io_error("reading", &path))?;
        Ok(Compression::detect(&magic[..n]))
    }
}

/// An image verified and stored, waiting for the index update.
struct PendingImage {
    record: ImageRecord,
}

impl PendingImage {
    fn shown_names(&self) -> Vec<String> {
        if self.record.names.is_empty() {
            vec![self.record.id.to_string()]
        } else {
            self.record.names.clone()
        }
    }
}

/// One image of a `docker save` manifest.json.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifestEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// The digest a docker-archive member name carries: `<hex>.json` or
/// `blobs/sha256/<hex>`; `None` for `<v1 id>/layer.tar`.
fn digest_in_name(name: &str) -> Option<Digest> {
    if let Some(hex) = name.strip_prefix("blobs/sha256/") {
        return Digest::from_hex(hex).ok();
    }
    let file = name.rsplit('/').next()?;
    Digest::from_hex(file.strip_suffix(".json")?).ok()
}

struct Loader<'s, 'f> {
    store: &'s Store,
    members: Members<'f>,
    /// The index as it was when the load started: recorded layer sizes.
    known: ImageIndex,
    stats: UnpackStats,
}

impl Loader<'_, '_> {
    fn docker_archive(&mut self) -> Result<Vec<PendingImage>, LayerError> {
        let data = self.members.read("manifest.json")?;
        let entries: Vec<DockerManifestEntry> = serde_json::from_slice(&data)
            .map_err(|e| invalid("manifest.json", format!("invalid JSON: {e}")))?;
        if entries.is_empty() {
            return Err(invalid("manifest.json", "lists no images"));
        }
        let mut images = Vec::new();
        for entry in entries {
            let config = self.members.read(&entry.config)?;
            let subject = format!("config {}", entry.config);
            let actual = Digest::of_bytes(&config);
            if let Some(expected) = digest_in_name(&entry.config)
                && expected != actual
            {
                return Err(LayerError::DigestMismatch {
                    subject,
                    expected,
                    actual,
                });
            }
            let mut names = Vec::new();
            for tag in entry.repo_tags.unwrap_or_default() {
                let reference = ImageReference::parse(&tag)
                    .map_err(|e| invalid("manifest.json", e.to_string()))?;
                names.push(reference.to_string());
            }
            let mut layers = Vec::new();
            for name in &entry.layers {
                let size = self.members.size(name)?;
                layers.push((name.clone(), digest_in_name(name), size));
            }
            images.push(self.store_image(&config, &subject, &layers, None, names)?);
        }
        Ok(images)
    }

    fn oci_archive(&mut self) -> Result<Vec<PendingImage>, LayerError> {
        let data = self.members.read("index.json")?;
        let index = OciDocument::parse(&data, "index.json")?;
        let descriptors = index.manifests.unwrap_or_default();
        if descriptors.is_empty() {
            return Err(invalid("index.json", "lists no manifests"));
        }
        let mut images = Vec::new();
        for descriptor in &descriptors {
            let names = oci_names(&descriptor.annotations);
            let (manifest_digest, manifest) = self.resolve_manifest(descriptor, 0)?;
            let config_desc = manifest.config(&format!("manifest {manifest_digest}"))?;
            let config = self.read_blob_member(config_desc, "config")?;
            let subject = format!("config {}", config_desc.digest);
            let mut layers = Vec::new();
            for layer in &manifest.layers {
                let digest = Digest::parse(&layer.digest)?;
                layers.push((
                    format!("blobs/sha256/{}", digest.hex()),
                    Some(digest),
                    layer.size,
                ));
            }
            images.push(self.store_image(
                &config,
                &subject,
                &layers,
                Some(manifest_digest),
                names,
            )?);
        }
        Ok(images)
    }

    /// Follows nested image indexes (choosing linux on the host
    /// architecture) down to an image manifest, returning its digest and
    /// parsed content.
    fn resolve_manifest(
        &self,
        descriptor: &Descriptor,
        depth: u32,
    ) -> Result<(Digest, OciDocument), LayerError> {
        if depth > 4 {
            return Err(invalid(
                format!("manifest {}", descriptor.digest),
                "image indexes nest too deep",
            ));
        }
        let data = self.read_blob_member(descriptor, "manifest")?;
        let digest = Digest::parse(&descriptor.digest)?;
        let document = OciDocument::parse(&data, &format!("manifest {digest}"))?;
        if !document.is_index(descriptor.media_type.as_deref()) {
            return Ok((digest, document));
        }
        let chosen = document.choose(&Platform::host(), &format!("image index {digest}"))?;
        self.resolve_manifest(chosen, depth + 1)
    }

    /// Reads a small blob named by `descriptor` and checks digest and size.
    fn read_blob_member(&self, descriptor: &Descriptor, what: &str) -> Result<Vec<u8>, LayerError> {
        let digest = Digest::parse(&descriptor.digest)?;
        let name = format!("blobs/sha256/{}", digest.hex());
        let subject = format!("{what} {name}");
        let data = self.members.read(&name)?;
        let actual = Digest::of_bytes(&data);
        if actual != digest {
            return Err(LayerError::DigestMismatch {
                subject,
                expected: digest,
                actual,
            });
        }
        if data.len() as u64 != descriptor.size {
            return Err(LayerError::SizeMismatch {
                subject,
                expected: descriptor.size,
                actual: data.len() as u64,
            });
        }
        Ok(data)
    }

    /// Verifies and stores one image: layer blobs (member name, digest its
    /// name or descriptor carries, size), then the config, the unpacked
    /// layers and the manifest (`manifest` when the archive had one, else
    /// synthesized) through `Store::assemble_image`.
    fn store_image(
        &mut self,
        config: &[u8],
        subject: &str,
        layers: &[(String, Option<Digest>, u64)],
        manifest: Option<Digest>,
        names: Vec<String>,
    ) -> Result<PendingImage, LayerError> {
        // Refuse a malformed config before storing any layer of it.
        parse_config(config, subject)?;
        let mut blobs = Vec::new();
        for (name, digest, size) in layers {
            let mut reader = self.members.open(name)?;
            let (blob, blob_size) = self.store.put_blob(
                &mut reader,
                digest.as_ref(),
                Some(*size),
                &format!("layer {name}"),
            )?;
            blobs.push(LayerBlob {
                digest: blob,
                size: blob_size,
                label: name.clone(),
            });
        }
        let manifest = match manifest {
            Some(digest) => {
                let data = self
                    .members
                    .read(&format!("blobs/sha256/{}", digest.hex()))?;
                Some(
                    self.store
                        .put_blob_bytes(&data, &format!("manifest {digest}"))?,
                )
            }
            None => None,
        };
        let record = self.store.assemble_image(
            &NewImage {
                config,
                subject,
                layers: &blobs,
                manifest,
                names,
            },
            &self.known,
            &mut self.stats,
        )?;
        Ok(PendingImage { record })
    }
}

/// The name of an OCI index entry. `io.containerd.image.name` carries a
/// full reference. `org.opencontainers.image.ref.name` may be a full
/// reference (skopeo, podman) or a bare tag (`1.36`, docker ≥ 25 writes
/// `latest`); either way it is parsed and normalized as a reference, so a
/// bare tag `1.36` becomes `docker.io/library/1.36:latest`, the same rule
/// as any short name. An annotation that is no valid reference leaves the
/// image untagged rather than failing the load.
fn oci_names(annotations: &HashMap<String, String>) -> Vec<String> {
    [CONTAINERD_NAME, OCI_REF_NAME]
        .iter()
        .filter_map(|key| annotations.get(*key))
        .find_map(|value| ImageReference::parse(value).ok())
        .map(|r| r.to_string())
        .into_iter()
        .collect()
}

#[cfg(test)]
#[path = "archive_tests.rs"]
mod tests;
