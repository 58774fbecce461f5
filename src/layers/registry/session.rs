//! A pull's requests to one repository: manifests and blobs by GET over
//! the connection's one HTTP client, authorized on demand.
//!
//! A request goes out as the last one did (anonymous at first). A 401's
//! `WWW-Authenticate` challenge says what the registry wants: a bearer
//! token from its realm (asked with the basic credentials when there are
//! any) or the basic credentials themselves. The request is repeated once
//! with that, and later requests carry it from the start. So an anonymous
//! registry costs no extra round trip at all and a token registry one
//! token request, where `oci-client` pinged `/v2/` before every request
//! on registries without auth, and built (and dropped) a second client
//! that loads the system CA store.

use std::sync::Mutex;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, WWW_AUTHENTICATE};

use super::Credentials;
use super::connection::{Connection, api_host, send};
use super::errors::describe_request_error;
use super::errors::{describe, response_error};
use super::login::parse_bearer;
use crate::layers::LayerError;

/// What a request carries to be let in.
/// No `Debug`: a token is a secret.
#[derive(Clone, PartialEq, Eq)]
enum Authorization {
    Bearer(String),
    Basic(Credentials),
}

pub(super) struct PullSession<'a> {
    http: &'a reqwest::Client,
    credentials: Option<&'a Credentials>,
    /// The registry as references spell it, for messages.
    registry: &'a str,
    repository: &'a str,
    /// `{scheme}://{host}/v2/{repository}`.
    base: String,
    authorization: Mutex<Option<Authorization>>,
}

impl<'a> PullSession<'a> {
    pub fn new(
        connection: &'a Connection,
        registry: &'a str,
        repository: &'a str,
    ) -> Result<PullSession<'a>, LayerError> {
        Ok(PullSession {
            http: connection.http()?,
            credentials: connection.credentials.as_ref(),
            registry,
            repository,
            base: format!(
                "{}://{}/v2/{repository}",
                connection.scheme,
                api_host(registry)
            ),
            authorization: Mutex::new(None),
        })
    }

    /// `GET manifests/<tag or digest>`, accepting `media_types`.
    pub async fn manifest(
        &self,
        reference: &str,
        media_types: &[&str],
    ) -> Result<reqwest::Response, String> {
        self.get(
            &format!("manifests/{reference}"),
            Some(&media_types.join(", ")),
        )
        .await
    }

    /// `GET blobs/<digest>`; the body is for the caller to stream.
    pub async fn blob(&self, digest: &str) -> Result<reqwest::Response, String> {
        self.get(&format!("blobs/{digest}"), None).await
    }

    /// A successful response to `GET <base>/<path>`, or one line saying
    /// why there is none.
    async fn get(&self, path: &str, accept: Option<&str>) -> Result<reqwest::Response, String> {
        let url = format!("{}/{path}", self.base);
        let request = |authorization: &Option<Authorization>| {
            let mut request = self.http.get(&url);
            if let Some(accept) = accept {
                request = request.header(ACCEPT, accept);
            }
            match authorization {
                Some(Authorization::Bearer(token)) => request.bearer_auth(token),
                Some(Authorization::Basic(c)) => request.basic_auth(&c.username, Some(&c.password)),
                None => request,
            }
        };
        let sent = self.current();
        let response = send(request(&sent), self.registry).await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return self.successful(response, &url).await;
        }
        let challenge = response
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let authorization = self.authorize(&challenge).await?;
        if authorization.is_none() || authorization == sent {
            return self.successful(response, &url).await;
        }
        *self.authorization.lock().expect("not poisoned") = authorization.clone();
        let response = send(request(&authorization), self.registry).await?;
        self.successful(response, &url).await
    }

    fn current(&self) -> Option<Authorization> {
        self.authorization.lock().expect("not poisoned").clone()
    }

    /// What answers `challenge`: a token from a bearer realm, basic
    /// credentials for a basic one; `None` when there is nothing to try.
    async fn authorize(&self, challenge: &str) -> Result<Option<Authorization>, String> {
        let Some((realm, service)) = parse_bearer(challenge) else {
            let basic = challenge
                .trim_start()
                .get(..5)
                .is_some_and(|s| s.eq_ignore_ascii_case("basic"));
            return Ok(self
                .credentials
                .filter(|_| basic)
                .map(|c| Authorization::Basic(c.clone())));
        };
        let scope = format!("repository:{}:pull", self.repository);
        let mut query = vec![("scope", scope.as_str())];
        if let Some(service) = &service {
            query.push(("service", service));
        }
        let mut request = self.http.get(&realm).query(&query);
        if let Some(c) = self.credentials {
            request = request.basic_auth(&c.username, Some(&c.password));
        }
        let response = send(request, self.registry).await?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| describe_request_error(&e, self.registry))?;
        if status != StatusCode::OK {
            let reason = String::from_utf8_lossy(&body);
            return Err(describe(
                &oci_client::errors::OciDistributionError::AuthenticationFailure(
                    reason.into_owned(),
                ),
                self.registry,
            ));
        }
        let token: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| format!("authentication failed: the token service answered {e}"))?;
        let token = ["token", "access_token"]
            .iter()
            .find_map(|key| token.get(key)?.as_str().filter(|t| !t.is_empty()))
            .ok_or("authentication failed: the token service answered no token")?;
        Ok(Some(Authorization::Bearer(token.to_string())))
    }

    /// `response` when it succeeded, else what the registry said.
    async fn successful(
        &self,
        response: reqwest::Response,
        url: &str,
    ) -> Result<reqwest::Response, String> {
        let status = response.status();
        if status == StatusCode::OK {
            return Ok(response);
        }
        let body = response.bytes().await.unwrap_or_default();
        Err(describe(&response_error(status, &body, url), self.registry))
    }
}
