//! Registry failures as one short line each: what the registry said (its
//! error code, or the HTTP status) or why it could not be reached
//! (connection refused, TLS, timeout). The caller adds the action and
//! the reference.

use oci_client::errors::{OciDistributionError, OciEnvelope, OciErrorCode};

/// One line for a failed registry operation against `host`.
pub(super) fn describe(error: &OciDistributionError, host: &str) -> String {
    match error {
        OciDistributionError::RequestError(e) => describe_request_error(e, host),
        OciDistributionError::UnauthorizedError { .. } => {
            "unauthorized: authentication required".to_string()
        }
        OciDistributionError::AuthenticationFailure(reason) => {
            format!("authentication failed: {}", first_line(reason))
        }
        OciDistributionError::RegistryError { envelope, .. } => match envelope.errors.first() {
            Some(first) => {
                let what = code_text(&first.code);
                match first_line(&first.message) {
                    m if m.is_empty() || what.contains(&m.to_lowercase()) => what,
                    m => format!("{what}: {m}"),
                }
            }
            None => "the registry refused the request".to_string(),
        },
        OciDistributionError::ServerError { code, message, .. } => {
            let status = reqwest::StatusCode::from_u16(*code)
                .ok()
                .and_then(|s| s.canonical_reason().map(str::to_lowercase));
            let status = match status {
                Some(reason) => format!("{reason} (HTTP {code})"),
                None => format!("HTTP {code}"),
            };
            match first_line(message) {
                m if m.is_empty() => status,
                m => format!("{status}: {m}"),
            }
        }
        OciDistributionError::DigestError(e) => format!("digest mismatch: {e}"),
        other => first_line(&other.to_string()),
    }
}

/// The error a registry's non-200 answer stands for, as `oci-client`
/// makes it (so `describe` words it the same): 401 unauthorized, a 4xx
/// with the spec's error envelope, else the status and body.
pub(super) fn response_error(
    status: reqwest::StatusCode,
    body: &[u8],
    url: &str,
) -> OciDistributionError {
    let url = url.to_string();
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return OciDistributionError::UnauthorizedError { url };
    }
    if status.is_client_error()
        && let Ok(envelope) = serde_json::from_slice::<OciEnvelope>(body)
    {
        return OciDistributionError::RegistryError { envelope, url };
    }
    OciDistributionError::ServerError {
        code: status.as_u16(),
        url,
        message: String::from_utf8_lossy(body).into_owned(),
    }
}

/// docker's wording for the distribution spec's error codes.
fn code_text(code: &OciErrorCode) -> String {
    match code {
        OciErrorCode::ManifestUnknown => "manifest unknown".into(),
        OciErrorCode::NameUnknown => "repository name not known to registry".into(),
        OciErrorCode::BlobUnknown => "blob unknown to registry".into(),
        OciErrorCode::Unauthorized => "unauthorized: authentication required".into(),
        OciErrorCode::Denied => "denied: requested access to the resource is denied".into(),
        OciErrorCode::Toomanyrequests => "too many requests".into(),
        OciErrorCode::Other(code) => code.to_lowercase().replace('_', " "),
        other => format!("{other:?}")
            .chars()
            .enumerate()
            .flat_map(|(i, c)| {
                let space = (i > 0 && c.is_uppercase()).then_some(' ');
                space.into_iter().chain(c.to_lowercase())
            })
            .collect(),
    }
}

/// Why an HTTP request failed, from the innermost cause: `connecting to
/// HOST: connection refused`, `TLS with HOST: invalid peer certificate…`.
pub(super) fn describe_request_error(error: &reqwest::Error, host: &str) -> String {
    let mut causes = Vec::new();
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(error);
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    let innermost = causes
        .iter()
        .rev()
        .find(|c| !c.is_empty() && !c.starts_with("client error"))
        .cloned()
        .unwrap_or_else(|| error.to_string());
    let all = causes.join(": ").to_lowercase();
    let innermost = first_line(&innermost);
    if all.contains("invalidcontenttype") || all.contains("corrupt message") {
        format!("TLS with {host} failed: the registry speaks plain HTTP (use --tls-verify=false)")
    } else if error.is_timeout() {
        format!("connecting to {host}: timed out")
    } else if all.contains("certificate") || all.contains("tls") || all.contains("handshake") {
        format!("TLS with {host} failed: {innermost}")
    } else if error.is_connect() {
        format!("connecting to {host}: {}", lower_first(&innermost))
    } else {
        format!("talking to {host}: {}", lower_first(&innermost))
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_string()
}

/// `Connection refused (os error 111)` → `connection refused (os error 111)`.
fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_client::errors::{OciEnvelope, OciError};

    fn envelope(code: OciErrorCode, message: &str) -> OciDistributionError {
        OciDistributionError::RegistryError {
            envelope: OciEnvelope {
                errors: vec![OciError {
                    code,
                    message: message.to_string(),
                    detail: serde_json::Value::Null,
                }],
            },
            url: "http://h/v2/x".into(),
        }
    }

    #[test]
    fn registry_codes_read_like_docker() {
        let d = |e| describe(&e, "h");
        assert_eq!(
            d(envelope(OciErrorCode::ManifestUnknown, "manifest unknown")),
            "manifest unknown"
        );
        assert_eq!(
            d(envelope(
                OciErrorCode::NameUnknown,
                "repository name not known to registry"
            )),
            "repository name not known to registry"
        );
        assert_eq!(
            d(envelope(OciErrorCode::BlobUploadInvalid, "bad\nsecond")),
            "blob upload invalid: bad"
        );
        assert_eq!(
            d(OciDistributionError::UnauthorizedError { url: "u".into() }),
            "unauthorized: authentication required"
        );
        let not_found = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#;
        assert_eq!(
            d(response_error(
                reqwest::StatusCode::NOT_FOUND,
                not_found,
                "u"
            )),
            "manifest unknown"
        );
        assert_eq!(
            d(response_error(reqwest::StatusCode::UNAUTHORIZED, b"", "u")),
            "unauthorized: authentication required"
        );
        assert_eq!(
            d(response_error(
                reqwest::StatusCode::SERVICE_UNAVAILABLE,
                b"down\nfor repairs",
                "u"
            )),
            "service unavailable (HTTP 503): down"
        );
        assert_eq!(
            d(OciDistributionError::ServerError {
                code: 502,
                url: "u".into(),
                message: String::new()
            }),
            "bad gateway (HTTP 502)"
        );
    }
}
