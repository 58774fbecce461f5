//! The state of one stage while it is built: its image (config and
//! layers), whether that image is in the store's index yet, the ARGs it
//! declared, and the step counter.

use serde_json::Value;

use super::config::ImageConfig;
use super::layered::Layered;
use super::scope::StageArgs;
use crate::layers::{Digest, LayerPart, Store};

pub struct StageState {
    pub config: Value,
    pub layers: Vec<LayerPart>,
    /// The image this state is stored as (after a step that was cached or
    /// committed); `None` while it changed since (`--layers=false`).
    pub id: Option<Digest>,
    /// Whether `id` is known to be in the index (a cache hit may name an
    /// image pruned from it since; RUN needs it there).
    pub indexed: bool,
    pub args: StageArgs,
    /// CMD was set in this stage (ENTRYPOINT then keeps it, as docker).
    pub cmd_set: bool,
}

impl StageState {
    pub fn config(&mut self) -> ImageConfig<'_> {
        ImageConfig(&mut self.config)
    }

    pub fn env(&mut self) -> Vec<String> {
        self.config().env()
    }

    /// The image's files, for lookups.
    pub fn layered(&self, store: &Store) -> Layered {
        Layered {
            dirs: self
                .layers
                .iter()
                .map(|l| store.layer_dir(&l.diff_id))
                .collect(),
        }
    }

    /// What the cache key of the next step starts from.
    pub fn parent_key(&self) -> Option<String> {
        self.id.as_ref().map(|id| id.to_string())
    }
}
