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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    pub blobs: usize,
    pub layers: usize,
    /// Bytes freed (blob sizes plus unpacked layer sizes).
    pub bytes: u64,
}

impl Store {
    /// Removes every blob and layer no indexed image uses.
    pub fn collect_garbage(&self) -> Result<GcReport, LayerError> {
        let _lock = self.lock_for_gc()?;
        self.sweep_stale_temp();
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
        let mut report = GcReport::default();
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
        Ok(report)
    }
}
