//! Content: blobs by digest, unpacked layers by diff-id, the image index,
//! and the archive formats images arrive in.
//!
//! - `digest`: `Digest` (`sha256:<hex>`) and hashing reader/writer.
//! - `reference`: docker reference parsing and normalization.
//! - `store`: the store's directories, blob writes, layer placement.
//! - `unpack`: applying a layer tar in overlay format, with path safety.
//! - `diff`: a container's upper directory back to a layer tar or a change list.
//! - `image`: the image index (`images/index.json`), resolve and list.
//! - `archive`: docker-archive / oci-archive load, rootfs import.

use std::io;
use std::path::{Path, PathBuf};

pub use oci_spec::image::ImageConfiguration;

mod archive;
mod assemble;
mod built;
mod commit;
mod compression;
mod config_changes;
mod diff;
mod digest;
mod entry_meta;
mod gc;
mod idmapped;
mod image;
mod layer_fs;
mod manifest;
mod reference;
pub mod registry;
mod save;
mod spooled;
mod store;
mod tags;
mod tar_limits;
#[cfg(test)]
mod test_support;
mod unpack;

pub use crate::timestamp::{format_rfc3339_utc, parse_rfc3339};
pub use archive::LoadReport;
pub use assemble::LayerBlob;
pub use built::{ImageParts, LayerPart};
pub use commit::CommitOptions;
pub use compression::Compression;
pub use diff::{Change, ChangeKind, list_changes, write_layer_tar};
pub use digest::{Digest, HashingReader, HashingWriter};
pub use gc::GcReport;
pub use idmapped::IdShift;
pub use manifest::Platform;
pub use reference::ImageReference;
pub use save::ArchiveFormat;
pub use store::{PlacedLayer, Store, tree_size};
pub use tags::Removal;
pub use tar_limits::WRITE_CAP_ENV;
pub use unpack::{OPAQUE_XATTR, UnpackStats, UnpackedLayer, is_whiteout, unpack_layer};

#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("{reference}: image not known")]
    NoSuchImage { reference: String },
    #[error("invalid reference format: {reference:?}")]
    InvalidReference { reference: String },
    #[error("{prefix}: image ID prefix is ambiguous: it matches {count} images")]
    AmbiguousImage { prefix: String, count: usize },
    #[error("invalid digest {value:?}: expected sha256:<64 lowercase hex digits>")]
    InvalidDigest { value: String },
    /// `subject` names the content: `layer sha256:…`, `config foo.json`.
    #[error("{subject}: digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        subject: String,
        expected: Digest,
        actual: Digest,
    },
    #[error("{subject}: size mismatch: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        subject: String,
        expected: u64,
        actual: u64,
    },
    /// A layer entry refused for path safety (`escapes the layer root`).
    #[error("layer {layer}: entry {entry:?} {problem}")]
    UnsafeEntry {
        layer: String,
        entry: String,
        problem: String,
    },
    /// Malformed content: a bad tar, bad JSON, a missing file in an archive.
    #[error("{subject}: {problem}")]
    Invalid { subject: String, problem: String },
    /// A layer that would write more than the per-layer cap.
    #[error(
        "layer {layer}: unpacking it would write more than {cap} bytes, the limit for one layer (set {setting} to change it)"
    )]
    TooLarge {
        layer: String,
        cap: u64,
        setting: &'static str,
    },
    /// Anything that went wrong while loading an archive.
    #[error("loading archive: {inner}")]
    Archive { inner: Box<LayerError> },
    /// A registry operation failed: `pulling docker.io/library/x:1: manifest unknown`.
    #[error("{action} {reference}: {problem}")]
    Registry {
        action: &'static str,
        reference: String,
        problem: String,
    },
    #[error(
        "image {image} is in use by container {container}: remove the container first, or use --force"
    )]
    ImageInUse { image: String, container: String },
    #[error("image store {root} is corrupt: {problem}")]
    Corrupt { root: PathBuf, problem: String },
    #[error("{op} {}: {error}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        error: io::Error,
    },
    #[error("{0}")]
    Other(String),
}

/// `map_err(io_error("writing", &path))`: wraps an io error with what was
/// being done to which path.
pub(crate) fn io_error(
    op: &'static str,
    path: &Path,
) -> impl FnOnce(io::Error) -> LayerError + use<> {
    let path = path.to_path_buf();
    move |error| LayerError::Io { op, path, error }
}

/// `LayerError::Invalid` for malformed content.
pub(crate) fn invalid(subject: impl Into<String>, problem: impl Into<String>) -> LayerError {
    LayerError::Invalid {
        subject: subject.into(),
        problem: problem.into(),
    }
}

/// An image present in the local store, ready to run.
#[derive(Debug, Clone)]
pub struct LocalImage {
    /// The config digest, as docker's IMAGE ID.
    pub id: Digest,
    /// Normalized references that point at it (`docker.io/library/busybox:latest`).
    pub names: Vec<String>,
    /// The manifest blob the image is stored with.
    pub manifest: Digest,
    pub config: ImageConfiguration,
    /// docker's HEALTHCHECK, kept in the config beside the OCI fields.
    pub healthcheck: Option<ImageHealthcheck>,
    /// Unpacked layer directories, bottom layer first.
    pub layer_dirs: Vec<PathBuf>,
    /// The unpacked size of each layer, parallel to `layer_dirs` (empty
    /// for images stored before sizes were recorded).
    pub layer_sizes: Vec<u64>,
}

/// A HEALTHCHECK as docker stores it in an image config (durations in
/// nanoseconds; 0 means the default).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ImageHealthcheck {
    pub test: Vec<String>,
    pub interval: u64,
    pub timeout: u64,
    pub start_period: u64,
    pub retries: u32,
}

/// One row of `skiff images`.
#[derive(Debug, Clone)]
pub struct ImageSummary {
    pub id: Digest,
    /// `docker.io/library/busybox` and `latest`; `<none>` for an untagged image.
    pub repository: String,
    pub tag: String,
    /// The manifest digest (`images --digests`).
    pub digest: Digest,
    /// RFC 3339 creation time from the image config, if any.
    pub created: Option<String>,
    /// Sum of the unpacked layer sizes in bytes.
    pub size: u64,
    /// An unnamed build-cache image (`images` shows it only with `-a`).
    pub intermediate: bool,
}
