//! Registry credentials in the auth.json format podman and docker share:
//! `{"auths": {"<registry>": {"auth": base64("user:password")}}}`.
//!
//! Written to podman's file: `$REGISTRY_AUTH_FILE`, else
//! `$XDG_RUNTIME_DIR/containers/auth.json` (`/run/containers/0/auth.json`
//! for root), else `~/.config/containers/auth.json`. Read from that file,
//! then `~/.docker/config.json`, so docker logins work too.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

use crate::layers::{LayerError, invalid, io_error};

/// A user name and password (or token) for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({:?}, <hidden>)", self.username)
    }
}

impl Credentials {
    /// `--creds USER[:PASSWORD]`.
    pub fn parse(creds: &str) -> Result<Credentials, LayerError> {
        let (username, password) = creds.split_once(':').unwrap_or((creds, ""));
        if username.is_empty() {
            return Err(invalid("--creds", "the user name is empty"));
        }
        Ok(Credentials {
            username: username.to_string(),
            password: password.to_string(),
        })
    }
}

/// The auth file skiff writes, and the files it reads credentials from.
#[derive(Debug, Clone)]
pub struct AuthFile {
    /// Where `login` writes and `logout` removes.
    pub path: PathBuf,
    /// Read after `path` (docker's config), unless `--authfile` was given.
    fallback: Option<PathBuf>,
}

impl AuthFile {
    /// `explicit` (`--authfile`), else the default locations.
    pub fn locate(explicit: Option<&Path>) -> AuthFile {
        if let Some(path) = explicit {
            return AuthFile {
                path: path.to_path_buf(),
                fallback: None,
            };
        }
        let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let home = env("HOME").map(PathBuf::from);
        let path = if let Some(file) = env("REGISTRY_AUTH_FILE") {
            PathBuf::from(file)
        } else if let Some(runtime) = env("XDG_RUNTIME_DIR") {
            PathBuf::from(runtime).join("containers/auth.json")
        } else if nix::unistd::geteuid().is_root() {
            PathBuf::from("/run/containers/0/auth.json")
        } else {
            home.clone()
                .unwrap_or_else(|| PathBuf::from("/"))
                .join(".config/containers/auth.json")
        };
        AuthFile {
            path,
            fallback: home.map(|h| h.join(".docker/config.json")),
        }
    }

    /// Credentials stored for `registry`, from the first file that has
    /// them.
    pub fn lookup(&self, registry: &str) -> Result<Option<Credentials>, LayerError> {
        for path in std::iter::once(&self.path).chain(&self.fallback) {
            let auths = read_auths(path)?;
            for (key, entry) in &auths {
                if !registry_keys(registry).contains(&normalize_key(key)) {
                    continue;
                }
                let Some(encoded) = entry.get("auth").and_then(Value::as_str) else {
                    continue;
                };
                return decode(encoded, path, key).map(Some);
            }
        }
        Ok(None)
    }

    /// Stores `credentials` for `registry` (file mode 0600).
    pub fn store(&self, registry: &str, credentials: &Credentials) -> Result<(), LayerError> {
        let mut document = read_document(&self.path)?;
        let auths = auths_of(&mut document);
        let encoded = STANDARD.encode(format!("{}:{}", credentials.username, credentials.password));
        auths.insert(registry.to_string(), serde_json::json!({ "auth": encoded }));
        self.write(&document)
    }

    /// Removes the credentials of `registry`; false when there were none.
    pub fn remove(&self, registry: &str) -> Result<bool, LayerError> {
        let mut document = read_document(&self.path)?;
        let auths = auths_of(&mut document);
        let keys = registry_keys(registry);
        let before = auths.len();
        auths.retain(|key, _| !keys.contains(&normalize_key(key)));
        if auths.len() == before {
            return Ok(false);
        }
        self.write(&document)?;
        Ok(true)
    }

    /// Removes every stored credential (`logout --all`).
    pub fn remove_all(&self) -> Result<(), LayerError> {
        let mut document = read_document(&self.path)?;
        auths_of(&mut document).clear();
        self.write(&document)
    }

    fn write(&self, document: &Value) -> Result<(), LayerError> {
        if let Some(dir) = self.path.parent() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(io_error("creating", dir))?;
        }
        let data =
            serde_json::to_vec_pretty(document).map_err(|e| LayerError::Other(e.to_string()))?;
        let tmp = self
            .path
            .with_extension(format!("tmp-{}", std::process::id()));
        let written = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| std::io::Write::write_all(&mut f, &data));
        written.map_err(io_error("writing", &tmp))?;
        fs::rename(&tmp, &self.path).map_err(io_error("renaming into", &self.path))
    }
}

