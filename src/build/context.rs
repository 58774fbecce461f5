//! The build context: a directory, or a tar on standard input unpacked
//! into the store's `tmp/` for the build; the Dockerfile (`Dockerfile`,
//! else `Containerfile`, `-f PATH`, `-f -`, or standard input without a
//! context); and the `.dockerignore` rules, applied to every file a COPY
//! or ADD sees, so an excluded file is neither copied nor hashed.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::ignore::{IgnoreRules, ignore_file_for};
use super::in_root::Root;
use super::request::{BuildError, ContextSource, DockerfileSource};

/// A temp directory removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The context and Dockerfile of one build.
pub struct Context {
    /// The context directory, opened: every context path is resolved
    /// inside it. `None` when there is none (Dockerfile on standard
    /// input): then COPY has nothing to copy from.
    pub fs_root: Option<Root>,
    pub rules: IgnoreRules,
    pub dockerfile_text: String,
    /// What errors call the Dockerfile (`Dockerfile`, `-`, a path).
    pub dockerfile_name: String,
    _temp: Option<TempDir>,
}

impl Context {
    /// Whether `rel` (slash-separated, relative to the context root) is
    /// left out by `.dockerignore`.
    pub fn is_excluded(&self, rel: &str) -> bool {
        !rel.is_empty() && self.rules.is_excluded(rel)
    }
}

/// A tar (plain, gzip, zstd) rather than a Dockerfile.
fn looks_like_tar(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
        || bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
        || bytes.get(257..262) == Some(b"ustar")
}

fn unpack_tar(bytes: &[u8], dir: &Path) -> Result<(), BuildError> {
    let reader: Box<dyn Read + '_> = if bytes.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::MultiGzDecoder::new(bytes))
    } else if bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(
            zstd::stream::read::Decoder::new(bytes)
                .map_err(BuildError::io("reading the context from standard input"))?,
        )
    } else {
        Box::new(bytes)
    };
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive.set_overwrite(true);
    // tar's unpack refuses entries that would leave `dir`.
    archive
        .unpack(dir)
        .map_err(BuildError::io("unpacking the context from standard input"))
}

fn read_text(path: &Path, name: &str) -> Result<String, BuildError> {
    let bytes = fs::read(path)
        .map_err(|e| BuildError::Invalid(format!("reading Dockerfile {name}: {e}")))?;
    String::from_utf8(bytes)
        .map_err(|_| BuildError::Invalid(format!("Dockerfile {name} is not UTF-8 text")))
}

