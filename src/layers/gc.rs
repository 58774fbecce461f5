//! Garbage collection: blobs and unpacked layers no image in the index
//! refers to. Runs under the exclusive GC lock, so content that a pull,
//! load or commit has written but not yet indexed (they hold the lock
//! shared) is never taken for garbage. Leftover temp files of dead
//! processes go too.

use std::collections::HashSet;
use std::fs;

use super::manifest::OciDocument;
use super::store::{Store, remove_tree, tree_size};
use super::{Digest, LayerError};

/// What a collection removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GcReport {
    pub blobs: usize,
    pub layers: usize,
    /// Bytes freed (blob sizes, unpacked layer sizes, and what killed
    /// writers left under `tmp/`).
    pub bytes: u64,
}

impl Store {
    /// Removes every blob and layer no indexed image uses.
    pub fn collect_garbage(&self) -> Result<GcReport, LayerError> {
        let _lock = self.lock_for_gc()?;
        self.collect_locked()
    }

    /// `collect_garbage` unless another writer is at work (it may be
    /// about to index what looks unreferenced now): `None` then. After a
    /// refused load or pull, this removes the blobs it stored.
    pub fn collect_garbage_if_idle(&self) -> Result<Option<GcReport>, LayerError> {
        match self.try_lock_for_gc()? {
            Some(_lock) => self.collect_locked().map(Some),
            None => Ok(None),
        }
    }

    fn collect_locked(&self) -> Result<GcReport, LayerError> {
        let swept = self.sweep_stale_temp();
        let index = self.read_index()?;
        let mut blobs: HashSet<String> = HashSet::new();
        let mut layers: HashSet<String> = HashSet::new();
        for record in &index.images {
            blobs.insert(record.id.hex().to_string());
            blobs.insert(record.manifest.hex().to_string());
            layers.extend(record.diff_ids.iter().map(|d| d.hex().to_string()));
            // A manifest that cannot be read keeps nothing more alive, but
            // must not stop the collection of everything else.
            if let Ok(data) = self.read_blob(&record.manifest)
                && let Ok(document) = OciDocument::parse(&data, "manifest")
            {
                for layer in &document.layers {
                    if let Ok(d) = Digest::parse(&layer.digest) {
                        blobs.insert(d.hex().to_string());
                    }
                }
            }
        }
        let mut report = GcReport {
            bytes: swept,
            ..GcReport::default()
        };
        for (dir, keep, is_layer) in [
            (self.root().join("blobs/sha256"), &blobs, false),
            (self.root().join("layers"), &layers, true),
        ] {
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if keep.contains(&name) {
                    continue;
                }
                let path = entry.path();
                let size = if is_layer {
                    tree_size(&path)
                } else {
                    entry.metadata().map_or(0, |m| m.len())
                };
                remove_tree(&path);
                if fs::symlink_metadata(&path).is_err() {
                    report.bytes += size;
                    if is_layer {
                        report.layers += 1;
                    } else {
                        report.blobs += 1;
                    }
                }
            }
        }
        // Copies of a layer for other ID mappings go with the layer.
        let (_, bytes) = self.collect_idmapped(&layers);
        report.bytes += bytes;
        Ok(report)
    }
}
