//! `skiff pull` and the pull that `run`/`create` do for a missing image:
//! the blobs are fetched as the caller (plain files), then unpacked and
//! indexed as the store's owner (in a mapped user namespace when rootless).

use super::EngineError;
use super::images::{as_store_owner, discard_refused_content};
use super::report::Reporter;
use crate::layers::registry::{RegistryOptions, fetch_image};
use crate::layers::{Digest, ImageReference, LayerError, LocalImage, Platform, Store};
use crate::state::StorageDirs;

/// `--pull`: when `run`/`create` contact the registry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PullPolicy {
    /// Only when the image is not in the store (the default).
    #[default]
    Missing,
    Always,
    Never,
    /// Pull; keep using the local image when the registry cannot be reached.
    Newer,
}

impl PullPolicy {
    pub fn parse(s: &str) -> Result<PullPolicy, EngineError> {
        match s {
            "missing" | "ifmissing" | "ifnotpresent" => Ok(PullPolicy::Missing),
            "always" | "true" => Ok(PullPolicy::Always),
            "never" | "false" => Ok(PullPolicy::Never),
            "newer" | "ifnewer" => Ok(PullPolicy::Newer),
            other => Err(EngineError::Invalid(format!(
                "invalid pull policy {other:?}: valid values are missing, always, never, newer"
            ))),
        }
    }
}

/// What a pull asks for beyond the reference.
#[derive(Debug, Clone)]
pub struct PullOptions {
    pub platform: Platform,
    pub registry: RegistryOptions,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            platform: Platform::host(),
            registry: RegistryOptions::default(),
        }
    }
}

/// A finished pull.
#[derive(Debug, Clone)]
pub struct PulledImage {
    pub id: Digest,
    pub reference: ImageReference,
    /// The digest the reference resolved to (docker's `Digest:` line).
    pub digest: Digest,
}

/// Pulls `reference` into the store.
pub fn pull_image(
    dirs: &StorageDirs,
    reference: &str,
    options: &PullOptions,
    reporter: &dyn Reporter,
) -> Result<PulledImage, EngineError> {
    let reference = ImageReference::parse(reference)?;
    reporter.pull_started(&reference);
    let store = Store::open(&dirs.root)?;
    let gc_guard = store.lock_for_writing()?;
    let stored = fetch_image(
        &store,
        &reference,
        &options.platform,
        &options.registry,
        &|event| reporter.pull_event(event),
    )
    .map_err(EngineError::from)
    .and_then(|fetched| {
        let id = as_store_owner(dirs, reporter, |store| {
            let (id, _) = store.add_fetched_image(&fetched)?;
            Ok(id)
        })?;
        Ok((fetched, id))
    });
    drop(gc_guard);
    if stored.is_err() {
        discard_refused_content(dirs);
    }
    let (fetched, id) = stored?;
    Ok(PulledImage {
        id,
        reference,
        digest: fetched.resolved,
    })
}

/// The image `run`/`create` use: from the store, pulled first as `policy`
/// says. A pull's progress goes to `reporter`.
pub fn image_for_run(
    dirs: &StorageDirs,
    store: &Store,
    name: &str,
    policy: PullPolicy,
    options: &PullOptions,
    reporter: &dyn Reporter,
) -> Result<LocalImage, EngineError> {
    let local = store.resolve_image(name);
    let wants_pull = matches!(
        (&local, policy),
        (_, PullPolicy::Always | PullPolicy::Newer)
            | (Err(LayerError::NoSuchImage { .. }), PullPolicy::Missing)
    );
    if !wants_pull {
        return Ok(local?);
    }
    // An ID (prefix) names a local image only; there is nothing to pull.
    if ImageReference::parse(name).is_err() {
        return Ok(local?);
    }
    match pull_image(dirs, name, options, reporter) {
        Ok(pulled) => Ok(store.resolve_image(&pulled.id.to_string())?),
        Err(e) if policy == PullPolicy::Newer && local.is_ok() => {
            reporter.warning(&format!("{e}: using the local image"));
            Ok(local?)
        }
        Err(e) => Err(e),
    }
}
