//! The store's side of `skiff build`: an image taken apart into its raw
//! config and layers, a layer tar stored as a layer, and an image put
//! together from a config the builder wrote and the layers it collected.
//! The config is kept as JSON (`serde_json::Value`), not as oci-spec's
//! type, so docker's fields the OCI config does not model (Healthcheck,
//! OnBuild, Shell) survive a build.

use std::io::Read;

use serde::{Deserialize, Serialize};

use super::image::{ImageRecord, find_record};
use super::manifest::synthesize_manifest;
use super::store::tree_size;
use super::{Digest, LayerError, Store, invalid};

/// One layer of an image: its blob as the manifest lists it and the
/// unpacked layer it gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerPart {
    pub blob: Digest,
    pub blob_size: u64,
    pub diff_id: Digest,
    /// Unpacked size in bytes.
    pub size: u64,
}

/// An image as the builder edits it.
#[derive(Debug, Clone)]
pub struct ImageParts {
    pub id: Digest,
    /// The whole config blob (docker's spelling).
    pub config: serde_json::Value,
    /// Bottom layer first.
    pub layers: Vec<LayerPart>,
}

impl Store {
    /// The config and layers of a stored image (by name or ID).
    pub fn image_parts(&self, name_or_id: &str) -> Result<ImageParts, LayerError> {
        let index = self.read_index()?;
        let record = find_record(&index, name_or_id)?.clone();
        let subject = format!("image {}", record.id);
        let config: serde_json::Value = serde_json::from_slice(&self.read_blob(&record.id)?)
            .map_err(|e| invalid(&subject, format!("config: {e}")))?;
        let manifest: serde_json::Value =
            serde_json::from_slice(&self.read_blob(&record.manifest)?)
                .map_err(|e| invalid(&subject, format!("manifest: {e}")))?;
        let descriptors = manifest["layers"].as_array().cloned().unwrap_or_default();
        if descriptors.len() != record.diff_ids.len() {
            return Err(invalid(
                &subject,
                "its manifest and its config list different numbers of layers",
            ));
        }
        let mut layers = Vec::with_capacity(descriptors.len());
        for (i, (descriptor, diff_id)) in descriptors.iter().zip(&record.diff_ids).enumerate() {
            let blob = Digest::parse(descriptor["digest"].as_str().unwrap_or_default())?;
            layers.push(LayerPart {
                blob,
                blob_size: descriptor["size"].as_u64().unwrap_or(0),
                diff_id: diff_id.clone(),
                size: record.layer_sizes.get(i).copied().unwrap_or_else(|| {
                    index
                        .layer_size(diff_id)
                        .unwrap_or_else(|| tree_size(&self.layer_dir(diff_id)))
                }),
            });
        }
        Ok(ImageParts {
            id: record.id,
            config,
            layers,
        })
    }

    /// Stores a docker-format layer tar as a blob and an unpacked layer
    /// (rootless: call it as the store's owner, so owners are mapped).
    pub fn store_layer_tar(
        &self,
        tar: &mut dyn Read,
        label: &str,
    ) -> Result<LayerPart, LayerError> {
        let (blob, blob_size) = self.put_blob(tar, None, None, label)?;
        let placed = self.ensure_layer(&blob, None, label)?;
        let size = placed
            .size
            .unwrap_or_else(|| tree_size(&self.layer_dir(&placed.diff_id)));
        Ok(LayerPart {
            blob,
            blob_size,
            diff_id: placed.diff_id,
            size,
        })
    }

    /// Writes `config` (whose `rootfs.diff_ids` must be `layers`'s) and a
    /// manifest for it, and records the image under `names` (moved from
    /// any other image). `intermediate`: a build step kept as cache.
    pub fn put_built_image(
        &self,
        config: &serde_json::Value,
        layers: &[LayerPart],
        names: &[String],
        intermediate: bool,
    ) -> Result<Digest, LayerError> {
        let bytes = serde_json::to_vec(config).map_err(|e| LayerError::Other(e.to_string()))?;
        let id = self.put_blob_bytes(&bytes, "image config")?;
        let mut blobs = Vec::with_capacity(layers.len());
        for layer in layers {
            let compression = self.blob_compression(&layer.blob)?;
            blobs.push((layer.blob.clone(), layer.blob_size, compression));
        }
        let manifest = synthesize_manifest((&id, bytes.len() as u64), &blobs)?;
        let manifest = self.put_blob_bytes(&manifest, "image manifest")?;
        let layer_sizes: Vec<u64> = layers.iter().map(|l| l.size).collect();
        let record = ImageRecord {
            id: id.clone(),
            names: names.to_vec(),
            manifest,
            size: layer_sizes.iter().sum(),
            diff_ids: layers.iter().map(|l| l.diff_id.clone()).collect(),
            layer_sizes,
            created: config["created"].as_str().map(str::to_string),
            intermediate,
        };
        self.update_index(|index| index.add(record))?;
        Ok(id)
    }

    /// Removes the build cache's entries (`build-cache/<key>`, JSON with
    /// an `image_id`) whose image config is no longer stored: after a
    /// prune and its collection they could never hit again. Returns how
    /// many went.
    pub fn prune_build_cache(&self) -> usize {
        let dir = self.root().join("build-cache");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return 0;
        };
        let mut removed = 0;
        for entry in entries.flatten() {
            // Another build's entry being written.
            if entry.file_name().to_string_lossy().starts_with(".tmp-") {
                continue;
            }
            let stale = std::fs::read(entry.path())
                .ok()
                .and_then(|data| serde_json::from_slice::<serde_json::Value>(&data).ok())
                .and_then(|v| v["image_id"].as_str().map(str::to_string))
                .and_then(|id| Digest::parse(&id).ok())
                .is_none_or(|id| !self.blob_path(&id).is_file());
            if stale && std::fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        removed
    }
}
