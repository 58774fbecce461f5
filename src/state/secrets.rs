//! Secrets on disk (podman's `file` driver): `secrets/<id>/secret.json`
//! (the record) and `secrets/<id>/data` (the value, mode 0600), in a
//! directory of mode 0700 that only its owner (root, or the rootless user)
//! can enter. A secret appears whole or not at all: it is made under
//! `secrets/.tmp-…` and renamed into place; a `--replace` writes each file
//! beside the old one and renames it over. One lock, `secrets/.lock`,
//! orders what decides on names and on secrets in use: creating,
//! replacing and removing secrets, and creating a container that uses
//! them.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use super::{StateError, StorageDirs};

/// podman's limit on a secret's size.
pub const MAX_SECRET_SIZE: usize = 512_000;

/// What skiff keeps about one secret; never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecretRecord {
    /// 25 hex digits, as podman's.
    pub id: String,
    pub name: String,
    /// Always `file`: the one driver skiff has.
    pub driver: String,
    pub labels: BTreeMap<String, String>,
    /// RFC 3339.
    pub created_at: String,
    pub updated_at: String,
}

/// How a container gets a secret in its process environment or as a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretKind {
    /// A read-only file (podman's default).
    Mount,
    /// An environment variable of the container's process, set at start.
    Env,
}

/// One `--secret` of a container, as its record keeps it: the secret by
/// name and ID, and where it goes; never the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecretUse {
    pub name: String,
    pub id: String,
    pub kind: SecretKind,
    /// A path in the container (`Mount`) or a variable name (`Env`).
    pub target: String,
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
}

/// The secrets under one storage root.
#[derive(Debug, Clone)]
pub struct SecretStore {
    root: PathBuf,
}

/// Held while a process decides on secret names or secrets in use.
pub struct SecretsLock {
    _lock: Flock<fs::File>,
}

const RECORD: &str = "secret.json";
const DATA: &str = "data";

/// podman's rule: 1 to 253 characters, none of `=`, `/`, `,` or NUL.
/// `.` and `..` are refused too: a name is a file name under /run/secrets.
pub fn is_valid_secret_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name != "."
        && name != ".."
        && !name.contains(['=', '/', ',', '\0'])
}

