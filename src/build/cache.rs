//! The build cache. Each step's result is an image (config + layers) in
//! the store, unnamed and marked intermediate; `build-cache/<key>` under
//! the store root maps the step's key to it. The key hashes the parent
//! image's ID, the instruction after substitution, the build args the
//! step sees, the content digest of COPY/ADD sources and the clamp
//! timestamp. An entry holds the whole result (config and layer list),
//! so a hit reads one small file and checks with `stat` that the config
//! blob and the layer directories are still there: no container, no tar,
//! no hashing of layers, no index read.

use std::fs;
use std::io::Write;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::layers::{Digest, LayerPart, Store};

/// What a step produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CacheEntry {
    pub image_id: Digest,
    pub config: serde_json::Value,
    pub layers: Vec<LayerPart>,
}

pub struct BuildCache {
    dir: PathBuf,
}

/// The key of a step (hex).
pub fn step_key(
    parent: &str,
    instruction: &str,
    visible_args: &[String],
    content: Option<&str>,
    timestamp: Option<i64>,
) -> String {
    let mut text = String::from("skiff-build-cache-v1\n");
    for part in [parent, instruction] {
        text.push_str(&part.len().to_string());
        text.push(':');
        text.push_str(part);
        text.push('\n');
    }
    let mut args = visible_args.to_vec();
    args.sort();
    for arg in &args {
        text.push_str(&format!("arg {}:{arg}\n", arg.len()));
    }
    if let Some(content) = content {
        text.push_str(&format!("content {content}\n"));
    }
    if let Some(ts) = timestamp {
        text.push_str(&format!("timestamp {ts}\n"));
    }
    Digest::of_bytes(text.as_bytes()).hex().to_string()
}

impl BuildCache {
    pub fn new(store: &Store) -> BuildCache {
        BuildCache {
            dir: store.root().join("build-cache"),
        }
    }

    /// The entry for `key`, if its image's content is still stored.
    pub fn get(&self, key: &str, store: &Store) -> Option<CacheEntry> {
        let data = fs::read(self.dir.join(key)).ok()?;
        let entry: CacheEntry = serde_json::from_slice(&data).ok()?;
        let present = store.blob_path(&entry.image_id).is_file()
            && entry.layers.iter().all(|l| {
                store.layer_dir(&l.diff_id).is_dir() && store.blob_path(&l.blob).is_file()
            });
        present.then_some(entry)
    }

    /// Records `entry` under `key`: a temp file renamed into place, so a
    /// reader sees a whole entry or none.
    pub fn put(&self, key: &str, entry: &CacheEntry) -> std::io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        let tmp = self.dir.join(format!(".tmp-{}-{key}", std::process::id()));
        let result = (|| {
            let mut file = fs::File::create(&tmp)?;
            file.write_all(&serde_json::to_vec(entry).map_err(std::io::Error::other)?)?;
            fs::rename(&tmp, self.dir.join(key))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_change_with_each_input_and_ignore_arg_order() {
        let base = step_key("p", "RUN x", &["A=1".into(), "B=2".into()], None, None);
        assert_eq!(
            base,
            step_key("p", "RUN x", &["B=2".into(), "A=1".into()], None, None)
        );
        for other in [
            step_key("q", "RUN x", &["A=1".into(), "B=2".into()], None, None),
            step_key("p", "RUN y", &["A=1".into(), "B=2".into()], None, None),
            step_key("p", "RUN x", &["A=1".into()], None, None),
            step_key("p", "RUN x", &["A=1".into(), "B=2".into()], Some("c"), None),
            step_key("p", "RUN x", &["A=1".into(), "B=2".into()], None, Some(0)),
            // Boundaries are part of the key.
            step_key("pR", "UN x", &["A=1".into(), "B=2".into()], None, None),
        ] {
            assert_ne!(base, other);
        }
    }

    #[test]
    fn entries_need_their_content() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let cache = BuildCache::new(&store);
        let config = store.put_blob_bytes(b"{}", "config").unwrap();
        let entry = CacheEntry {
            image_id: config,
            config: serde_json::json!({}),
            layers: vec![],
        };
        cache.put("k", &entry).unwrap();
        assert!(cache.get("k", &store).is_some());
        assert!(cache.get("other", &store).is_none());
        let missing = CacheEntry {
            image_id: Digest::of_bytes(b"gone"),
            ..entry
        };
        cache.put("k2", &missing).unwrap();
        assert!(cache.get("k2", &store).is_none());
    }
}