/// The keys a registry's credentials may be stored under: its name, and
/// for Docker Hub the names docker uses.
fn registry_keys(registry: &str) -> Vec<String> {
    let mut keys = vec![registry.to_string()];
    if matches!(
        registry,
        "docker.io" | "index.docker.io" | "registry-1.docker.io"
    ) {
        keys.extend(
            ["docker.io", "index.docker.io", "registry-1.docker.io"]
                .iter()
                .map(|s| s.to_string()),
        );
    }
    keys
}

/// `https://index.docker.io/v1/` → `index.docker.io`.
fn normalize_key(key: &str) -> String {
    let key = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    key.split('/').next().unwrap_or(key).to_string()
}

fn read_document(path: &Path) -> Result<Value, LayerError> {
    match fs::read(path) {
        Ok(data) if data.iter().all(u8::is_ascii_whitespace) => Ok(Value::Object(Map::new())),
        Ok(data) => {
            let value: Value = serde_json::from_slice(&data)
                .map_err(|e| invalid(path.display().to_string(), format!("invalid JSON: {e}")))?;
            if value.is_object() {
                Ok(value)
            } else {
                Err(invalid(path.display().to_string(), "is not a JSON object"))
            }
        }
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(Value::Object(Map::new())),
        Err(e) => Err(io_error("reading", path)(e)),
    }
}

fn read_auths(path: &Path) -> Result<Map<String, Value>, LayerError> {
    let mut document = read_document(path)?;
    Ok(std::mem::take(auths_of(&mut document)))
}

/// The `auths` object of a document, created when missing.
fn auths_of(document: &mut Value) -> &mut Map<String, Value> {
    let object = document
        .as_object_mut()
        .expect("auth documents are objects");
    let auths = object
        .entry("auths")
        .or_insert_with(|| Value::Object(Map::new()));
    if !auths.is_object() {
        *auths = Value::Object(Map::new());
    }
    auths.as_object_mut().expect("just made an object")
}

fn decode(encoded: &str, path: &Path, key: &str) -> Result<Credentials, LayerError> {
    let bad = |problem: &str| invalid(format!("{}: auths.{key}", path.display()), problem);
    let raw = STANDARD
        .decode(encoded.trim())
        .map_err(|_| bad("auth is not base64"))?;
    let text = String::from_utf8(raw).map_err(|_| bad("auth is not UTF-8"))?;
    let (username, password) = text
        .split_once(':')
        .ok_or_else(|| bad("auth is not user:password"))?;
    Ok(Credentials {
        username: username.to_string(),
        password: password.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_in(dir: &Path) -> AuthFile {
        AuthFile {
            path: dir.join("containers/auth.json"),
            fallback: Some(dir.join("docker.json")),
        }
    }

    #[test]
    fn store_lookup_remove_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let file = file_in(dir.path());
        let creds = Credentials::parse("alice:s3:cret").unwrap();
        assert_eq!(creds.password, "s3:cret");
        assert_eq!(file.lookup("localhost:5000").unwrap(), None);
        file.store("localhost:5000", &creds).unwrap();
        file.store("quay.io", &Credentials::parse("bob:x").unwrap())
            .unwrap();
        assert_eq!(file.lookup("localhost:5000").unwrap(), Some(creds));
        let mode = fs::metadata(&file.path).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        assert!(file.remove("localhost:5000").unwrap());
        assert!(!file.remove("localhost:5000").unwrap());
        assert_eq!(file.lookup("localhost:5000").unwrap(), None);
        assert!(file.lookup("quay.io").unwrap().is_some());
        file.remove_all().unwrap();
        assert_eq!(file.lookup("quay.io").unwrap(), None);
    }

    #[test]
    fn docker_config_is_read_with_docker_hub_aliases() {
        let dir = tempfile::tempdir().unwrap();
        let file = file_in(dir.path());
        let encoded = STANDARD.encode("carol:pw");
        fs::write(
            dir.path().join("docker.json"),
            format!(r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{encoded}"}}}},"credsStore":"x"}}"#),
        )
        .unwrap();
        let found = file.lookup("docker.io").unwrap().unwrap();
        assert_eq!(
            (found.username.as_str(), found.password.as_str()),
            ("carol", "pw")
        );
        assert_eq!(file.lookup("quay.io").unwrap(), None);
    }

    #[test]
    fn malformed_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = file_in(dir.path());
        fs::create_dir_all(file.path.parent().unwrap()).unwrap();
        fs::write(&file.path, "{not json").unwrap();
        let err = file.lookup("x.io").unwrap_err().to_string();
        assert!(err.contains("auth.json: invalid JSON"), "{err}");
        fs::write(&file.path, r#"{"auths":{"x.io":{"auth":"!!"}}}"#).unwrap();
        let err = file.lookup("x.io").unwrap_err().to_string();
        assert!(err.ends_with("auths.x.io: auth is not base64"), "{err}");
        assert!(Credentials::parse(":pw").is_err());
    }
}
