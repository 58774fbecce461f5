//! The last step of every way an image arrives (archive load, registry
//! pull): with its layer blobs stored, unpack each layer (verified against
//! the config's diff-ids), store the config and manifest, and build the
//! index record. The caller adds the record to the index.

use super::compression::decompressed;
use super::digest::{Digest, HashingReader};
use super::image::{ImageIndex, ImageRecord, parse_config};
use super::manifest::{OciDocument, synthesize_manifest};
use super::store::{Store, tree_size};
use super::unpack::UnpackStats;
use super::{LayerError, invalid, io_error};

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
            // A present layer is not unpacked again, so nothing else would
            // check that this blob really holds it: a blob is only ever
            // recorded for the diff-id it was verified to produce.
            if self.layer_dir(diff_id).is_dir()
                && !self.pairing_known(known, &layer.digest, diff_id)
            {
                let actual = self.diff_id_of_blob(&layer.digest, &layer.label)?;
                if actual != *diff_id {
                    return Err(LayerError::DigestMismatch {
                        subject: format!("layer {}", layer.label),
                        expected: diff_id.clone(),
                        actual,
                    });
                }
            }
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
            intermediate: false,
        })
    }
}

impl Store {
    /// Whether an indexed image already lists layer blob `blob` as the
    /// layer `diff_id` (it was verified when that image arrived).
    fn pairing_known(&self, known: &ImageIndex, blob: &Digest, diff_id: &Digest) -> bool {
        let blob = blob.to_string();
        known
            .images
            .iter()
            .filter(|r| r.diff_ids.contains(diff_id))
            .any(|r| {
                let Ok(data) = self.read_blob(&r.manifest) else {
                    return false;
                };
                let Ok(document) = OciDocument::parse(&data, "manifest") else {
                    return false;
                };
                document
                    .layers
                    .iter()
                    .zip(&r.diff_ids)
                    .any(|(l, d)| d == diff_id && l.digest == blob)
            })
    }

    /// The diff-id of a stored layer blob: the digest of its uncompressed
    /// stream, read through without unpacking.
    fn diff_id_of_blob(&self, blob: &Digest, label: &str) -> Result<Digest, LayerError> {
        let path = self.blob_path(blob);
        let mut file = std::fs::File::open(&path).map_err(io_error("opening", &path))?;
        let read_error =
            |e: std::io::Error| invalid(format!("layer {label}"), format!("reading: {e}"));
        let stream = decompressed(&mut file).map_err(read_error)?;
        let (digest, _) = HashingReader::new(stream)
            .drain_and_finish()
            .map_err(read_error)?;
        Ok(digest)
    }
}
