//! Named and anonymous volumes on disk: `volumes/<name>/volume.json` (the
//! record) and `volumes/<name>/_data` (what containers see). A volume
//! appears whole or not at all: it is made under `volumes/.tmp-…` and
//! renamed into place, and removed by renaming it out of the way first,
//! so no container ever mounts a half-made or half-deleted volume, and a
//! kill -9 at any point leaves `volume ls` truthful. One lock,
//! `volumes/.lock`, orders what decides on volumes in use: creating a
//! container that uses volumes, removing or pruning volumes.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use super::{StateError, StorageDirs};

/// What skiff keeps about one volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeRecord {
    pub name: String,
    /// Always `local`: the one driver skiff has.
    pub driver: String,
    pub labels: BTreeMap<String, String>,
    /// The local driver's options: `type`, `o`, `device`.
    pub options: BTreeMap<String, String>,
    /// RFC 3339.
    pub created_at: String,
    /// Made for one container (`-v /path`, an image VOLUME): removed with
    /// it by `rm -v`, and by `volume prune` without `--all`.
    pub anonymous: bool,
}

/// The volumes under one storage root.
#[derive(Debug, Clone)]
pub struct VolumeStore {
    root: PathBuf,
}

/// Held while a process decides which volumes are in use.
pub struct VolumesLock {
    _lock: Flock<fs::File>,
}

const RECORD: &str = "volume.json";

/// docker's rule for volume names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn is_valid_volume_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    name.len() >= 2
        && bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

