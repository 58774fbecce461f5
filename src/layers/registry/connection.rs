//! One registry's connection settings: scheme, trusted certificates and
//! credentials, with the HTTP client built from them.
//!
//! TLS is verified unless `--tls-verify=false` or the registry is listed
//! in `$SKIFF_INSECURE_REGISTRIES` (comma-separated). An insecure registry
//! is tried over HTTPS without verification first and over plain HTTP
//! when it does not speak TLS, as docker and podman do.
//! Extra CAs: every `*.crt` in `--cert-dir`, else in
//! `/etc/containers/certs.d/<registry>/` and `/etc/docker/certs.d/<registry>/`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;

use super::errors::describe_request_error;
use super::{AuthFile, Credentials, RegistryOptions};
use crate::layers::{ImageReference, LayerError, io_error};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
const USER_AGENT: &str = concat!("skiff/", env!("CARGO_PKG_VERSION"));

/// What talking to one registry needs: one HTTP client (its TLS settings
/// fixed), the scheme, and the credentials, if any. Pulls and login use
/// the HTTP client directly; push builds an `oci_client::Client` from the
/// same settings (`oci_client`), which costs a second client and, in
/// `oci-client`'s construction, a third default one loading the system CA
/// store: pulls need not pay for those.
pub(super) struct Connection {
    /// Built on first use: a verifying client loads the system CA store,
    /// which a push (through `oci_client`) does not need.
    http: OnceLock<reqwest::Client>,
    registry: String,
    pub scheme: &'static str,
    pub credentials: Option<Credentials>,
    insecure: bool,
    certificates: Vec<Vec<u8>>,
}

impl Connection {
    /// `registry` is the name as references spell it (`docker.io`).
    pub async fn open(registry: &str, options: &RegistryOptions) -> Result<Connection, LayerError> {
        install_crypto_provider();
        let host = api_host(registry);
        // An explicit --tls-verify wins over the insecure list.
        let insecure = match options.tls_verify {
            Some(verify) => !verify,
            None => listed_insecure(registry),
        };
        let certificates = read_certificates(options.cert_dir.as_deref(), registry)?;
        let http = OnceLock::new();
        // Only an insecure registry is probed (its client verifies nothing
        // and is cheap to build); a verified one is HTTPS.
        if insecure {
            let _ = http.set(http_client(registry, insecure, &certificates)?);
        }
        let scheme = if insecure && !speaks_tls(http.get().expect("set"), host).await {
            "http"
        } else {
            "https"
        };
        let credentials = match &options.credentials {
            Some(c) => Some(c.clone()),
            None => AuthFile::locate(options.auth_file.as_deref()).lookup(registry)?,
        };
        Ok(Connection {
            http,
            registry: registry.to_string(),
            scheme,
            credentials,
            insecure,
            certificates,
        })
    }

    /// The HTTP client with the connection's TLS settings.
    pub fn http(&self) -> Result<&reqwest::Client, LayerError> {
        if let Some(http) = self.http.get() {
            return Ok(http);
        }
        let http = http_client(&self.registry, self.insecure, &self.certificates)?;
        Ok(self.http.get_or_init(|| http))
    }

    /// The credentials as `oci-client` takes them.
    pub fn auth(&self) -> RegistryAuth {
        match &self.credentials {
            Some(c) => RegistryAuth::Basic(c.username.clone(), c.password.clone()),
            None => RegistryAuth::Anonymous,
        }
    }

    /// An `oci_client::Client` with the connection's settings (push).
    pub fn oci_client(&self) -> Result<oci_client::Client, LayerError> {
        let config = ClientConfig {
            protocol: if self.scheme == "http" {
                ClientProtocol::Http
            } else {
                ClientProtocol::Https
            },
            accept_invalid_certificates: self.insecure,
            extra_root_certificates: self
                .certificates
                .iter()
                .map(|data| Certificate {
                    encoding: CertificateEncoding::Pem,
                    data: data.clone(),
                })
                .collect(),
            platform_resolver: None,
            connect_timeout: Some(CONNECT_TIMEOUT),
            user_agent: USER_AGENT,
            ..ClientConfig::default()
        };
        oci_client::Client::try_from(config).map_err(|e| {
            LayerError::Other(format!("setting up the client for {}: {e}", self.registry))
        })
    }
}

