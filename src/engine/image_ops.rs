//! Managing stored images: tag, untag, rmi, prune, history, inspect.
//! Removal refuses images that containers use (`force` removes those
//! containers first, as podman does); freed blobs and layers are
//! collected at the end, as the store's owner.

use serde_json::{Value, json};

use super::EngineError;
use super::images::as_store_owner;
use super::lifecycle::remove_container;
use super::report::Reporter;
use crate::layers::{Digest, GcReport, ImageReference, LayerError, Removal, Store};
use crate::state::{ContainerStore, StorageDirs};

/// `skiff tag SOURCE TARGET…`.
pub fn tag_image(dirs: &StorageDirs, source: &str, targets: &[String]) -> Result<(), EngineError> {
    let store = Store::open(&dirs.root)?;
    for target in targets {
        store.tag_image(source, target)?;
    }
    Ok(())
}

/// `skiff untag IMAGE [NAME…]`: returns the names removed.
pub fn untag_image(
    dirs: &StorageDirs,
    source: &str,
    names: &[String],
) -> Result<Vec<String>, EngineError> {
    Ok(Store::open(&dirs.root)?.untag_image(source, names)?)
}

/// The containers (IDs) created from image `id`.
fn containers_using(dirs: &StorageDirs, id: &Digest) -> Vec<String> {
    let store = ContainerStore::new(dirs);
    let id = id.to_string();
    store
        .list_ids()
        .into_iter()
        .filter(|c| store.load(c).is_ok_and(|r| r.image_id == id))
        .collect()
}

/// `skiff rmi NAME…`: for each name, in order, its lines (`Removed
/// container: …`, `Untagged: …`, `Deleted: …`) or its error. `force`
/// removes the containers using the images first; `all_names` deletes an
/// image with several names (`-f`, `-a`). Names are resolved before any
/// is removed, so several names of one image are all untagged and the
/// image deleted once (`Store::remove_images`). Content is freed by
/// `collect_garbage` afterwards.
pub fn remove_images(
    dirs: &StorageDirs,
    names: &[String],
    force: bool,
    all_names: bool,
) -> Result<Vec<Result<Vec<String>, EngineError>>, EngineError> {
    let store = Store::open(&dirs.root)?;
    let mut results: Vec<Result<Vec<String>, EngineError>> = names
        .iter()
        .map(|name| {
            let mut lines = Vec::new();
            if force {
                let image = store.resolve_image(name)?;
                for container in containers_using(dirs, &image.id) {
                    remove_container(dirs, &container, true)?;
                    lines.push(format!("Removed container: {container}"));
                }
            }
            Ok(lines)
        })
        .collect();
    // The names whose containers are gone go on to the index, in order.
    let remaining: Vec<String> = results
        .iter()
        .zip(names)
        .filter(|(result, _)| result.is_ok())
        .map(|(_, name)| name.clone())
        .collect();
    let in_use = |id: &Digest| containers_using(dirs, id).into_iter().next();
    let mut removals = store
        .remove_images(&remaining, force || all_names, &in_use)?
        .into_iter();
    for result in results.iter_mut() {
        let Ok(lines) = result else { continue };
        match removals.next() {
            Some(Ok(None)) | None => {}
            Some(Ok(Some(Removal::Untagged(n)))) => lines.push(format!("Untagged: {n}")),
            Some(Ok(Some(Removal::Deleted { id, names }))) => {
                lines.extend(names.iter().map(|n| format!("Untagged: {n}")));
                lines.push(format!("Deleted: {id}"));
            }
            Some(Err(e)) => *result = Err(e.into()),
        }
    }
    Ok(results)
}

/// The IDs of every stored image (`rmi -a`).
pub fn all_image_ids(dirs: &StorageDirs) -> Result<Vec<String>, EngineError> {
    let mut seen = std::collections::HashSet::new();
    Ok(Store::open(&dirs.root)?
        .list_images()?
        .into_iter()
        .filter(|row| seen.insert(row.id.clone()))
        .map(|row| row.id.to_string())
        .collect())
}

/// `skiff image prune`: removes untagged images (`all`: every image) that
/// no container uses, then the content nothing refers to. Returns the
/// removed image IDs and what the collection freed.
pub fn prune_images(
    dirs: &StorageDirs,
    all: bool,
    reporter: &dyn Reporter,
) -> Result<(Vec<Digest>, GcReport), EngineError> {
    // Build cache goes only with `-a`.
    prune_images_where(dirs, reporter, &|row| {
        all || (row.repository == "<none>" && !row.intermediate)
    })
}

/// `builder prune -a`: the step cache of `skiff build` (its unnamed
/// intermediate images) that no container uses, and what only it held.
pub fn prune_build_cache_images(
    dirs: &StorageDirs,
    reporter: &dyn Reporter,
) -> Result<(Vec<Digest>, GcReport), EngineError> {
    prune_images_where(dirs, reporter, &|row| row.intermediate)
}

