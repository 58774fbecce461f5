//! Fetching an image's blobs from a registry into the store.
//!
//! The manifest is fetched (and, for an index, the host platform's
//! manifest in it), then the config and the layer blobs not yet present,
//! several at once. Each blob streams into a temp file and is renamed into
//! `blobs/` only after its digest and size are checked, so a failed or
//! killed pull leaves nothing visible. Unpacking and the index update are
//! the caller's (`Store::add_fetched_image`), outside the async runtime.

use futures_util::{StreamExt, TryStreamExt};

use super::connection::Connection;
use super::errors::describe_request_error;
use super::session::PullSession;
use super::{RegistryOptions, block_on};
use crate::layers::assemble::{LayerBlob, NewImage};
use crate::layers::manifest::{ACCEPTED_MANIFESTS, Descriptor, OciDocument};
use crate::layers::unpack::UnpackStats;
use crate::layers::{Digest, ImageReference, LayerError, Platform, Store};

/// Blobs fetched at once.
const PARALLEL_DOWNLOADS: usize = 4;

/// What a pull reports as it goes.
#[derive(Debug, Clone)]
pub enum PullEvent {
    /// The manifest is known (`digest`, what the reference resolved to)
    /// and lists `layers` layer blobs.
    Resolved { digest: Digest, layers: usize },
    /// A layer blob was already in the store.
    LayerExists { digest: Digest },
    /// Bytes of a blob arrived.
    Progress {
        digest: Digest,
        received: u64,
        size: u64,
    },
    /// A layer blob is stored and verified.
    LayerDone { digest: Digest },
}

/// An image whose blobs are all in the store.
#[derive(Debug, Clone)]
pub struct FetchedImage {
    /// The normalized reference it was pulled as.
    pub reference: ImageReference,
    /// The image manifest's digest (the platform's, under an index).
    pub manifest: Digest,
    /// The digest the reference resolved to: the index's when there was one
    /// (docker's `Digest:` line and the `name@digest` users pin).
    pub resolved: Digest,
    pub config: Vec<u8>,
    pub config_digest: Digest,
    pub layers: Vec<LayerBlob>,
}

impl Store {
    /// Unpacks a fetched image's layers and adds it to the index under its
    /// reference. Returns the image ID.
    pub fn add_fetched_image(
        &self,
        image: &FetchedImage,
    ) -> Result<(Digest, UnpackStats), LayerError> {
        let known = self.read_index()?;
        let mut stats = UnpackStats::default();
        let subject = format!("config {}", image.config_digest);
        let record = self.assemble_image(
            &NewImage {
                config: &image.config,
                subject: &subject,
                layers: &image.layers,
                manifest: Some(image.manifest.clone()),
                names: vec![image.reference.to_string()],
            },
            &known,
            &mut stats,
        )?;
        let id = record.id.clone();
        self.update_index(|index| index.add(record))?;
        Ok((id, stats))
    }
}

/// Fetches the manifest, config and layer blobs of `reference` for
/// `platform` into `store`.
pub fn fetch_image(
    store: &Store,
    reference: &ImageReference,
    platform: &Platform,
    options: &RegistryOptions,
    progress: &dyn Fn(&PullEvent),
) -> Result<FetchedImage, LayerError> {
    let fail = |problem: String| LayerError::Registry {
        action: "pulling",
        reference: reference.to_string(),
        problem,
    };
    block_on(async {
        let connection = Connection::open(&reference.registry, options).await?;
        let puller = Puller {
            store,
            session: PullSession::new(&connection, &reference.registry, &reference.repository)?,
            reference,
            progress,
        };
        puller.fetch(platform).await
    })?
    .map_err(|e| match e {
        PullFailure::Registry(problem) => fail(problem),
        PullFailure::Store(e) => e,
    })
}

/// A failure inside the pull: the registry's (wrapped with the action and
/// reference by `fetch_image`) or the store's (passed through).
enum PullFailure {
    Registry(String),
    Store(LayerError),
}

impl From<LayerError> for PullFailure {
    fn from(e: LayerError) -> PullFailure {
        PullFailure::Store(e)
    }
}

struct Puller<'a> {
    store: &'a Store,
    session: PullSession<'a>,
    reference: &'a ImageReference,
    progress: &'a dyn Fn(&PullEvent),
}