/// `oci_client`'s reference for ours.
pub(super) fn oci_reference(reference: &ImageReference) -> oci_client::Reference {
    let (registry, repository) = (reference.registry.clone(), reference.repository.clone());
    match (&reference.tag, &reference.digest) {
        (Some(tag), Some(digest)) => oci_client::Reference::with_tag_and_digest(
            registry,
            repository,
            tag.clone(),
            digest.to_string(),
        ),
        (None, Some(digest)) => {
            oci_client::Reference::with_digest(registry, repository, digest.to_string())
        }
        (tag, None) => oci_client::Reference::with_tag(
            registry,
            repository,
            tag.clone().unwrap_or_else(|| "latest".to_string()),
        ),
    }
}

/// The host serving a registry's API (Docker Hub's differs from its name).
pub(super) fn api_host(registry: &str) -> &str {
    if registry == "docker.io" {
        "registry-1.docker.io"
    } else {
        registry
    }
}

/// reqwest is built without a default TLS crypto provider (ring is
/// smaller to build than aws-lc); install ring once per process.
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn http_client(
    registry: &str,
    insecure: bool,
    certificates: &[Vec<u8>],
) -> Result<reqwest::Client, LayerError> {
    let build = || -> Result<reqwest::Client, reqwest::Error> {
        let roots = certificates
            .iter()
            .map(|pem| reqwest::Certificate::from_pem(pem))
            .collect::<Result<Vec<_>, _>>()?;
        reqwest::Client::builder()
            .danger_accept_invalid_certs(insecure)
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(USER_AGENT)
            .tls_certs_merge(roots)
            .build()
    };
    build().map_err(|e| LayerError::Other(format!("setting up TLS for {registry}: {e}")))
}

/// True when `host` answers a TLS request (any HTTP status will do).
async fn speaks_tls(http: &reqwest::Client, host: &str) -> bool {
    http.get(format!("https://{host}/v2/")).send().await.is_ok()
}

fn listed_insecure(registry: &str) -> bool {
    insecure_registries().iter().any(|r| r == registry)
}

/// The registries listed in `$SKIFF_INSECURE_REGISTRIES`.
pub fn insecure_registries() -> Vec<String> {
    std::env::var("SKIFF_INSECURE_REGISTRIES")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(String::from)
        .collect()
}

/// The PEM contents of the `*.crt` files trusted for `registry`.
fn read_certificates(cert_dir: Option<&Path>, registry: &str) -> Result<Vec<Vec<u8>>, LayerError> {
    let dirs: Vec<PathBuf> = match cert_dir {
        Some(dir) => {
            if !dir.is_dir() {
                return Err(LayerError::Other(format!(
                    "--cert-dir {}: no such directory",
                    dir.display()
                )));
            }
            vec![dir.to_path_buf()]
        }
        None => ["/etc/containers/certs.d", "/etc/docker/certs.d"]
            .iter()
            .map(|base| Path::new(base).join(registry))
            .collect(),
    };
    let mut certificates = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "crt"))
            .collect();
        paths.sort();
        for path in paths {
            let pem = std::fs::read(&path).map_err(io_error("reading", &path))?;
            if reqwest::Certificate::from_pem(&pem).is_err() {
                return Err(LayerError::Other(format!(
                    "{}: not a PEM certificate",
                    path.display()
                )));
            }
            certificates.push(pem);
        }
    }
    Ok(certificates)
}

/// Sends `request`, mapping transport failures to one line naming `host`.
pub(super) async fn send(
    request: reqwest::RequestBuilder,
    host: &str,
) -> Result<reqwest::Response, String> {
    request
        .send()
        .await
        .map_err(|e| describe_request_error(&e, host))
}