fn prune_images_where(
    dirs: &StorageDirs,
    reporter: &dyn Reporter,
    chosen: &dyn Fn(&crate::layers::ImageSummary) -> bool,
) -> Result<(Vec<Digest>, GcReport), EngineError> {
    let store = Store::open(&dirs.root)?;
    let mut removed = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for row in store.list_images()? {
        if !chosen(&row) || !seen.insert(row.id.clone()) {
            continue;
        }
        // Checked under the index lock: a container created meanwhile keeps
        // its image.
        let in_use = |id: &Digest| containers_using(dirs, id).into_iter().next();
        match store.remove_image(&row.id.to_string(), true, &in_use) {
            Ok(_) => removed.push(row.id),
            Err(LayerError::NoSuchImage { .. } | LayerError::ImageInUse { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let report = collect_garbage(dirs, reporter)?;
    // Build-cache entries of images now gone (entries are the caller's
    // own files, so no helper is needed).
    store.prune_build_cache();
    Ok((removed, report))
}

/// Removes blobs and layers no image uses (rootless: in the owner's user
/// namespace, since layer files belong to subordinate IDs).
pub fn collect_garbage(
    dirs: &StorageDirs,
    reporter: &dyn Reporter,
) -> Result<GcReport, EngineError> {
    as_store_owner(dirs, reporter, |store| Ok(store.collect_garbage()?))
}

/// One row of `skiff history`, newest first.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HistoryRow {
    /// The image ID on the newest row, `<missing>` below (as docker).
    pub id: String,
    pub created: Option<String>,
    pub created_by: String,
    pub size: u64,
    pub comment: String,
}

/// `skiff history IMAGE`.
pub fn image_history(dirs: &StorageDirs, name: &str) -> Result<Vec<HistoryRow>, EngineError> {
    let store = Store::open(&dirs.root)?;
    let image = store.resolve_image(name)?;
    let mut layer_sizes = image.layer_sizes.iter().copied();
    let mut rows: Vec<HistoryRow> = image
        .config
        .history()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|h| HistoryRow {
            id: "<missing>".to_string(),
            created: h.created().clone(),
            created_by: h.created_by().clone().unwrap_or_default(),
            size: if h.empty_layer().unwrap_or(false) {
                0
            } else {
                layer_sizes.next().unwrap_or(0)
            },
            comment: h.comment().clone().unwrap_or_default(),
        })
        .collect();
    rows.reverse();
    match rows.first_mut() {
        Some(top) => top.id = image.id.hex().to_string(),
        None => rows.push(HistoryRow {
            id: image.id.hex().to_string(),
            created: image.config.created().clone(),
            created_by: String::new(),
            size: image.layer_sizes.iter().sum(),
            comment: String::new(),
        }),
    }
    Ok(rows)
}

/// `skiff image inspect`: podman's fields for one image.
pub fn inspect_image(dirs: &StorageDirs, name: &str) -> Result<Value, EngineError> {
    let store = Store::open(&dirs.root)?;
    let image = store.resolve_image(name)?;
    // The config blob as stored, so docker's fields that oci-spec does
    // not model (Shell, OnBuild, a built image's Healthcheck) show.
    let config = store
        .read_blob(&image.id)
        .ok()
        .and_then(|raw| serde_json::from_slice::<Value>(&raw).ok())
        .unwrap_or_else(|| serde_json::to_value(&image.config).unwrap_or(Value::Null));
    let repo_digests: Vec<String> = image
        .names
        .iter()
        .filter_map(|n| ImageReference::parse(n).ok())
        .map(|r| format!("{}@{}", r.name(), image.manifest))
        .collect();
    let size: u64 = image.layer_sizes.iter().sum();
    let inner = config.get("config").cloned().unwrap_or(json!({}));
    Ok(json!({
        "Id": image.id.hex(),
        "Digest": image.manifest.to_string(),
        "RepoTags": image.names,
        "RepoDigests": repo_digests,
        "Created": config.get("created"),
        "Author": config.get("author").cloned().unwrap_or(json!("")),
        "Architecture": config.get("architecture"),
        "Os": config.get("os"),
        "Variant": config.get("variant"),
        "Config": inner,
        "Labels": inner.get("Labels").cloned().unwrap_or(Value::Null),
        "User": inner.get("User").cloned().unwrap_or(json!("")),
        "Size": size,
        "VirtualSize": size,
        "RootFS": {
            "Type": "layers",
            "Layers": config.pointer("/rootfs/diff_ids").cloned().unwrap_or(json!([])),
        },
        "History": config.get("history").cloned().unwrap_or(json!([])),
        "Healthcheck": image.healthcheck,
    }))
}
