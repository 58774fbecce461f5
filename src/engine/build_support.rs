//! What `build` needs of the engine beyond the verbs: running work as
//! the store's owner (rootless: in the mapped user namespace, where layer
//! files show the owners the image gives them), and a container's changes
//! as a stored layer (what `commit` does, without making an image).

use std::io::{Seek, SeekFrom};

use super::EngineError;
use super::changes::skiff_mount_points;
use super::images::with_store_as_owner;
use super::lookup::find_container;
use super::report::Reporter;
use crate::layers::{LayerPart, Store, write_layer_tar};
use crate::state::{ContainerStore, StorageDirs};

/// Runs `work` against the store as its owner, under the shared GC lock
/// (see `images::with_store_as_owner`); what a refused `work` stored is
/// collected.
pub fn as_store_owner<T>(
    dirs: &StorageDirs,
    reporter: &dyn Reporter,
    work: impl FnOnce(&Store) -> Result<T, EngineError>,
) -> Result<T, EngineError>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    with_store_as_owner(dirs, reporter, work)
}

/// Rootless: starts making the user namespace the build's store work and
/// RUN steps share, in the background (see `images::begin_owner_userns`).
pub fn begin_owner_userns(reporter: &dyn Reporter) {
    super::images::begin_owner_userns(reporter)
}

/// Stores the changes of container `name` (its upper directory, skiff's
/// own mount points left out) as a layer. `rewrite` may transform the
/// layer tar (a build clamps its times) before it is stored.
pub fn store_container_layer(
    dirs: &StorageDirs,
    name: &str,
    rewrite: &(dyn Fn(&mut std::fs::File) -> Result<std::fs::File, EngineError> + Sync),
    reporter: &dyn Reporter,
) -> Result<LayerPart, EngineError> {
    let containers = ContainerStore::new(dirs);
    let record = find_container(&containers, name)?;
    let upper = containers.paths(&record.id).dir.join("upper");
    let mount_points = skiff_mount_points(&record);
    with_store_as_owner(dirs, reporter, |store| {
        let mut tar = super::copy::temp_file()?;
        write_layer_tar(&upper, &mount_points, &mut tar)?;
        tar.seek(SeekFrom::Start(0))
            .map_err(EngineError::io("rewinding the layer"))?;
        let mut tar = rewrite(&mut tar)?;
        Ok(store.store_layer_tar(&mut tar, "layer of a RUN step")?)
    })
}

/// `user[:group]` (names or IDs) as the image's `/etc/passwd` and
/// `/etc/group` resolve it: `COPY --chown`.
pub fn resolve_owner(
    spec: &str,
    passwd: Option<&str>,
    group: Option<&str>,
) -> Result<(u32, u32), EngineError> {
    let user = crate::sandbox::user::resolve_user(spec, passwd, group)?;
    Ok((user.uid, user.gid))
}

/// Removes a build's scratch tree (a `RUN --mount=from=` copy, a private
/// cache directory); rootless, files a step's container made may belong
/// to other IDs, so a mapped namespace removes what plain removal cannot.
pub fn remove_scratch_tree(dir: &std::path::Path) -> Result<(), EngineError> {
    super::cleanup::remove_tree(dir, None)
}
