//! Changing which names point at which image, and removing images from
//! the index (`tag`, `untag`, `rmi`). Their blobs and layers go with the
//! next garbage collection (`gc.rs`).

use std::collections::HashSet;

use super::image::{ImageIndex, find_record};
use super::reference::ImageReference;
use super::store::Store;
use super::{Digest, LayerError};

/// What removing one name or ID did, in docker's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    /// The name is gone; the image stays under its other names.
    Untagged(String),
    /// The image is gone from the index, with the names it had.
    Deleted { id: Digest, names: Vec<String> },
}

impl Store {
    /// Adds `target` as a name of the image `source` names (moving it
    /// from any image that had it).
    pub fn tag_image(&self, source: &str, target: &str) -> Result<Digest, LayerError> {
        let name = ImageReference::parse(target)?;
        if name.digest.is_some() {
            return Err(LayerError::InvalidReference {
                reference: format!("{target} (a tag cannot carry a digest)"),
            });
        }
        let name = name.to_string();
        self.update_index(|index| {
            let id = find_record(index, source)?.id.clone();
            for record in index.images.iter_mut() {
                if record.id == id {
                    if !record.names.contains(&name) {
                        record.names.push(name.clone());
                    }
                } else {
                    record.names.retain(|n| *n != name);
                }
            }
            Ok(id)
        })?
    }

    /// Removes `names` (every name when empty) from the image `source`
    /// names; the image stays, untagged when it has no name left.
    pub fn untag_image(&self, source: &str, names: &[String]) -> Result<Vec<String>, LayerError> {
        let wanted = names
            .iter()
            .map(|n| ImageReference::parse(n).map(|r| r.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        self.update_index(|index| {
            let id = find_record(index, source)?.id.clone();
            let record = index
                .images
                .iter_mut()
                .find(|r| r.id == id)
                .expect("found just now");
            for (given, name) in names.iter().zip(&wanted) {
                if !record.names.contains(name) {
                    return Err(LayerError::Other(format!(
                        "{given}: tag not known for image {}",
                        id.short()
                    )));
                }
            }
            let removed = if wanted.is_empty() {
                std::mem::take(&mut record.names)
            } else {
                record.names.retain(|n| !wanted.contains(n));
                wanted
            };
            Ok(removed)
        })?
    }

    /// docker's `rmi NAME`: a name of an image with other names is only
    /// untagged; an ID, or an image's last name, removes the image from
    /// the index (`all_names`: also when it has other names). `in_use`
    /// names a container using an image ID; such images are refused.
    pub fn remove_image(
        &self,
        name_or_id: &str,
        all_names: bool,
        in_use: &dyn Fn(&Digest) -> Option<String>,
    ) -> Result<Removal, LayerError> {
        self.update_index(|index| remove_from_index(index, name_or_id, all_names, in_use))?
    }

    /// `rmi NAME…` as one change of the index: each name is resolved
    /// before any is removed, then removed in order as by `remove_image`.
    /// A name whose image an earlier name of the same call deleted went
    /// with it (`Ok(None)`): the deletion's `Removal::Deleted` lists it, as
    /// docker and podman print every name of an image given together.
    pub fn remove_images(
        &self,
        names: &[String],
        all_names: bool,
        in_use: &dyn Fn(&Digest) -> Option<String>,
    ) -> Result<Vec<Result<Option<Removal>, LayerError>>, LayerError> {
        self.update_index(|index| {
            let resolved: Vec<Option<Digest>> = names
                .iter()
                .map(|n| find_record(index, n).ok().map(|r| r.id.clone()))
                .collect();
            let mut deleted = HashSet::new();
            names
                .iter()
                .zip(resolved)
                .map(|(name, id)| {
                    if id.is_some_and(|id| deleted.contains(&id)) {
                        return Ok(None);
                    }
                    let removal = remove_from_index(index, name, all_names, in_use)?;
                    if let Removal::Deleted { id, .. } = &removal {
                        deleted.insert(id.clone());
                    }
                    Ok(Some(removal))
                })
                .collect()
        })
    }
}

/// `remove_image` within an index being changed.
fn remove_from_index(
    index: &mut ImageIndex,
    name_or_id: &str,
    all_names: bool,
    in_use: &dyn Fn(&Digest) -> Option<String>,
) -> Result<Removal, LayerError> {
    let record = find_record(index, name_or_id)?;
    let id = record.id.clone();
    let by_name = ImageReference::parse(name_or_id)
        .ok()
        .map(|r| r.to_string())
        .filter(|n| record.names.contains(n));
    if let Some(name) = by_name
        && record.names.len() > 1
        && !all_names
    {
        let record = index.images.iter_mut().find(|r| r.id == id).expect("found");
        record.names.retain(|n| *n != name);
        return Ok(Removal::Untagged(name));
    }
    if record.names.len() > 1 && !all_names {
        return Err(LayerError::Other(format!(
            "unable to delete image {} (must force) - image is referenced in multiple repositories",
            id.short()
        )));
    }
    if let Some(container) = in_use(&id) {
        return Err(LayerError::ImageInUse {
            image: id.short().to_string(),
            container,
        });
    }
    let position = index.images.iter().position(|r| r.id == id).expect("found");
    let removed = index.images.remove(position);
    Ok(Removal::Deleted {
        id,
        names: removed.names,
    })
}
