//! `skiff images --filter`: podman's filters `dangling=true|false`,
//! `reference=PATTERN` (glob on the name, with or without tag),
//! `label=KEY[=VALUE]`, `before=IMAGE`, `since=IMAGE`. Several filters
//! must all hold, except several `reference=` of which one must.

use std::collections::BTreeMap;

use super::EngineError;
use super::label_filter::LabelFilter;
use crate::layers::{ImageSummary, Store};
use crate::timestamp::parse_rfc3339;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageFilter {
    Dangling(bool),
    Reference(String),
    Label(LabelFilter),
    /// Created before / after the image with this creation time (seconds).
    Before(i64),
    Since(i64),
}

/// Parses `--filter KEY=VALUE` arguments; `before`/`since` name images in
/// `store`.
pub fn parse_image_filters(
    store: &Store,
    filters: &[String],
) -> Result<Vec<ImageFilter>, EngineError> {
    let created_of = |name: &str| -> Result<i64, EngineError> {
        let image = store.resolve_image(name)?;
        Ok(image.config.created().as_deref().map_or(0, seconds))
    };
    filters
        .iter()
        .map(|f| {
            let (key, value) = f.split_once('=').ok_or_else(|| {
                EngineError::Invalid(format!("invalid filter {f:?}: expected KEY=VALUE"))
            })?;
            Ok(match key {
                "dangling" => match value {
                    "true" | "1" => ImageFilter::Dangling(true),
                    "false" | "0" => ImageFilter::Dangling(false),
                    _ => {
                        return Err(EngineError::Invalid(format!(
                            "invalid filter {f:?}: dangling is true or false"
                        )));
                    }
                },
                "reference" => ImageFilter::Reference(value.to_string()),
                "label" => ImageFilter::Label(LabelFilter::parse(value)),
                "before" => ImageFilter::Before(created_of(value)?),
                "since" => ImageFilter::Since(created_of(value)?),
                other => {
                    return Err(EngineError::Invalid(format!(
                        "invalid filter {other:?}: supported are dangling, reference, label, before, since"
                    )));
                }
            })
        })
        .collect()
}

/// Keeps the rows every filter accepts. `labels` gives an image's labels
/// (read only when a label filter asks).
pub fn filter_images(
    rows: Vec<ImageSummary>,
    filters: &[ImageFilter],
    labels: &dyn Fn(&ImageSummary) -> BTreeMap<String, String>,
) -> Vec<ImageSummary> {
    let references: Vec<&str> = filters
        .iter()
        .filter_map(|f| match f {
            ImageFilter::Reference(p) => Some(p.as_str()),
            _ => None,
        })
        .collect();
    rows.into_iter()
        .filter(|row| {
            let created = row.created.as_deref().map_or(0, seconds);
            // A build's cache images are not dangling (podman's reading).
            let dangling = row.repository == "<none>" && !row.intermediate;
            (references.is_empty() || references.iter().any(|p| reference_matches(p, row)))
                && filters.iter().all(|f| match f {
                    ImageFilter::Dangling(want) => dangling == *want,
                    ImageFilter::Reference(_) => true,
                    ImageFilter::Label(label) => label.matches(&labels(row)),
                    ImageFilter::Before(t) => created < *t,
                    ImageFilter::Since(t) => created > *t,
                })
        })
        .collect()
}

/// Seconds since the epoch of an RFC 3339 time (0 when unparsable).
fn seconds(time: &str) -> i64 {
    parse_rfc3339(time).map_or(0, |(secs, _)| secs)
}

/// A reference pattern against a row: the pattern is matched (as a glob)
/// against the full name and every trailing part of it after a `/`
/// (`busybox` finds `localhost/busybox`, as podman's does), each with
/// `:tag` when the pattern has one.
fn reference_matches(pattern: &str, row: &ImageSummary) -> bool {
    if row.repository == "<none>" {
        return false;
    }
    let with_tag = pattern
        .rsplit('/')
        .next()
        .is_some_and(|last| last.contains(':'));
    let full = row.repository.as_str();
    let names = std::iter::once(full).chain(full.match_indices('/').map(|(i, _)| &full[i + 1..]));
    names.into_iter().any(|name| {
        let candidate = if with_tag {
            format!("{name}:{}", row.tag)
        } else {
            name.to_string()
        };
        glob_matches(pattern.as_bytes(), candidate.as_bytes())
    })
}

/// `*` matches any run without `/`, `?` one character other than `/`.
fn glob_matches(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len())
            .take_while(|&i| i == 0 || text[i - 1] != b'/')
            .any(|i| glob_matches(rest, &text[i..])),
        Some((b'?', rest)) => {
            text.first().is_some_and(|&c| c != b'/') && glob_matches(rest, &text[1..])
        }
        Some((&c, rest)) => text.first() == Some(&c) && glob_matches(rest, &text[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::Digest;

    fn row(repository: &str, tag: &str, created: &str) -> ImageSummary {
        ImageSummary {
            id: Digest::of_bytes(repository.as_bytes()),
            repository: repository.into(),
            tag: tag.into(),
            digest: Digest::of_bytes(b"m"),
            created: Some(created.into()),
            size: 1,
            intermediate: false,
        }
    }

    #[test]
    fn filters_select_like_podman() {
        let rows = vec![
            row(
                "docker.io/library/busybox",
                "latest",
                "2020-01-01T00:00:00Z",
            ),
            row("quay.io/me/app", "1", "2021-01-01T00:00:00Z"),
            row("<none>", "<none>", "2022-01-01T00:00:00Z"),
        ];
        let keep = |filters: &[ImageFilter]| -> Vec<String> {
            filter_images(rows.clone(), filters, &|r| {
                let mut labels = BTreeMap::new();
                if r.repository.contains("app") {
                    labels.insert("tier".to_string(), "web".to_string());
                }
                labels
            })
            .into_iter()
            .map(|r| r.repository)
            .collect()
        };
        assert_eq!(keep(&[ImageFilter::Dangling(true)]), ["<none>"]);
        assert_eq!(keep(&[ImageFilter::Dangling(false)]).len(), 2);
        assert_eq!(
            keep(&[ImageFilter::Reference("busybox".into())]),
            ["docker.io/library/busybox"]
        );
        assert_eq!(
            keep(&[ImageFilter::Reference("busy*:lat*".into())]),
            ["docker.io/library/busybox"]
        );
        assert_eq!(
            keep(&[ImageFilter::Reference("quay.io/*/app".into())]),
            ["quay.io/me/app"]
        );
        assert!(keep(&[ImageFilter::Reference("quay.io/*".into())]).is_empty());
        assert_eq!(
            keep(&[ImageFilter::Reference("app".into())]),
            ["quay.io/me/app"]
        );
        assert!(keep(&[ImageFilter::Reference("pp".into())]).is_empty());
        assert_eq!(
            keep(&[
                ImageFilter::Reference("busybox".into()),
                ImageFilter::Reference("*/me/app:1".into())
            ])
            .len(),
            2
        );
        assert_eq!(
            keep(&[ImageFilter::Label(LabelFilter::parse("tier=web"))]),
            ["quay.io/me/app"]
        );
        assert!(keep(&[ImageFilter::Label(LabelFilter::parse("tier=db"))]).is_empty());
        let t2021 = seconds("2021-01-01T00:00:00Z");
        assert_eq!(
            keep(&[ImageFilter::Before(t2021)]),
            ["docker.io/library/busybox"]
        );
        assert_eq!(keep(&[ImageFilter::Since(t2021)]), ["<none>"]);
    }
}