/// A fresh 25-hex-digit secret ID (podman's length).
pub fn new_secret_id() -> String {
    super::new_container_id()[..25].to_string()
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `bytes` to `path` with `mode` through a temp file and a
/// rename, so a reader sees the old file or the new one.
fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), StateError> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let written = (|| -> std::io::Result<()> {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written.map_err(io(path))
}

impl SecretStore {
    pub fn new(dirs: &StorageDirs) -> SecretStore {
        SecretStore {
            root: dirs.root.join("secrets"),
        }
    }

    fn ensure_root(&self) -> Result<(), StateError> {
        if !self.root.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&self.root)
                .map_err(io(&self.root))?;
        }
        // Also when an older or hand-made directory was more open.
        fs::set_permissions(&self.root, fs::Permissions::from_mode(0o700)).map_err(io(&self.root))
    }

    /// Takes the secrets lock, waiting for other holders.
    pub fn lock(&self) -> Result<SecretsLock, StateError> {
        self.ensure_root()?;
        let path = self.root.join(".lock");
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(io(&path))?;
        let lock =
            Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, errno)| StateError::Io {
                path: path.clone(),
                source: errno.into(),
            })?;
        Ok(SecretsLock { _lock: lock })
    }

    fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    fn load_id(&self, id: &str) -> Option<SecretRecord> {
        let text = fs::read(self.dir(id).join(RECORD)).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Every secret, by name.
    pub fn list(&self) -> Vec<SecretRecord> {
        let Ok(entries) = fs::read_dir(&self.root) else {
            return Vec::new();
        };
        let mut records: Vec<SecretRecord> = entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|name| !name.starts_with('.'))
            .filter_map(|id| self.load_id(&id))
            .collect();
        records.sort_by(|a, b| a.name.cmp(&b.name));
        records
    }

    /// A secret by full name, full ID, or a unique ID prefix (podman's
    /// order).
    pub fn find(&self, name_or_id: &str) -> Result<SecretRecord, StateError> {
        let all = self.list();
        if let Some(r) = all
            .iter()
            .find(|r| r.name == name_or_id || r.id == name_or_id)
        {
            return Ok(r.clone());
        }
        let by_prefix: Vec<&SecretRecord> = all
            .iter()
            .filter(|r| !name_or_id.is_empty() && r.id.starts_with(name_or_id))
            .collect();
        match by_prefix.as_slice() {
            [one] => Ok((*one).clone()),
            _ => Err(StateError::NoSuchSecret {
                name: name_or_id.to_string(),
            }),
        }
    }

    /// The secret's value.
    pub fn read_data(&self, id: &str) -> Result<Vec<u8>, StateError> {
        let path = self.dir(id).join(DATA);
        fs::read(&path).map_err(io(&path))
    }

    /// Stores a new secret; the caller holds the lock and checked that
    /// the name is free.
    pub fn create(
        &self,
        _lock: &SecretsLock,
        record: &SecretRecord,
        data: &[u8],
    ) -> Result<(), StateError> {
        let tmp = self
            .root
            .join(format!(".tmp-{}-{}", std::process::id(), record.id));
        let made = (|| -> Result<(), StateError> {
            fs::DirBuilder::new()
                .mode(0o700)
                .create(&tmp)
                .map_err(io(&tmp))?;
            write_atomic(&tmp.join(DATA), data, 0o600)?;
            let json = serde_json::to_vec_pretty(record).expect("secret record serializes");
            write_atomic(&tmp.join(RECORD), &json, 0o600)?;
            let target = self.dir(&record.id);
            fs::rename(&tmp, &target).map_err(io(&target))
        })();
        if made.is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
        made
    }

    /// `--replace`: the new value and record (same ID) over the old.
    pub fn replace(
        &self,
        _lock: &SecretsLock,
        record: &SecretRecord,
        data: &[u8],
    ) -> Result<(), StateError> {
        let dir = self.dir(&record.id);
        write_atomic(&dir.join(DATA), data, 0o600)?;
        let json = serde_json::to_vec_pretty(record).expect("secret record serializes");
        write_atomic(&dir.join(RECORD), &json, 0o600)
    }

    /// Removes the secret: out of the store at once (rename), then its
    /// files.
    pub fn remove(&self, _lock: &SecretsLock, id: &str) -> Result<(), StateError> {
        let gone = self
            .root
            .join(format!(".removing-{}-{id}", std::process::id()));
        fs::rename(self.dir(id), &gone).map_err(io(&gone))?;
        fs::remove_dir_all(&gone).map_err(io(&gone))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &Path) -> SecretStore {
        SecretStore::new(&StorageDirs {
            root: dir.to_path_buf(),
            runroot: dir.join("run"),
        })
    }

    fn record(name: &str) -> SecretRecord {
        SecretRecord {
            id: new_secret_id(),
            name: name.into(),
            driver: "file".into(),
            labels: BTreeMap::new(),
            created_at: "2026-12-05T00:00:00Z".into(),
            updated_at: "2026-12-05T00:00:00Z".into(),
        }
    }

    #[test]
    fn names_follow_podman() {
        for good in ["a", "db_password", "a.b-c", "x y"] {
            assert!(is_valid_secret_name(good), "{good}");
        }
        let long = "a".repeat(254);
        for bad in ["", "a/b", "a=b", "a,b", ".", "..", long.as_str()] {
            assert!(!is_valid_secret_name(bad), "{bad}");
        }
    }

    #[test]
    fn stored_private_found_by_name_id_or_prefix_and_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let secrets = store(tmp.path());
        let lock = secrets.lock().unwrap();
        let rec = record("pw");
        assert_eq!(rec.id.len(), 25);
        secrets.create(&lock, &rec, b"hunter2").unwrap();
        let root_mode = fs::metadata(tmp.path().join("secrets"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(root_mode & 0o777, 0o700);
        let data_mode = fs::metadata(tmp.path().join("secrets").join(&rec.id).join(DATA))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(data_mode & 0o777, 0o600);
        assert_eq!(secrets.find("pw").unwrap(), rec);
        assert_eq!(secrets.find(&rec.id).unwrap(), rec);
        assert_eq!(secrets.find(&rec.id[..6]).unwrap(), rec);
        assert_eq!(secrets.read_data(&rec.id).unwrap(), b"hunter2");
        let record_text =
            fs::read_to_string(tmp.path().join("secrets").join(&rec.id).join(RECORD)).unwrap();
        assert!(!record_text.contains("hunter2"));

        secrets.replace(&lock, &rec, b"new").unwrap();
        assert_eq!(secrets.read_data(&rec.id).unwrap(), b"new");
        secrets.remove(&lock, &rec.id).unwrap();
        assert!(matches!(
            secrets.find("pw"),
            Err(StateError::NoSuchSecret { .. })
        ));
        assert!(secrets.list().is_empty());
    }
}
