//! Checking credentials against a registry (`skiff login`): the API root
//! `/v2/` tells which scheme the registry wants; basic credentials are
//! sent there, bearer registries get them at their token service.

use super::connection::{Connection, api_host, send};
use super::{Credentials, RegistryOptions, block_on};
use crate::layers::LayerError;

/// Succeeds when `registry` accepts `credentials` (or needs none).
pub fn login(
    registry: &str,
    credentials: &Credentials,
    options: &RegistryOptions,
) -> Result<(), LayerError> {
    let fail = |problem: String| LayerError::Registry {
        action: "logging in to",
        reference: registry.to_string(),
        problem,
    };
    let options = RegistryOptions {
        credentials: Some(credentials.clone()),
        ..options.clone()
    };
    block_on(async {
        let connection = Connection::open(registry, &options).await?;
        let host = api_host(registry);
        let root = format!("{}://{host}/v2/", connection.scheme);
        let http = connection.http()?;
        let response = send(http.get(&root), host).await.map_err(fail)?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        if status != reqwest::StatusCode::UNAUTHORIZED {
            return Err(fail(format!("{root} answered HTTP {}", status.as_u16())));
        }
        let challenge = response
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let check = match parse_bearer(&challenge) {
            Some((realm, service)) => {
                let mut query = vec![("account", credentials.username.as_str())];
                if let Some(service) = &service {
                    query.push(("service", service.as_str()));
                }
                http.get(&realm).query(&query)
            }
            None => http.get(&root),
        };
        let check = check.basic_auth(&credentials.username, Some(&credentials.password));
        let response = send(check, host).await.map_err(fail)?;
        match response.status() {
            s if s.is_success() => Ok(()),
            s if s == reqwest::StatusCode::UNAUTHORIZED || s == reqwest::StatusCode::FORBIDDEN => {
                Err(fail("invalid username/password".to_string()))
            }
            s => Err(fail(format!("the registry answered HTTP {}", s.as_u16()))),
        }
    })?
}

/// `Bearer realm="https://auth/token",service="registry"` → (realm,
/// service); `None` for other schemes.
pub(super) fn parse_bearer(challenge: &str) -> Option<(String, Option<String>)> {
    let (scheme, params) = challenge.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut realm = None;
    let mut service = None;
    for part in split_params(params) {
        let Some((key, value)) = part.split_once('=') else {
            continue;
        };
        let value = value.trim().trim_matches('"').to_string();
        match key.trim().to_ascii_lowercase().as_str() {
            "realm" => realm = Some(value),
            "service" => service = Some(value),
            _ => {}
        }
    }
    Some((realm?, service))
}

/// Splits `a="x,y",b=z` at the commas outside quotes.
fn split_params(params: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in params.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&params[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&params[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges_parse() {
        assert_eq!(
            parse_bearer(
                r#"Bearer realm="https://auth.io/token",service="registry.io",scope="repository:a:pull,push""#
            ),
            Some(("https://auth.io/token".into(), Some("registry.io".into())))
        );
        assert_eq!(
            parse_bearer(r#"bearer realm="https://a/t""#),
            Some(("https://a/t".into(), None))
        );
        assert_eq!(parse_bearer(r#"Basic realm="Registry Realm""#), None);
        assert_eq!(parse_bearer(""), None);
    }
}
