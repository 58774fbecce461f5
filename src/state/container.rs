//! One container's record on disk: `containers/<id>/state.json`, plus the
//! name index `containers/names/<name>` (a symlink to the ID, created
//! atomically, so two processes can never both take a name).

use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(
        "the container name \"{name}\" is already in use by {id}. You have to remove that container to be able to reuse that name: that name is already in use"
    )]
    NameInUse { name: String, id: String },
    #[error("invalid container name \"{name}\": names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*")]
    InvalidName { name: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: malformed container record: {source}")]
    Malformed {
        path: PathBuf,
        source: serde_json::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerStatus {
    Created,
    Running,
    Exited,
}

/// What skiff remembers about a container between commands.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub id: String,
    pub name: Option<String>,
    /// The image as the user named it, and the ID it resolved to.
    pub image: String,
    pub image_id: String,
    pub created_unix: u64,
    pub status: ContainerStatus,
    pub pid: Option<i32>,
    pub exit_code: Option<i32>,
}

impl ContainerRecord {
    pub fn new(id: String, name: Option<String>, image: String, image_id: String) -> Self {
        ContainerRecord {
            id,
            name,
            image,
            image_id,
            created_unix: now_unix(),
            status: ContainerStatus::Created,
            pid: None,
            exit_code: None,
        }
    }

    /// The directory holding this container's persistent files.
    pub fn dir(containers_root: &Path, id: &str) -> PathBuf {
        containers_root.join(id)
    }

    /// Creates the container's directory and reserves its name. On a name
    /// clash nothing is left behind.
    pub fn create(&self, containers_root: &Path) -> Result<PathBuf, StateError> {
        let dir = Self::dir(containers_root, &self.id);
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        if let Some(name) = &self.name
            && let Err(err) = reserve_name(containers_root, name, &self.id)
        {
            let _ = fs::remove_dir_all(&dir);
            return Err(err);
        }
        self.save(containers_root)?;
        Ok(dir)
    }

    /// Writes `state.json` atomically (temp file + rename): readers see the
    /// old or the new record, never half of one.
    pub fn save(&self, containers_root: &Path) -> Result<(), StateError> {
        let dir = Self::dir(containers_root, &self.id);
        let path = dir.join("state.json");
        let tmp = dir.join(".state.json.tmp");
        let json = serde_json::to_vec(self).expect("container record serializes");
        let mut file = fs::File::create(&tmp).map_err(io_err(&tmp))?;
        file.write_all(&json).map_err(io_err(&tmp))?;
        fs::rename(&tmp, &path).map_err(io_err(&path))
    }

    pub fn load(containers_root: &Path, id: &str) -> Result<ContainerRecord, StateError> {
        let path = Self::dir(containers_root, id).join("state.json");
        let mut text = Vec::new();
        fs::File::open(&path)
            .and_then(|mut f| f.read_to_end(&mut text))
            .map_err(io_err(&path))?;
        serde_json::from_slice(&text).map_err(|source| StateError::Malformed { path, source })
    }

    /// Releases the name. The directory itself is removed by the caller,
    /// which may need to do so inside the user namespace (rootless files
    /// owned by subordinate IDs).
    pub fn release_name(&self, containers_root: &Path) {
        if let Some(name) = &self.name {
            let link = names_dir(containers_root).join(name);
            if fs::read_link(&link).is_ok_and(|target| target.as_os_str() == self.id.as_str()) {
                let _ = fs::remove_file(link);
            }
        }
    }
}

fn names_dir(containers_root: &Path) -> PathBuf {
    containers_root.join("names")
}

fn reserve_name(containers_root: &Path, name: &str, id: &str) -> Result<(), StateError> {
    validate_name(name)?;
    let dir = names_dir(containers_root);
    fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    let link = dir.join(name);
    match std::os::unix::fs::symlink(id, &link) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == ErrorKind::AlreadyExists => {
            let holder = fs::read_link(&link)
                .map(|t| t.to_string_lossy().into_owned())
                .unwrap_or_default();
            Err(StateError::NameInUse {
                name: name.to_string(),
                id: holder,
            })
        }
        Err(err) => Err(io_err(&link)(err)),
    }
}

fn validate_name(name: &str) -> Result<(), StateError> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if first_ok && rest_ok {
        Ok(())
    } else {
        Err(StateError::InvalidName {
            name: name.to_string(),
        })
    }
}

/// A fresh 64-hex-character container ID from the kernel's random pool.
pub fn new_container_id() -> String {
    let mut bytes = [0u8; 32];
    let mut filled = 0;
    while filled < bytes.len() {
        // SAFETY: the pointer and length describe the unfilled tail of `bytes`.
        let n = unsafe {
            libc::getrandom(bytes[filled..].as_mut_ptr().cast(), bytes.len() - filled, 0)
        };
        if n > 0 {
            filled += n as usize;
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, name: &str) -> ContainerRecord {
        ContainerRecord::new(id.into(), Some(name.into()), "busybox".into(), "ab".into())
    }

    #[test]
    fn a_name_can_be_taken_once_and_again_after_release() {
        let tmp = tempfile::tempdir().unwrap();
        let first = record("aaa", "web");
        first.create(tmp.path()).unwrap();
        let err = record("bbb", "web").create(tmp.path()).unwrap_err();
        assert!(err.to_string().contains("already in use by aaa"), "{err}");
        assert!(!tmp.path().join("bbb").exists(), "loser left its directory");
        first.release_name(tmp.path());
        record("ccc", "web").create(tmp.path()).unwrap();
    }

    #[test]
    fn invalid_names_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        for bad in ["", "-x", "a/b", "a b"] {
            assert!(record("x", bad).create(tmp.path()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn record_round_trips() {
        let tmp = tempfile::tempdir().unwrap();
        let mut rec = record("abc", "n");
        rec.create(tmp.path()).unwrap();
        rec.status = ContainerStatus::Exited;
        rec.exit_code = Some(3);
        rec.save(tmp.path()).unwrap();
        let back = ContainerRecord::load(tmp.path(), "abc").unwrap();
        assert_eq!(back.status, ContainerStatus::Exited);
        assert_eq!(back.exit_code, Some(3));
    }

    #[test]
    fn ids_are_64_hex_and_differ() {
        let a = new_container_id();
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, new_container_id());
    }
}
