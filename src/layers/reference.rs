//! Docker image references: parsing and normalization to the full form
//! `registry/repository[:tag][@sha256:…]`, following docker's
//! `reference.ParseNormalizedNamed` rules.

use std::fmt;

use super::{Digest, LayerError};

/// The registry of references that name none (`busybox`).
pub const DEFAULT_REGISTRY: &str = "docker.io";
/// The tag of references that carry neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";
/// Docker's limit on the length of the name part (registry + repository).
const MAX_NAME_LEN: usize = 255;

/// A parsed, normalized image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageReference {
    /// `docker.io`, `quay.io`, `localhost:5000`.
    pub registry: String,
    /// `library/busybox`, `user/app`.
    pub repository: String,
    /// `latest` when the input had neither tag nor digest.
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

impl ImageReference {
    /// Parses and normalizes `s` (`busybox` → `docker.io/library/busybox:latest`).
    pub fn parse(s: &str) -> Result<ImageReference, LayerError> {
        parse_reference(s).ok_or_else(|| LayerError::InvalidReference {
            reference: s.to_string(),
        })
    }

    /// `registry/repository`, what `skiff images` shows as REPOSITORY.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
}

impl fmt::Display for ImageReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

fn parse_reference(s: &str) -> Option<ImageReference> {
    let (rest, digest) = match s.split_once('@') {
        Some((rest, digest)) => (rest, Some(Digest::parse(digest).ok()?)),
        None => (s, None),
    };
    // A tag is what follows the last ':' after the last '/'; a ':' before
    // the last '/' belongs to a registry port.
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(tag) = tag
        && !is_tag(tag)
    {
        return None;
    }
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return None;
    }
    let (registry, path) = match name.split_once('/') {
        Some((first, path))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            if !is_registry(first) {
                return None;
            }
            (first, path)
        }
        _ => (DEFAULT_REGISTRY, name),
    };
    if !path.split('/').all(is_path_component) {
        return None;
    }
    let registry = if registry == "index.docker.io" {
        DEFAULT_REGISTRY
    } else {
        registry
    };
    let repository = if registry == DEFAULT_REGISTRY && !path.contains('/') {
        // Docker refuses 64-hex names: they would read as image IDs.
        if crate::layers::digest::is_sha256_hex(path) {
            return None;
        }
        format!("library/{path}")
    } else {
        path.to_string()
    };
    let tag = match (tag, &digest) {
        (Some(tag), _) => Some(tag.to_string()),
        (None, Some(_)) => None,
        (None, None) => Some(DEFAULT_TAG.to_string()),
    };
    Some(ImageReference {
        registry: registry.to_string(),
        repository,
        tag,
        digest,
    })
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*`
fn is_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    let mut i = 0;
    loop {
        // An alphanumeric run, at least one character.
        let start = i;
        while i < b.len() && alnum(b[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i == b.len() {
            return true;
        }
        // A separator, then another run must follow.
        match b[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < b.len() && b[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < b.len() && b[i] == b'-' {
                    i += 1;
                }
            }
            _ => return false,
        }
    }
}

/// `[\w][\w.-]{0,127}`
fn is_tag(t: &str) -> bool {
    let word = |x: u8| x.is_ascii_alphanumeric() || x == b'_';
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b[1..].iter().all(|&x| word(x) || x == b'.' || x == b'-')
}

/// A host name (dot-separated labels of `[a-zA-Z0-9-]`, not starting or
/// ending with `-`) or a bracketed IPv6 address, with an optional `:port`.
fn is_registry(r: &str) -> bool {
    let (host, port) = if let Some(rest) = r.strip_prefix('[') {
        let Some((addr, after)) = rest.split_once(']') else {
            return false;
        };
        if addr.is_empty() || !addr.bytes().all(|x| x.is_ascii_hexdigit() || x == b':') {
            return false;
        }
        match after {
            "" => return true,
            _ => match after.strip_prefix(':') {
                Some(port) => ("", Some(port)),
                None => return false,
            },
        }
    } else {
        match r.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (r, None),
        }
    };
    if let Some(port) = port
        && (port.is_empty() || !port.bytes().all(|x| x.is_ascii_digit()))
    {
        return false;
    }
    if r.starts_with('[') {
        return true;
    }
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|x| x.is_ascii_alphanumeric() || x == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn good_references_normalize() {
        let table = [
            ("busybox", "docker.io/library/busybox:latest"),
            ("busybox:1.36", "docker.io/library/busybox:1.36"),
            ("user/app", "docker.io/user/app:latest"),
            ("docker.io/busybox", "docker.io/library/busybox:latest"),
            (
                "index.docker.io/library/busybox:1",
                "docker.io/library/busybox:1",
            ),
            ("localhost/app", "localhost/app:latest"),
            ("localhost:5000/a/b:t", "localhost:5000/a/b:t"),
            ("quay.io/x/y:v1.2-rc_3", "quay.io/x/y:v1.2-rc_3"),
            (
                "registry.example.com:443/ns/sub/img",
                "registry.example.com:443/ns/sub/img:latest",
            ),
            ("[::1]:5000/img:T_1", "[::1]:5000/img:T_1"),
            (
                "a__b.c-d---e:Latest",
                "docker.io/library/a__b.c-d---e:Latest",
            ),
            ("1.36", "docker.io/library/1.36:latest"),
        ];
        for (input, want) in table {
            let r = ImageReference::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(r.to_string(), want, "{input}");
        }
    }

    #[test]
    fn digests_are_kept_and_suppress_the_default_tag() {
        let r = ImageReference::parse(&format!("quay.io/x/y@sha256:{HEX}")).unwrap();
        assert_eq!(r.registry, "quay.io");
        assert_eq!(r.repository, "x/y");
        assert_eq!(r.tag, None);
        assert_eq!(r.digest.as_ref().map(|d| d.hex()), Some(HEX));
        assert_eq!(r.to_string(), format!("quay.io/x/y@sha256:{HEX}"));

        let r = ImageReference::parse(&format!("name:tag@sha256:{HEX}")).unwrap();
        assert_eq!(
            r.to_string(),
            format!("docker.io/library/name:tag@sha256:{HEX}")
        );
        assert_eq!(r.name(), "docker.io/library/name");
    }

    #[test]
    fn bad_references_are_refused() {
        let long_tag = format!("a:{}", "t".repeat(129));
        let long_name = "a".repeat(256);
        let bad = [
            "",
            "Busybox",
            "library/Busybox",
            "busybox:",
            ":latest",
            "busybox:-tag",
            "busybox:ta/g",
            "/busybox",
            "busybox/",
            "a//b",
            "a_-b",
            "a___b",
            "-a",
            "a-",
            "a.",
            "a b",
            "busybox@sha256:abc",
            "busybox@md5:abc",
            "busybox@",
            "quay.io/",
            "quay..io/x",
            "quay.io:port/x",
            "-bad.io/x",
            HEX,
            &long_tag,
            &long_name,
        ];
        for input in bad {
            match ImageReference::parse(input) {
                Err(e) => assert_eq!(
                    e.to_string(),
                    format!("invalid reference format: {input:?}")
                ),
                Ok(r) => panic!("{input:?} parsed as {r}"),
            }
        }
    }
}
