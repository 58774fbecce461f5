//! Image manifests and indexes as the OCI image spec and Docker's
//! distribution schema 2 write them (the two share one shape), and the
//! choice of a platform's manifest from an index. Shared by archive loads,
//! registry pulls and pushes, and `save`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::compression::Compression;
use super::{Digest, LayerError, invalid};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub(crate) const INDEX_MEDIA_TYPES: [&str; 2] = [OCI_INDEX, DOCKER_MANIFEST_LIST];
/// What a registry is asked for, most wanted first.
pub const ACCEPTED_MANIFESTS: [&str; 4] = [
    OCI_INDEX,
    DOCKER_MANIFEST_LIST,
    OCI_MANIFEST,
    DOCKER_MANIFEST,
];

/// The GOARCH spelling of the host architecture.
pub(crate) fn host_goarch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// A content descriptor (`mediaType`, `digest`, `size`, …).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Descriptor {
    pub media_type: Option<String>,
    pub digest: String,
    pub size: u64,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    pub platform: Option<Platform>,
}

/// A platform as an index entry or `--platform` names it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    #[serde(default)]
    pub variant: Option<String>,
}

impl Platform {
    /// linux on the host's architecture.
    pub fn host() -> Platform {
        Platform {
            os: "linux".to_string(),
            architecture: host_goarch().to_string(),
            variant: None,
        }
    }

    /// `os/arch[/variant]` (`--platform`), or `None` parts from `--os`,
    /// `--arch`, `--variant` over the host's.
    pub fn parse(
        platform: Option<&str>,
        os: Option<&str>,
        arch: Option<&str>,
        variant: Option<&str>,
    ) -> Result<Platform, LayerError> {
        let mut chosen = Platform::host();
        if let Some(p) = platform {
            let parts: Vec<&str> = p.split('/').collect();
            if !(2..=3).contains(&parts.len()) || parts.iter().any(|s| s.is_empty()) {
                return Err(invalid(
                    format!("platform {p:?}"),
                    "expected os/arch[/variant]",
                ));
            }
            chosen.os = parts[0].to_string();
            chosen.architecture = parts[1].to_string();
            chosen.variant = parts.get(2).map(|v| v.to_string());
        }
        if let Some(os) = os {
            chosen.os = os.to_string();
        }
        if let Some(arch) = arch {
            chosen.architecture = arch.to_string();
        }
        if let Some(variant) = variant {
            chosen.variant = Some(variant.to_string());
        }
        Ok(chosen)
    }

    fn matches(&self, entry: &Platform) -> bool {
        entry.os == self.os
            && entry.architecture == self.architecture
            && match (&self.variant, &entry.variant) {
                (Some(want), Some(have)) => want == have,
                (Some(_), None) => false,
                (None, _) => true,
            }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// An image index or image manifest (which fields are present tells).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OciDocument {
    pub media_type: Option<String>,
    #[serde(default)]
    pub manifests: Option<Vec<Descriptor>>,
    pub config: Option<Descriptor>,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
}

impl OciDocument {
    pub(crate) fn parse(data: &[u8], subject: &str) -> Result<OciDocument, LayerError> {
        serde_json::from_slice(data).map_err(|e| invalid(subject, format!("invalid JSON: {e}")))
    }

    /// True for an image index / manifest list. `served_type` is the media
    /// type the document came with (descriptor or Content-Type), if any.
    pub(crate) fn is_index(&self, served_type: Option<&str>) -> bool {
        match served_type
            .filter(|t| !t.is_empty())
            .or(self.media_type.as_deref())
        {
            Some(t) => INDEX_MEDIA_TYPES.contains(&t),
            None => self.manifests.is_some(),
        }
    }

