//! Writing stored images out (`skiff save`): the blobs exactly as stored,
//! so digests survive the round trip.
//!
//! - `docker-archive`: what docker ≥ 25 writes, an OCI layout with
//!   docker's `manifest.json` beside it (`Config` and `Layers` name
//!   `blobs/sha256/<hex>` members). Old and new docker, podman and skiff
//!   load it.
//! - `oci-archive`: the OCI image layout (`oci-layout`, `index.json`,
//!   `blobs/sha256/`), one index entry per name (annotation
//!   `org.opencontainers.image.ref.name` = the full reference).
//! - `oci-dir`: the same layout as a directory.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::Path;

use serde_json::json;

use super::image::find_record;
use super::manifest::{OCI_INDEX, OCI_MANIFEST, OciDocument};
use super::store::Store;
use super::{Digest, LayerError, invalid, io_error};

/// The formats `save` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveFormat {
    DockerArchive,
    OciArchive,
    OciDir,
}

impl ArchiveFormat {
    pub fn parse(s: &str) -> Result<ArchiveFormat, LayerError> {
        match s {
            "docker-archive" => Ok(ArchiveFormat::DockerArchive),
            "oci-archive" => Ok(ArchiveFormat::OciArchive),
            "oci-dir" => Ok(ArchiveFormat::OciDir),
            other => Err(invalid(
                format!("format {other:?}"),
                "unknown: use docker-archive, oci-archive or oci-dir",
            )),
        }
    }
}

/// One image to write: its manifest and the names to give it.
struct SavedImage {
    manifest: Digest,
    manifest_size: u64,
    media_type: String,
    config: Digest,
    layers: Vec<Digest>,
    names: Vec<String>,
}

/// Where the layout's files go.
trait LayoutSink {
    fn file(&mut self, name: &str, data: &[u8]) -> Result<(), LayerError>;
    fn blob(&mut self, store: &Store, digest: &Digest) -> Result<(), LayerError>;
}

impl Store {
    /// Writes the images `names` (names or IDs) as a tar archive of
    /// `format` (`DockerArchive` or `OciArchive`) to `out`.
    pub fn save_archive(
        &self,
        names: &[String],
        format: ArchiveFormat,
        out: &mut dyn Write,
    ) -> Result<(), LayerError> {
        let images = self.images_to_save(names)?;
        let mut sink = TarSink::new(out);
        write_layout(
            self,
            &images,
            format == ArchiveFormat::DockerArchive,
            &mut sink,
        )?;
        sink.builder
            .finish()
            .map_err(|e| LayerError::Other(format!("writing the archive: {e}")))
    }

    /// Writes the images as an OCI layout into the directory `dir`
    /// (created; it must not exist or be empty).
    pub fn save_directory(&self, names: &[String], dir: &Path) -> Result<(), LayerError> {
        let images = self.images_to_save(names)?;
        if fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
            return Err(invalid(
                dir.display().to_string(),
                "exists and is not empty",
            ));
        }
        fs::create_dir_all(dir.join("blobs/sha256")).map_err(io_error("creating", dir))?;
        write_layout(self, &images, false, &mut DirSink { dir })
    }

    fn images_to_save(&self, names: &[String]) -> Result<Vec<SavedImage>, LayerError> {
        let index = self.read_index()?;
        let mut images: Vec<SavedImage> = Vec::new();
        for name in names {
            let record = find_record(&index, name)?;
            // A name keeps just that name; an ID keeps every name.
            let chosen: Vec<String> = match super::ImageReference::parse(name) {
                Ok(r) if record.names.contains(&r.to_string()) => vec![r.to_string()],
                _ => record.names.clone(),
            };
            if let Some(existing) = images.iter_mut().find(|i| i.manifest == record.manifest) {
                for n in chosen {
                    if !existing.names.contains(&n) {
                        existing.names.push(n);
                    }
                }
                continue;
            }
            let data = self.read_blob(&record.manifest)?;
            let subject = format!("manifest {}", record.manifest);
            let document = OciDocument::parse(&data, &subject)?;
            let layers = document
                .layers
                .iter()
                .map(|l| Digest::parse(&l.digest))
                .collect::<Result<Vec<_>, _>>()?;
            images.push(SavedImage {
                manifest: record.manifest.clone(),
                manifest_size: data.len() as u64,
                media_type: document
                    .media_type
                    .clone()
                    .unwrap_or_else(|| OCI_MANIFEST.to_string()),
                config: Digest::parse(&document.config(&subject)?.digest)?,
                layers,
                names: chosen,
            });
        }
        Ok(images)
    }
}

