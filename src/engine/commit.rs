//! `skiff commit`: a container's upper layer becomes a new image layer on
//! top of its image. Overlay's whiteouts are turned back into the image
//! format's `.wh.` entries and skiff's own mount points are left out
//! (`layers::write_layer_tar`).

use std::io::{Seek, SeekFrom};

use super::EngineError;
use super::changes::skiff_mount_points;
use super::images::with_store_as_owner;
use super::lookup::find_container;
use super::report::Reporter;
use crate::layers::{CommitOptions, Digest, write_layer_tar};
use crate::sandbox::userns::run_in_new_userns;
use crate::state::{ContainerStore, StorageDirs};

/// Commits the container's changes as a new image; returns its ID.
pub fn commit_container(
    dirs: &StorageDirs,
    name: &str,
    options: &CommitOptions,
    reporter: &dyn Reporter,
) -> Result<Digest, EngineError> {
    let containers = ContainerStore::new(dirs);
    let record = find_container(&containers, name)?;
    let upper = containers.paths(&record.id).dir.join("upper");
    let mount_points = skiff_mount_points(&record);
    let mut tar = super::copy::temp_file()?;
    // Rootless, the container's files belong to subordinate IDs: they are
    // read (owners recorded as the container sees them) and the new layer
    // unpacked from inside a mapped user namespace.
    // A container with a mapping of its own is read through that mapping
    // (so owners come out as it sees them, the image's for its files),
    // then stored as the store's owner.
    let own_mapping = record.config.userns.is_some();
    if own_mapping {
        let spec = super::launch::LaunchPlan::load_spec(&containers.paths(&record.id))?;
        let maps = super::copy::container_mappings(&spec);
        run_in_new_userns(&maps, || -> Result<(), EngineError> {
            write_layer_tar(&upper, &mount_points, &mut tar)?;
            Ok(())
        })?;
    }
    with_store_as_owner(dirs, reporter, |store| {
        if !own_mapping {
            write_layer_tar(&upper, &mount_points, &mut tar)?;
        }
        tar.seek(SeekFrom::Start(0))
            .map_err(EngineError::io("rewinding the layer"))?;
        Ok(store.commit_image(&record.image_id, &mut tar, options)?)
    })
}