/// Loads the context and the Dockerfile; `tmp` is where a context that
/// arrives as a tar is unpacked (the store's `tmp/`).
pub fn load_context(
    source: &ContextSource,
    dockerfile: &DockerfileSource,
    tmp: PathBuf,
) -> Result<Context, BuildError> {
    let (root, temp, stdin_dockerfile) = match source {
        ContextSource::Dir(dir) => {
            let meta = fs::metadata(dir).map_err(|e| {
                BuildError::Invalid(format!("context directory {}: {e}", dir.display()))
            })?;
            if !meta.is_dir() {
                return Err(BuildError::Invalid(format!(
                    "context {} is not a directory",
                    dir.display()
                )));
            }
            let root = dir
                .canonicalize()
                .map_err(BuildError::io(format!("resolving {}", dir.display())))?;
            (Some(root), None, None)
        }
        ContextSource::Stdin(bytes) if looks_like_tar(bytes) => {
            fs::create_dir(&tmp).map_err(BuildError::io(format!("creating {}", tmp.display())))?;
            let temp = TempDir(tmp.clone());
            unpack_tar(bytes, &tmp)?;
            (Some(tmp), Some(temp), None)
        }
        ContextSource::Stdin(bytes) => {
            if matches!(dockerfile, DockerfileSource::Text(_)) {
                return Err(BuildError::Invalid(
                    "cannot read both the Dockerfile and the context from standard input".into(),
                ));
            }
            (None, None, Some(bytes.clone()))
        }
    };
    let (text, name, path) = match (stdin_dockerfile.as_ref(), dockerfile) {
        (Some(bytes), _) | (None, DockerfileSource::Text(bytes)) => (
            String::from_utf8(bytes.clone()).map_err(|_| {
                BuildError::Invalid("the Dockerfile on standard input is not UTF-8 text".into())
            })?,
            "-".to_string(),
            None,
        ),
        (None, DockerfileSource::Path(path)) => {
            let name = path.display().to_string();
            // In a context that came as a tar, `-f` names a file in it.
            let path = match (&temp, &root) {
                (Some(_), Some(root)) if path.is_relative() => root.join(path),
                _ => path.clone(),
            };
            (read_text(&path, &name)?, name, Some(path))
        }
        (None, DockerfileSource::Default) => {
            let root = root
                .as_ref()
                .expect("a context without a Dockerfile source has a root");
            let found = ["Dockerfile", "Containerfile"]
                .iter()
                .map(|n| root.join(n))
                .find(|p| p.is_file())
                .ok_or_else(|| {
                    BuildError::Invalid(format!(
                        "no Dockerfile or Containerfile found in context {}",
                        root.display()
                    ))
                })?;
            let name = found
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (read_text(&found, &name)?, name, Some(found))
        }
    };
    let rules = match (&root, &path) {
        (Some(root), _) => {
            let dockerfile_path = path.clone().unwrap_or_else(|| root.join("Dockerfile"));
            match ignore_file_for(root, &dockerfile_path) {
                Some(file) => {
                    let text = fs::read_to_string(&file)
                        .map_err(BuildError::io(format!("reading {}", file.display())))?;
                    IgnoreRules::parse(&text, &file.display().to_string())
                        .map_err(|e| BuildError::Invalid(e.to_string()))?
                }
                None => IgnoreRules::default(),
            }
        }
        (None, _) => IgnoreRules::default(),
    };
    let fs_root = match &root {
        Some(dir) => {
            Some(Root::open(dir).map_err(BuildError::io(format!("opening {}", dir.display())))?)
        }
        None => None,
    };
    Ok(Context {
        fs_root,
        rules,
        dockerfile_text: text,
        dockerfile_name: name,
        _temp: temp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdin_is_a_tar_or_a_dockerfile() {
        assert!(!looks_like_tar(b"FROM busybox\n"));
        assert!(looks_like_tar(&[0x1f, 0x8b, 8, 0]));
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_ustar();
        header.set_size(3);
        header.set_mode(0o644);
        builder
            .append_data(&mut header, "Dockerfile", &b"x\n\n"[..])
            .unwrap();
        assert!(looks_like_tar(&builder.into_inner().unwrap()));
    }

    #[test]
    fn default_names_and_missing_dockerfile() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join("unused");
        let err = load_context(
            &ContextSource::Dir(dir.path().into()),
            &DockerfileSource::Default,
            tmp.clone(),
        )
        .err()
        .unwrap()
        .to_string();
        assert!(
            err.starts_with("no Dockerfile or Containerfile found"),
            "{err}"
        );
        fs::write(dir.path().join("Containerfile"), "FROM c\n").unwrap();
        let ctx = load_context(
            &ContextSource::Dir(dir.path().into()),
            &DockerfileSource::Default,
            tmp.clone(),
        )
        .unwrap();
        assert_eq!(ctx.dockerfile_text, "FROM c\n");
        fs::write(dir.path().join("Dockerfile"), "FROM d\n").unwrap();
        let ctx = load_context(
            &ContextSource::Dir(dir.path().into()),
            &DockerfileSource::Default,
            tmp,
        )
        .unwrap();
        assert_eq!(ctx.dockerfile_text, "FROM d\n");
        assert_eq!(ctx.dockerfile_name, "Dockerfile");
    }
}
