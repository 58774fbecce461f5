//! A new image from an existing one plus one more layer (`skiff commit`):
//! the base's layers are shared, the new layer is stored and unpacked like
//! any other, and the config gains the diff ID and a history entry.

use std::io::Read;
use std::time::SystemTime;

use super::config_changes::{apply_changes, validate_changes};
use super::image::{ImageRecord, find_record};
use super::manifest::synthesize_manifest;
use super::store::tree_size;
use super::{Digest, ImageReference, LayerError, Store};
use crate::timestamp::format_rfc3339_utc;

/// What `commit` (and `import`) record beside the layer.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    pub reference: Option<String>,
    pub author: Option<String>,
    pub message: Option<String>,
    /// `--change` instructions applied to the config.
    pub changes: Vec<String>,
    /// `created_by` in the history entry.
    pub created_by: String,
}

fn other(e: impl std::fmt::Display) -> LayerError {
    LayerError::Other(e.to_string())
}

impl Store {
    /// Stores `layer_tar` (a docker-format layer: whiteouts as `.wh.`
    /// files) on top of image `base` and returns the new image's ID.
    pub fn commit_image(
        &self,
        base: &str,
        layer_tar: &mut dyn Read,
        options: &CommitOptions,
    ) -> Result<Digest, LayerError> {
        let name = options
            .reference
            .as_deref()
            .map(ImageReference::parse)
            .transpose()?
            .map(|r| r.to_string());
        let index = self.read_index()?;
        let base = find_record(&index, base)?.clone();

        validate_changes(&options.changes)?;
        let (blob, blob_size) = self.put_blob(layer_tar, None, None, "committed layer")?;
        let layer = self.ensure_layer(&blob, None, "committed layer")?;
        let size = layer
            .size
            .unwrap_or_else(|| tree_size(&self.layer_dir(&layer.diff_id)));

        let now = format_rfc3339_utc(SystemTime::now());
        let mut config: serde_json::Value =
            serde_json::from_slice(&self.read_blob(&base.id)?).map_err(other)?;
        let diff_ids = config
            .pointer_mut("/rootfs/diff_ids")
            .and_then(|d| d.as_array_mut())
            .ok_or_else(|| other(format!("config {} has no rootfs.diff_ids", base.id)))?;
        diff_ids.push(serde_json::Value::String(layer.diff_id.to_string()));
        config["created"] = now.clone().into();
        if let Some(author) = &options.author {
            config["author"] = author.clone().into();
        }
        let mut entry = serde_json::json!({ "created": now, "created_by": options.created_by });
        if let Some(message) = &options.message {
            entry["comment"] = message.clone().into();
        }
        apply_changes(&mut config, &options.changes)?;
        match config.get_mut("history").and_then(|h| h.as_array_mut()) {
            Some(history) => history.push(entry),
            None => config["history"] = serde_json::json!([entry]),
        }
        let config = serde_json::to_vec(&config).map_err(other)?;
        let id = self.put_blob_bytes(&config, "image config")?;

        // The base's layer blobs, as its manifest lists them, then ours.
        let manifest: serde_json::Value =
            serde_json::from_slice(&self.read_blob(&base.manifest)?).map_err(other)?;
        let mut blobs = Vec::new();
        for descriptor in manifest["layers"].as_array().into_iter().flatten() {
            let digest = Digest::parse(descriptor["digest"].as_str().unwrap_or_default())?;
            let size = descriptor["size"].as_u64().unwrap_or(0);
            let compression = self.blob_compression(&digest)?;
            blobs.push((digest, size, compression));
        }
        let compression = self.blob_compression(&blob)?;
        blobs.push((blob, blob_size, compression));
        let manifest = synthesize_manifest((&id, config.len() as u64), &blobs)?;
        let manifest = self.put_blob_bytes(&manifest, "image manifest")?;

        let mut diff_ids = base.diff_ids.clone();
        diff_ids.push(layer.diff_id);
        let mut layer_sizes = base.layer_sizes.clone();
        layer_sizes.push(size);
        let record = ImageRecord {
            id: id.clone(),
            names: name.into_iter().collect(),
            manifest,
            size: layer_sizes.iter().sum(),
            diff_ids,
            layer_sizes,
            created: Some(now),
            intermediate: false,
        };
        self.update_index(|index| index.add(record))?;
        Ok(id)
    }
}
