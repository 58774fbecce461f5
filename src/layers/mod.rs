//! Content: blobs by digest, unpacked layers by diff-id, the image index,
//! and the archive formats images arrive in.
//!
//! STUB: the signatures below are the contract the rest of skiff uses.

use std::io::Read;
use std::path::{Path, PathBuf};

pub use oci_spec::image::ImageConfiguration;

#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("{reference}: image not known")]
    NoSuchImage { reference: String },
    #[error("{0}")]
    Other(String),
}

/// A sha256 digest, always validated: 64 lowercase hex characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    hex: String,
}

impl Digest {
    pub fn hex(&self) -> &str {
        &self.hex
    }
}

/// An image present in the local store, ready to run.
#[derive(Debug, Clone)]
pub struct LocalImage {
    /// The config digest, as docker's IMAGE ID.
    pub id: Digest,
    /// Normalized references that point at it (`docker.io/library/busybox:latest`).
    pub names: Vec<String>,
    pub config: ImageConfiguration,
    /// Unpacked layer directories, bottom layer first.
    pub layer_dirs: Vec<PathBuf>,
}

/// One row of `skiff images`.
#[derive(Debug, Clone)]
pub struct ImageSummary {
    pub id: Digest,
    /// `docker.io/library/busybox` and `latest`; `<none>` for an untagged image.
    pub repository: String,
    pub tag: String,
    /// RFC 3339 creation time from the image config, if any.
    pub created: Option<String>,
    /// Sum of the unpacked layer sizes in bytes.
    pub size: u64,
}

pub struct Store {
    root: PathBuf,
}

impl Store {
    pub fn open(root: &Path) -> Result<Store, LayerError> {
        Ok(Store { root: root.to_path_buf() })
    }
    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn resolve_image(&self, _name_or_id: &str) -> Result<LocalImage, LayerError> {
        todo!()
    }
    pub fn list_images(&self) -> Result<Vec<ImageSummary>, LayerError> {
        todo!()
    }
    /// Loads a docker-archive or oci-archive; returns the references (or
    /// image IDs when untagged) it loaded.
    pub fn load_archive(&self, _archive: &mut dyn Read) -> Result<Vec<String>, LayerError> {
        todo!()
    }
    /// Turns a plain rootfs tarball into a one-layer image.
    pub fn import_rootfs(
        &self,
        _tarball: &mut dyn Read,
        _reference: Option<&str>,
    ) -> Result<Digest, LayerError> {
        todo!()
    }
}
