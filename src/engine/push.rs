//! `skiff push`: a stored image to a registry.

use super::EngineError;
use crate::layers::registry::{PushEvent, RegistryOptions, push_image as push_blobs};
use crate::layers::{Digest, ImageReference, Store};
use crate::state::StorageDirs;

/// Pushes the local image `source` to `destination` (default: the name
/// `source` gave). Returns where it went and the manifest digest.
pub fn push_image(
    dirs: &StorageDirs,
    source: &str,
    destination: Option<&str>,
    options: &RegistryOptions,
    progress: &dyn Fn(&PushEvent),
) -> Result<(ImageReference, Digest), EngineError> {
    let store = Store::open(&dirs.root)?;
    let image = store.resolve_image(source)?;
    let destination = match destination {
        Some(d) => ImageReference::parse(d)?,
        None => match ImageReference::parse(source) {
            Ok(r) if image.names.contains(&r.to_string()) => r,
            _ => {
                return Err(EngineError::Invalid(format!(
                    "{source} names no repository: give a destination (skiff push {source} REGISTRY/NAME[:TAG])"
                )));
            }
        },
    };
    let digest = push_blobs(&store, &image.manifest, &destination, options, progress)?;
    Ok((destination, digest))
}
