//! The set of containers on disk: finding one by name or ID prefix,
//! listing, creating, and the per-container lock that serializes state
//! changes between the many skiff processes that may act at once.

use std::fs;
use std::path::PathBuf;

use nix::fcntl::{Flock, FlockArg};

use super::names::{id_of_name, release_name, reserve_generated_name, reserve_name};
use super::record::{ContainerPaths, ContainerRecord};
use super::{StateError, StorageDirs};

/// The containers under one storage root and runroot.
#[derive(Debug, Clone)]
pub struct ContainerStore {
    dirs: StorageDirs,
    root: PathBuf,
    runroot: PathBuf,
}

/// Held while a process reads, decides and writes a container's state.
/// Released on drop (the kernel also releases it if the process dies).
pub struct ContainerLock {
    _lock: Flock<fs::File>,
}

fn is_container_id(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

impl ContainerStore {
    pub fn new(dirs: &StorageDirs) -> ContainerStore {
        ContainerStore {
            dirs: dirs.clone(),
            root: dirs.root.join("containers"),
            runroot: dirs.runroot.join("containers"),
        }
    }

    /// The storage this store is part of (volumes live beside it).
    pub fn dirs(&self) -> &StorageDirs {
        &self.dirs
    }

    pub fn paths(&self, id: &str) -> ContainerPaths {
        ContainerPaths {
            dir: self.root.join(id),
            run_dir: self.runroot.join(id),
        }
    }

    /// Creates the container's directory and record, taking `name` or a
    /// generated one. On a name clash nothing is left behind.
    pub fn create(
        &self,
        record: &mut ContainerRecord,
        name: Option<&str>,
    ) -> Result<ContainerPaths, StateError> {
        let paths = self.paths(&record.id);
        fs::create_dir_all(&paths.dir).map_err(|source| StateError::Io {
            path: paths.dir.clone(),
            source,
        })?;
        let reserved = match name {
            Some(name) => reserve_name(&self.root, name, &record.id).map(|()| name.to_string()),
            None => reserve_generated_name(&self.root, &record.id),
        };
        match reserved {
            Ok(name) => record.name = name,
            Err(err) => {
                let _ = fs::remove_dir_all(&paths.dir);
                return Err(err);
            }
        }
        if let Err(err) = record.save(&paths.dir) {
            self.forget(record);
            let _ = fs::remove_dir_all(&paths.dir);
            return Err(err);
        }
        Ok(paths)
    }

    /// Finds a container by exact name, full ID, or unique ID prefix.
    pub fn lookup(&self, name_or_id: &str) -> Result<String, StateError> {
        let not_found = || StateError::NoSuchContainer {
            name: name_or_id.to_string(),
        };
        if let Some(id) = id_of_name(&self.root, name_or_id)
            && self.root.join(&id).join("state.json").exists()
        {
            return Ok(id);
        }
        if name_or_id.is_empty() || !name_or_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(not_found());
        }
        let matches: Vec<String> = self
            .list_ids()
            .into_iter()
            .filter(|id| id.starts_with(name_or_id))
            .collect();
        match matches.len() {
            0 => Err(not_found()),
            1 => Ok(matches.into_iter().next().expect("one match")),
            count => Err(StateError::AmbiguousContainer {
                name: name_or_id.to_string(),
                count,
            }),
        }
    }

    /// IDs of every container with a record, in no particular order.
    pub fn list_ids(&self) -> Vec<String> {
        let Ok(entries) = fs::read_dir(&self.root) else {
            return Vec::new();
        };
        entries
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|name| is_container_id(name))
            .filter(|id| self.root.join(id).join("state.json").exists())
            .collect()
    }

    pub fn load(&self, id: &str) -> Result<ContainerRecord, StateError> {
        let dir = self.root.join(id);
        ContainerRecord::load(&dir).map_err(|err| match err {
            StateError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                StateError::NoSuchContainer {
                    name: id.to_string(),
                }
            }
            other => other,
        })
    }

    pub fn save(&self, record: &ContainerRecord) -> Result<(), StateError> {
        record.save(&self.root.join(&record.id))
    }

    /// Takes the container's lock, waiting for other holders. Fails if the
    /// container was removed while we waited.
    pub fn lock(&self, id: &str) -> Result<ContainerLock, StateError> {
        let dir = self.root.join(id);
        let path = dir.join("lock");
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| match source.kind() {
                std::io::ErrorKind::NotFound => StateError::NoSuchContainer {
                    name: id.to_string(),
                },
                _ => StateError::Io {
                    path: path.clone(),
                    source,
                },
            })?;
        let lock =
            Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, errno)| StateError::Io {
                path: path.clone(),
                source: errno.into(),
            })?;
        if !dir.join("state.json").exists() {
            return Err(StateError::NoSuchContainer {
                name: id.to_string(),
            });
        }
        Ok(ContainerLock { _lock: lock })
    }

    /// Drops the container's name and record. Its directories are removed
    /// by the caller first (rootless, that may need its user namespace).
    pub fn forget(&self, record: &ContainerRecord) {
        release_name(&self.root, &record.name, &record.id);
        let _ = fs::remove_file(self.root.join(&record.id).join("state.json"));
    }

    /// Gives the container a new name; the old one is released after the
    /// new one is taken, so a failed rename changes nothing.
    pub fn rename(&self, record: &mut ContainerRecord, new_name: &str) -> Result<(), StateError> {
        reserve_name(&self.root, new_name, &record.id)?;
        let old = std::mem::replace(&mut record.name, new_name.to_string());
        if let Err(err) = self.save(record) {
            release_name(&self.root, new_name, &record.id);
            record.name = old;
            return Err(err);
        }
        release_name(&self.root, &old, &record.id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::record::{ContainerConfig, ContainerState};

    fn store(tmp: &std::path::Path) -> ContainerStore {
        ContainerStore::new(&StorageDirs {
            root: tmp.join("root"),
            runroot: tmp.join("run"),
        })
    }

    fn record(id: &str) -> ContainerRecord {
        ContainerRecord {
            id: id.into(),
            name: String::new(),
            image: "busybox".into(),
            image_id: "sha256:00".into(),
            created: String::new(),
            config: ContainerConfig::default(),
            state: ContainerState::default(),
        }
    }

    #[test]
    fn lookup_by_name_full_id_and_unique_prefix() {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path());
        let a = format!("abc{}", "0".repeat(61));
        let b = format!("abd{}", "0".repeat(61));
        s.create(&mut record(&a), Some("web")).unwrap();
        let mut rb = record(&b);
        s.create(&mut rb, None).unwrap();
        assert!(!rb.name.is_empty());
        assert_eq!(s.lookup("web").unwrap(), a);
        assert_eq!(s.lookup(&a).unwrap(), a);
        assert_eq!(s.lookup("abd").unwrap(), b);
        assert_eq!(s.lookup(&rb.name).unwrap(), b);
        let err = s.lookup("ab").unwrap_err().to_string();
        assert!(err.contains("2 containers"), "{err}");
        let err = s.lookup("nothere").unwrap_err().to_string();
        assert!(
            err.contains("no container with name or ID \"nothere\""),
            "{err}"
        );
    }

    #[test]
    fn a_forgotten_container_is_gone_and_its_name_free() {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path());
        let id = "1".repeat(64);
        let mut rec = record(&id);
        s.create(&mut rec, Some("db")).unwrap();
        let lock = s.lock(&id).unwrap();
        s.forget(&rec);
        drop(lock);
        assert!(s.lookup("db").is_err());
        assert!(s.list_ids().is_empty());
        assert!(matches!(
            s.lock(&id),
            Err(StateError::NoSuchContainer { .. })
        ));
    }

    #[test]
    fn rename_moves_the_name() {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path());
        let id = "2".repeat(64);
        let mut rec = record(&id);
        s.create(&mut rec, Some("old")).unwrap();
        s.create(&mut record(&"3".repeat(64)), Some("taken"))
            .unwrap();
        assert!(s.rename(&mut rec, "taken").is_err());
        assert_eq!(rec.name, "old");
        s.rename(&mut rec, "new").unwrap();
        assert_eq!(s.lookup("new").unwrap(), id);
        assert!(s.lookup("old").is_err());
        assert_eq!(s.load(&id).unwrap().name, "new");
    }
}
