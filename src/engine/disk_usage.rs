//! `skiff system df`: what images, containers and volumes take on disk, and what
//! removing the unused ones would give back.

use std::collections::HashSet;

use super::EngineError;
use super::lookup::list_containers;
use super::volumes::list_volumes;
use crate::layers::{Store, tree_size};
use crate::state::{ContainerStore, StorageDirs};

/// One line of `system df`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct UsageLine {
    pub total: usize,
    pub active: usize,
    /// Bytes on disk.
    pub size: u64,
    /// Bytes that removing what is not active would free.
    pub reclaimable: u64,
}

/// Images (shared layers counted once), containers (their upper
/// directories) and volumes (those no container uses are reclaimable).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DiskUsage {
    pub images: UsageLine,
    pub containers: UsageLine,
    pub volumes: UsageLine,
}

pub fn disk_usage(dirs: &StorageDirs) -> Result<DiskUsage, EngineError> {
    let store = Store::open(&dirs.root)?;
    let containers = list_containers(dirs)?;
    let used_images: HashSet<&str> = containers.iter().map(|c| c.image_id.as_str()).collect();
    let paths = ContainerStore::new(dirs);

    let mut images = UsageLine::default();
    let mut all_layers = std::collections::HashMap::new();
    let mut active_layers = HashSet::new();
    let mut seen = HashSet::new();
    for row in store.list_images()? {
        if !seen.insert(row.id.clone()) {
            continue;
        }
        images.total += 1;
        let active = used_images.contains(row.id.to_string().as_str());
        if active {
            images.active += 1;
        }
        let image = store.resolve_image(&row.id.to_string())?;
        for (dir, size) in image.layer_dirs.iter().zip(&image.layer_sizes) {
            all_layers.insert(dir.clone(), *size);
            if active {
                active_layers.insert(dir.clone());
            }
        }
    }
    images.size = all_layers.values().sum();
    images.reclaimable = all_layers
        .iter()
        .filter(|(dir, _)| !active_layers.contains(*dir))
        .map(|(_, size)| size)
        .sum();
    // Copies of layers re-owned for other ID mappings go with their layer.
    for (layer, size) in store.idmapped_copies() {
        images.size += size;
        if !active_layers.contains(&layer) {
            images.reclaimable += size;
        }
    }

    let mut container_usage = UsageLine::default();
    for record in &containers {
        let size = tree_size(&paths.paths(&record.id).dir.join("upper"));
        container_usage.total += 1;
        container_usage.size += size;
        if record.status().is_active() {
            container_usage.active += 1;
        } else {
            container_usage.reclaimable += size;
        }
    }
    Ok(DiskUsage {
        images,
        containers: container_usage,
        volumes: volume_usage(dirs),
    })
}

/// The volumes' line of `system df`: a volume no container uses is
/// reclaimable.
pub fn volume_usage(dirs: &StorageDirs) -> UsageLine {
    let rows = list_volumes(dirs, &[]);
    let mut usage = UsageLine {
        total: rows.len(),
        ..UsageLine::default()
    };
    for row in rows {
        let size = tree_size(&row.mountpoint);
        usage.size += size;
        if row.users.is_empty() {
            usage.reclaimable += size;
        } else {
            usage.active += 1;
        }
    }
    usage
}