impl VolumeStore {
    pub fn new(dirs: &StorageDirs) -> VolumeStore {
        VolumeStore {
            root: dirs.root.join("volumes"),
        }
    }

    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
        move |source| StateError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// `volumes/<name>`: the record and the data below it.
    pub fn dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Where the volume's contents live (docker's `Mountpoint`).
    pub fn data_dir(&self, name: &str) -> PathBuf {
        self.dir(name).join("_data")
    }

    /// Takes the volumes lock, waiting for other holders.
    pub fn lock(&self) -> Result<VolumesLock, StateError> {
        fs::create_dir_all(&self.root).map_err(Self::io(&self.root))?;
        let path = self.root.join(".lock");
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(Self::io(&path))?;
        let lock =
            Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, errno)| StateError::Io {
                path: path.clone(),
                source: errno.into(),
            })?;
        Ok(VolumesLock { _lock: lock })
    }

    /// Creates the volume, or returns the one that exists under that name
    /// (docker's answer to a second `volume create` of a name). The
    /// boolean says whether this call made it.
    pub fn create(&self, record: &VolumeRecord) -> Result<(VolumeRecord, bool), StateError> {
        if !is_valid_volume_name(&record.name) {
            return Err(StateError::InvalidVolumeName {
                name: record.name.clone(),
            });
        }
        if let Ok(existing) = self.load(&record.name) {
            return Ok((existing, false));
        }
        fs::create_dir_all(&self.root).map_err(Self::io(&self.root))?;
        let tmp = self
            .root
            .join(format!(".tmp-{}-{}", std::process::id(), record.name));
        let made = (|| -> std::io::Result<()> {
            fs::create_dir(&tmp)?;
            fs::create_dir(tmp.join("_data"))?;
            let mut file = fs::File::create(tmp.join(RECORD))?;
            file.write_all(&serde_json::to_vec_pretty(record).expect("volume record serializes"))?;
            file.sync_all()
        })();
        if let Err(source) = made {
            let _ = fs::remove_dir_all(&tmp);
            return Err(StateError::Io { path: tmp, source });
        }
        // rename(2) onto an existing non-empty directory fails: exactly one
        // of several concurrent creators wins, the others get the winner's.
        match fs::rename(&tmp, self.dir(&record.name)) {
            Ok(()) => Ok((record.clone(), true)),
            Err(_) => {
                let _ = fs::remove_dir_all(&tmp);
                Ok((self.load(&record.name)?, false))
            }
        }
    }

    pub fn load(&self, name: &str) -> Result<VolumeRecord, StateError> {
        if !is_valid_volume_name(name) {
            return Err(StateError::NoSuchVolume {
                name: name.to_string(),
            });
        }
        let path = self.dir(name).join(RECORD);
        let text = fs::read(&path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => StateError::NoSuchVolume {
                name: name.to_string(),
            },
            _ => StateError::Io {
                path: path.clone(),
                source,
            },
        })?;
        serde_json::from_slice(&text).map_err(|source| StateError::MalformedVolume {
            name: name.to_string(),
            source,
        })
    }

    /// Every volume, by name.
    pub fn list(&self) -> Vec<VolumeRecord> {
        let Ok(entries) = fs::read_dir(&self.root) else {
            return Vec::new();
        };
        let mut records: Vec<VolumeRecord> = entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|name| is_valid_volume_name(name))
            .filter_map(|name| self.load(&name).ok())
            .collect();
        records.sort_by(|a, b| a.name.cmp(&b.name));
        records
    }

    /// Takes the volume out of the store at once (rename), and returns
    /// where its files now are, for the caller to delete (rootless, that
    /// may take the user namespace). Afterwards the name is free.
    pub fn detach(&self, name: &str) -> Result<PathBuf, StateError> {
        self.load(name)?;
        let gone = self
            .root
            .join(format!(".removing-{}-{name}", std::process::id()));
        fs::rename(self.dir(name), &gone).map_err(Self::io(&gone))?;
        Ok(gone)
    }

    /// Leftovers of killed creators and removers (`.tmp-PID-…`,
    /// `.removing-PID-…` whose PID is gone), for the caller to delete.
    pub fn stale_entries(&self) -> Vec<PathBuf> {
        let Ok(entries) = fs::read_dir(&self.root) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let pid = name
                    .strip_prefix(".tmp-")
                    .or_else(|| name.strip_prefix(".removing-"))
                    .and_then(|rest| rest.split('-').next())
                    .and_then(|pid| pid.parse::<u32>().ok());
                pid.is_some_and(|pid| {
                    pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists()
                })
            })
            .map(|e| e.path())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &Path) -> VolumeStore {
        VolumeStore::new(&StorageDirs {
            root: dir.to_path_buf(),
            runroot: dir.join("run"),
        })
    }

    fn record(name: &str) -> VolumeRecord {
        VolumeRecord {
            name: name.into(),
            driver: "local".into(),
            labels: BTreeMap::new(),
            options: BTreeMap::new(),
            created_at: "2026-12-05T00:00:00Z".into(),
            anonymous: false,
        }
    }

    #[test]
    fn names_follow_docker() {
        for good in ["ab", "my_data", "a.b-c", "0x"] {
            assert!(is_valid_volume_name(good), "{good}");
        }
        for bad in ["", "a", "-ab", "a/b", "a b", ".tmp", "../x"] {
            assert!(!is_valid_volume_name(bad), "{bad}");
        }
    }

    #[test]
    fn a_second_create_returns_the_first_and_detach_frees_the_name() {
        let tmp = tempfile::tempdir().unwrap();
        let volumes = store(tmp.path());
        let (first, made) = volumes.create(&record("data")).unwrap();
        assert!(made);
        fs::write(volumes.data_dir("data").join("f"), "kept").unwrap();
        let mut other = record("data");
        other.labels.insert("k".into(), "v".into());
        let (again, made) = volumes.create(&other).unwrap();
        assert!(!made);
        assert_eq!(again, first);
        assert_eq!(
            fs::read_to_string(volumes.data_dir("data").join("f")).unwrap(),
            "kept"
        );
        assert_eq!(volumes.list().len(), 1);

        let gone = volumes.detach("data").unwrap();
        assert!(gone.join("_data/f").exists());
        assert!(volumes.list().is_empty());
        assert!(matches!(
            volumes.load("data"),
            Err(StateError::NoSuchVolume { .. })
        ));
        assert!(volumes.create(&record("data")).unwrap().1);
    }

    #[test]
    fn leftovers_of_dead_processes_are_found_and_never_listed() {
        let tmp = tempfile::tempdir().unwrap();
        let volumes = store(tmp.path());
        volumes.create(&record("kept")).unwrap();
        // PID 2^22+1 is above the kernel's maximum: never alive.
        let dead = tmp.path().join("volumes/.tmp-4194305-half");
        fs::create_dir_all(dead.join("_data")).unwrap();
        let mine = tmp
            .path()
            .join(format!("volumes/.removing-{}-x", std::process::id()));
        fs::create_dir_all(&mine).unwrap();
        assert_eq!(volumes.stale_entries(), vec![dead]);
        let names: Vec<String> = volumes.list().into_iter().map(|v| v.name).collect();
        assert_eq!(names, ["kept"]);
    }
}
