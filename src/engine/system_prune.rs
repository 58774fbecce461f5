//! `skiff system prune`: stopped containers, then images nothing uses
//! (dangling ones, or all unused with `all`), then, with `volumes`, the
//! anonymous volumes no container uses; in that order, so what the
//! removed containers held is free for the later steps.

use super::EngineError;
use super::image_ops::prune_images;
use super::lifecycle::prune_containers;
use super::report::Reporter;
use super::volumes::prune_volumes;
use crate::layers::Digest;
use crate::state::StorageDirs;

/// What `system prune` removed.
#[derive(Debug, Default)]
pub struct SystemPrune {
    pub containers: Vec<String>,
    pub images: Vec<Digest>,
    pub volumes: Vec<String>,
    /// Bytes freed by the image and volume steps.
    pub bytes: u64,
}

pub fn prune_system(
    dirs: &StorageDirs,
    all_images: bool,
    volumes: bool,
    reporter: &dyn Reporter,
) -> Result<SystemPrune, EngineError> {
    let containers = prune_containers(dirs)?;
    let (images, gc) = prune_images(dirs, all_images, reporter)?;
    let (volumes, volume_bytes) = if volumes {
        prune_volumes(dirs, false, &[])?
    } else {
        (Vec::new(), 0)
    };
    Ok(SystemPrune {
        containers,
        images,
        volumes,
        bytes: gc.bytes + volume_bytes,
    })
}
