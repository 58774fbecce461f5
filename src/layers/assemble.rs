//! The last step of every way an image arrives (archive load, registry
//! pull): with its layer blobs stored, unpack each layer (verified against
//! the config's diff-ids), store the config and manifest, and build the
//! index record. The caller adds the record to the index.

use super::digest::Digest;
use super::image::{ImageIndex, ImageRecord, parse_config};
use super::manifest::synthesize_manifest;
use super::store::{Store, tree_size};
use super::unpack::UnpackStats;
use super::{LayerError, invalid};

/// A layer blob already in `blobs/`.
#[derive(Debug, Clone)]
pub struct LayerBlob {
    pub digest: Digest,
    pub size: u64,
    /// What errors call the layer (an archive member name, a digest).
    pub label: String,
}

/// An image whose blobs are stored, ready to be assembled.
pub(crate) struct NewImage<'a> {
    pub config: &'a [u8],
    /// What errors call the config.
    pub subject: &'a str,
    /// Bottom layer first.
    pub layers: &'a [LayerBlob],
    /// The manifest blob the image came with (already stored); `None`
    /// synthesizes an OCI manifest.
    pub manifest: Option<Digest>,
    pub names: Vec<String>,
}

impl Store {
    /// Unpacks and verifies the layers of `image` and stores its config
    /// (and a manifest when it had none). `known` supplies recorded sizes
    /// of layers that were already unpacked; `stats` gathers the unpack
    /// counters.
    pub(crate) fn assemble_image(
        &self,
        image: &NewImage<'_>,
        known: &ImageIndex,
        stats: &mut UnpackStats,
    ) -> Result<ImageRecord, LayerError> {
        let subject = image.subject;
        let parsed = parse_config(image.config, subject)?;
        let mut diff_ids = Vec::new();
        for (i, d) in parsed.rootfs().diff_ids().iter().enumerate() {
            diff_ids.push(
                Digest::parse(d)
                    .map_err(|e| invalid(subject, format!("rootfs.diff_ids[{i}]: {e}")))?,
            );
        }
        if diff_ids.len() != image.layers.len() {
            return Err(invalid(
                subject,
                format!(
                    "lists {} diff_ids but the image has {} layers",
                    diff_ids.len(),
                    image.layers.len()
                ),
            ));
        }
        let id = self.put_blob_bytes(image.config, subject)?;
        let mut layer_sizes = Vec::new();
        for (layer, diff_id) in image.layers.iter().zip(&diff_ids) {
            let placed = self.ensure_layer(&layer.digest, Some(diff_id), &layer.label)?;
            stats.add(&placed.stats);
            let size = placed
                .size
                .or_else(|| known.layer_size(diff_id))
                .unwrap_or_else(|| tree_size(&self.layer_dir(diff_id)));
            layer_sizes.push(size);
        }
        let manifest = match &image.manifest {
            Some(digest) => digest.clone(),
            None => {
                let mut blobs = Vec::new();
                for layer in image.layers {
                    let compression = self.blob_compression(&layer.digest)?;
                    blobs.push((layer.digest.clone(), layer.size, compression));
                }
                let data = synthesize_manifest((&id, image.config.len() as u64), &blobs)?;
                self.put_blob_bytes(&data, "image manifest")?
            }
        };
        Ok(ImageRecord {
            id,
            names: image.names.clone(),
            manifest,
            size: layer_sizes.iter().sum(),
            diff_ids,
            layer_sizes,
            created: parsed.created().clone(),
        })
    }
}