fn write_layout(
    store: &Store,
    images: &[SavedImage],
    docker_manifest: bool,
    sink: &mut dyn LayoutSink,
) -> Result<(), LayerError> {
    let to_json =
        |v: &serde_json::Value| serde_json::to_vec(v).map_err(|e| LayerError::Other(e.to_string()));
    sink.file(
        "oci-layout",
        &to_json(&json!({"imageLayoutVersion": "1.0.0"}))?,
    )?;
    let mut written = BTreeSet::new();
    let mut entries = Vec::new();
    let mut docker_entries = Vec::new();
    for image in images {
        for blob in std::iter::once(&image.manifest)
            .chain(std::iter::once(&image.config))
            .chain(&image.layers)
        {
            if written.insert(blob.clone()) {
                sink.blob(store, blob)?;
            }
        }
        let descriptor = |name: Option<&String>| {
            let mut d = json!({
                "mediaType": image.media_type,
                "digest": image.manifest.to_string(),
                "size": image.manifest_size,
            });
            if let Some(name) = name {
                d["annotations"] = json!({
                    "org.opencontainers.image.ref.name": name,
                    "io.containerd.image.name": name,
                });
            }
            d
        };
        if image.names.is_empty() {
            entries.push(descriptor(None));
        }
        entries.extend(image.names.iter().map(|n| descriptor(Some(n))));
        docker_entries.push(json!({
            "Config": format!("blobs/sha256/{}", image.config.hex()),
            "RepoTags": image.names,
            "Layers": image
                .layers
                .iter()
                .map(|l| format!("blobs/sha256/{}", l.hex()))
                .collect::<Vec<_>>(),
        }));
    }
    sink.file(
        "index.json",
        &to_json(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}))?,
    )?;
    if docker_manifest {
        sink.file("manifest.json", &to_json(&json!(docker_entries))?)?;
    }
    Ok(())
}

struct TarSink<'w> {
    builder: tar::Builder<&'w mut dyn Write>,
    dirs_written: bool,
}

impl<'w> TarSink<'w> {
    fn new(out: &'w mut dyn Write) -> TarSink<'w> {
        TarSink {
            builder: tar::Builder::new(out),
            dirs_written: false,
        }
    }

    fn append(
        &mut self,
        name: &str,
        size: u64,
        data: &mut dyn std::io::Read,
        kind: tar::EntryType,
    ) -> Result<(), LayerError> {
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(kind);
        header.set_size(size);
        header.set_mode(if kind == tar::EntryType::Directory {
            0o755
        } else {
            0o644
        });
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        self.builder
            .append_data(&mut header, name, data)
            .map_err(|e| LayerError::Other(format!("writing {name} to the archive: {e}")))
    }
}

impl LayoutSink for TarSink<'_> {
    fn file(&mut self, name: &str, data: &[u8]) -> Result<(), LayerError> {
        self.append(
            name,
            data.len() as u64,
            &mut &data[..],
            tar::EntryType::Regular,
        )
    }

    fn blob(&mut self, store: &Store, digest: &Digest) -> Result<(), LayerError> {
        if !self.dirs_written {
            for dir in ["blobs/", "blobs/sha256/"] {
                self.append(dir, 0, &mut std::io::empty(), tar::EntryType::Directory)?;
            }
            self.dirs_written = true;
        }
        let path = store.blob_path(digest);
        let mut file = fs::File::open(&path).map_err(io_error("opening", &path))?;
        let size = file.metadata().map_err(io_error("reading", &path))?.len();
        self.append(
            &format!("blobs/sha256/{}", digest.hex()),
            size,
            &mut file,
            tar::EntryType::Regular,
        )
    }
}

struct DirSink<'d> {
    dir: &'d Path,
}

impl LayoutSink for DirSink<'_> {
    fn file(&mut self, name: &str, data: &[u8]) -> Result<(), LayerError> {
        let path = self.dir.join(name);
        fs::write(&path, data).map_err(io_error("writing", &path))
    }

    fn blob(&mut self, store: &Store, digest: &Digest) -> Result<(), LayerError> {
        let target = self.dir.join("blobs/sha256").join(digest.hex());
        let source = store.blob_path(digest);
        fs::copy(&source, &target)
            .map(|_| ())
            .map_err(io_error("writing", &target))
    }
}