    /// The entry of an index for `platform`: an exact variant match first,
    /// then any variant of the os/arch when none was asked for.
    pub(crate) fn choose(
        &self,
        platform: &Platform,
        subject: &str,
    ) -> Result<&Descriptor, LayerError> {
        let entries = self.manifests.as_deref().unwrap_or_default();
        entries
            .iter()
            .find(|d| d.platform.as_ref().is_some_and(|p| platform.matches(p)))
            .ok_or_else(|| invalid(subject, format!("has no manifest for {platform}")))
    }

    /// The config descriptor of an image manifest.
    pub(crate) fn config(&self, subject: &str) -> Result<&Descriptor, LayerError> {
        self.config
            .as_ref()
            .ok_or_else(|| invalid(subject, "has no config"))
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ManifestOut {
    schema_version: u32,
    media_type: &'static str,
    config: DescriptorOut,
    layers: Vec<DescriptorOut>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DescriptorOut {
    media_type: &'static str,
    digest: Digest,
    size: u64,
}

/// An OCI image manifest for a config and (blob, size, compression) layers.
pub(crate) fn synthesize_manifest(
    config: (&Digest, u64),
    layers: &[(Digest, u64, Compression)],
) -> Result<Vec<u8>, LayerError> {
    let manifest = ManifestOut {
        schema_version: 2,
        media_type: OCI_MANIFEST,
        config: DescriptorOut {
            media_type: OCI_CONFIG,
            digest: config.0.clone(),
            size: config.1,
        },
        layers: layers
            .iter()
            .map(|(digest, size, c)| DescriptorOut {
                media_type: c.layer_media_type(),
                digest: digest.clone(),
                size: *size,
            })
            .collect(),
    };
    serde_json::to_vec(&manifest).map_err(|e| LayerError::Other(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(os: &str, arch: &str, variant: Option<&str>, digest: &str) -> String {
        let variant = variant.map_or(String::new(), |v| format!(r#","variant":"{v}""#));
        format!(
            r#"{{"digest":"{digest}","size":1,"platform":{{"os":"{os}","architecture":"{arch}"{variant}}}}}"#
        )
    }

    #[test]
    fn platform_choice_follows_os_arch_and_variant() {
        let doc = format!(
            r#"{{"mediaType":"{OCI_INDEX}","manifests":[{},{},{},{}]}}"#,
            entry("linux", "arm", Some("v6"), "a"),
            entry("linux", "arm", Some("v7"), "b"),
            entry("linux", "amd64", None, "c"),
            entry("windows", "amd64", None, "d"),
        );
        let doc = OciDocument::parse(doc.as_bytes(), "index").unwrap();
        assert!(doc.is_index(None));
        let pick = |p: &str| {
            let platform = Platform::parse(Some(p), None, None, None).unwrap();
            doc.choose(&platform, "index").map(|d| d.digest.clone())
        };
        assert_eq!(pick("linux/amd64").unwrap(), "c");
        assert_eq!(pick("linux/arm/v7").unwrap(), "b");
        assert_eq!(pick("linux/arm").unwrap(), "a");
        assert_eq!(pick("windows/amd64").unwrap(), "d");
        assert_eq!(
            pick("linux/s390x").unwrap_err().to_string(),
            "index: has no manifest for linux/s390x"
        );
        let arch = Platform::parse(None, None, Some("arm"), Some("v7")).unwrap();
        assert_eq!(arch.to_string(), "linux/arm/v7");
        assert!(Platform::parse(Some("linux"), None, None, None).is_err());
        assert!(Platform::parse(Some("linux//v7"), None, None, None).is_err());
    }

    #[test]
    fn index_is_told_by_served_type_then_document() {
        let manifest = format!(r#"{{"mediaType":"{DOCKER_MANIFEST}","layers":[]}}"#);
        let doc = OciDocument::parse(manifest.as_bytes(), "m").unwrap();
        assert!(!doc.is_index(None));
        assert!(doc.is_index(Some(DOCKER_MANIFEST_LIST)));
        let bare = OciDocument::parse(br#"{"manifests":[]}"#, "m").unwrap();
        assert!(bare.is_index(None));
        assert!(bare.is_index(Some("")));
    }
}
