//! Talking to registries: pull, push and login over the OCI distribution
//! API (`oci-client`), credentials in podman's auth.json.
//!
//! The client is async. Only commands that talk to a registry start a
//! runtime (`block_on`, a current-thread tokio runtime that is gone when
//! it returns), so `run` of a present image never pays for it, and no
//! runtime thread exists when a caller forks afterwards (rootless unpack).

pub mod auth;
mod connection;
mod errors;
mod login;
mod pull;
mod push;
mod session;

use std::path::PathBuf;

pub use auth::{AuthFile, Credentials};
pub use connection::insecure_registries;
pub use login::login;
pub use pull::{FetchedImage, PullEvent, fetch_image};
pub use push::{PushEvent, push_image};

use super::LayerError;

/// How to reach a registry: TLS and credentials, as the user asked.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// `--tls-verify`: `Some(false)` allows plain HTTP and unverified TLS;
    /// `None` means verify, except for registries configured insecure.
    pub tls_verify: Option<bool>,
    /// `--cert-dir`: `*.crt` files trusted as CAs, besides the system's.
    pub cert_dir: Option<PathBuf>,
    /// `--creds`/`--username`: used instead of the auth file.
    pub credentials: Option<Credentials>,
    /// `--authfile`.
    pub auth_file: Option<PathBuf>,
}

/// Runs `work` to completion on a current-thread runtime.
fn block_on<T>(work: impl Future<Output = T>) -> Result<T, LayerError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| LayerError::Other(format!("starting the registry client: {e}")))?;
    Ok(runtime.block_on(work))
}
