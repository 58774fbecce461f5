//! Pushing a stored image: its layer blobs and config (each skipped when
//! the registry has it already), then its manifest, byte for byte as
//! stored, so the pushed digest is the local one.

use reqwest::header::HeaderValue;

use super::connection::{Connection, oci_reference};
use super::errors::describe;
use super::{RegistryOptions, block_on};
use crate::layers::manifest::{OCI_MANIFEST, OciDocument};
use crate::layers::{Digest, ImageReference, LayerError, Store, io_error};

/// What a push reports as it goes.
#[derive(Debug, Clone)]
pub enum PushEvent {
    /// The registry had the blob already.
    BlobExists {
        digest: Digest,
    },
    BlobPushed {
        digest: Digest,
    },
}

/// Pushes the image stored with manifest `manifest` to `destination`.
/// Returns the manifest digest.
pub fn push_image(
    store: &Store,
    manifest: &Digest,
    destination: &ImageReference,
    options: &RegistryOptions,
    progress: &dyn Fn(&PushEvent),
) -> Result<Digest, LayerError> {
    let data = store.read_blob(manifest)?;
    let subject = format!("manifest {manifest}");
    let document = OciDocument::parse(&data, &subject)?;
    let mut blobs = vec![Digest::parse(&document.config(&subject)?.digest)?];
    for layer in &document.layers {
        blobs.push(Digest::parse(&layer.digest)?);
    }
    for blob in &blobs {
        if !store.blob_path(blob).is_file() {
            return Err(LayerError::Other(format!(
                "pushing {destination}: blob {blob} of manifest {manifest} is not in the local store"
            )));
        }
    }
    let content_type = document
        .media_type
        .clone()
        .unwrap_or_else(|| OCI_MANIFEST.to_string());
    let fail = |problem: String| LayerError::Registry {
        action: "pushing",
        reference: destination.to_string(),
        problem,
    };
    let host = destination.registry.as_str();
    let oci = oci_reference(destination);
    block_on(async {
        let connection = Connection::open(host, options).await?;
        let client = &connection.oci_client()?;
        client
            .store_auth_if_needed(oci.resolve_registry(), &connection.auth())
            .await;
        for blob in &blobs {
            let exists = client
                .blob_exists(&oci, &blob.to_string())
                .await
                .map_err(|e| fail(describe(&e, host)))?;
            if exists {
                progress(&PushEvent::BlobExists {
                    digest: blob.clone(),
                });
                continue;
            }
            let path = store.blob_path(blob);
            let bytes = std::fs::read(&path).map_err(io_error("reading", &path))?;
            client
                .push_blob(&oci, bytes, &blob.to_string())
                .await
                .map_err(|e| fail(describe(&e, host)))?;
            progress(&PushEvent::BlobPushed {
                digest: blob.clone(),
            });
        }
        let content_type = HeaderValue::from_str(&content_type)
            .map_err(|_| fail(format!("bad manifest media type {content_type:?}")))?;
        client
            .push_manifest_raw(&oci, data, content_type)
            .await
            .map_err(|e| fail(describe(&e, host)))?;
        Ok(manifest.clone())
    })?
}