impl Puller<'_> {
    fn host(&self) -> &str {
        &self.reference.registry
    }

    async fn fetch(&self, platform: &Platform) -> Result<FetchedImage, PullFailure> {
        let tag_or_digest = match (&self.reference.digest, &self.reference.tag) {
            (Some(digest), _) => digest.to_string(),
            (None, Some(tag)) => tag.clone(),
            (None, None) => "latest".to_string(),
        };
        let (resolved, data) = self
            .manifest(&tag_or_digest, self.reference.digest.as_ref())
            .await?;
        let subject = format!("manifest {resolved}");
        let mut document = OciDocument::parse(&data, &subject)?;
        let (mut manifest, mut manifest_data) = (resolved.clone(), data);
        if document.is_index(None) {
            let chosen = document
                .choose(platform, &format!("image index {resolved}"))?
                .clone();
            let digest = Digest::parse(&chosen.digest)?;
            let (_, data) = self.manifest(&digest.to_string(), Some(&digest)).await?;
            document = OciDocument::parse(&data, &format!("manifest {digest}"))?;
            if document.is_index(chosen.media_type.as_deref()) {
                return Err(LayerError::Other(format!(
                    "manifest {digest}: an image index inside an image index is not supported"
                ))
                .into());
            }
            (manifest, manifest_data) = (digest, data);
        }
        let subject = format!("manifest {manifest}");
        let config_desc = document.config(&subject)?;
        let config_digest = Digest::parse(&config_desc.digest)?;
        (self.progress)(&PullEvent::Resolved {
            digest: resolved.clone(),
            layers: document.layers.len(),
        });
        self.blob(config_desc, "config", false).await?;
        let config = self.store.read_blob(&config_digest)?;
        let fetches = document
            .layers
            .iter()
            .map(|layer| async move { self.blob(layer, "layer", true).await });
        let layers: Vec<LayerBlob> = futures_util::stream::iter(fetches)
            .buffered(PARALLEL_DOWNLOADS)
            .try_collect()
            .await?;
        self.store.put_blob_bytes(&manifest_data, &subject)?;
        Ok(FetchedImage {
            reference: self.reference.clone(),
            manifest,
            resolved,
            config,
            config_digest,
            layers,
        })
    }

    /// A manifest's bytes and digest, checked against `expected`.
    async fn manifest(
        &self,
        tag_or_digest: &str,
        expected: Option<&Digest>,
    ) -> Result<(Digest, Vec<u8>), PullFailure> {
        let response = self
            .session
            .manifest(tag_or_digest, &ACCEPTED_MANIFESTS)
            .await
            .map_err(PullFailure::Registry)?;
        let data = response
            .bytes()
            .await
            .map_err(|e| PullFailure::Registry(describe_request_error(&e, self.host())))?;
        let actual = Digest::of_bytes(&data);
        if let Some(expected) = expected
            && *expected != actual
        {
            return Err(LayerError::DigestMismatch {
                subject: format!("manifest {expected}"),
                expected: expected.clone(),
                actual,
            }
            .into());
        }
        Ok((actual, data.to_vec()))
    }

    /// Makes sure the blob of `descriptor` is in the store, downloading and
    /// verifying it when it is not.
    async fn blob(
        &self,
        descriptor: &Descriptor,
        what: &str,
        is_layer: bool,
    ) -> Result<LayerBlob, PullFailure> {
        let digest = Digest::parse(&descriptor.digest)?;
        let subject = format!("{what} {digest}");
        let done = LayerBlob {
            digest: digest.clone(),
            size: descriptor.size,
            label: subject.clone(),
        };
        if self.store.blob_path(&digest).is_file() {
            if is_layer {
                (self.progress)(&PullEvent::LayerExists { digest });
            }
            return Ok(done);
        }
        let mut response = self
            .session
            .blob(&digest.to_string())
            .await
            .map_err(PullFailure::Registry)?;
        let mut writer = self.store.blob_writer()?;
        let mut received = 0u64;
        loop {
            let chunk = match response.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(e) => {
                    return Err(PullFailure::Registry(format!(
                        "receiving {subject}: {}",
                        describe_request_error(&e, self.host())
                    )));
                }
            };
            received += chunk.len() as u64;
            if received > descriptor.size {
                return Err(LayerError::SizeMismatch {
                    subject,
                    expected: descriptor.size,
                    actual: received,
                }
                .into());
            }
            writer.write(&chunk)?;
            if is_layer {
                (self.progress)(&PullEvent::Progress {
                    digest: digest.clone(),
                    received,
                    size: descriptor.size,
                });
            }
        }
        writer.commit(Some(&digest), Some(descriptor.size), &subject)?;
        if is_layer {
            (self.progress)(&PullEvent::LayerDone { digest });
        }
        Ok(done)
    }
}
