//! Volumes: the `volume` verbs, and what a container's mounts become on
//! the host. A named volume is made on first use; an anonymous one (`-v
//! /path`, an image VOLUME) with its container. Which container uses
//! which volume is read from the container records, never counted, so it
//! cannot drift; deciding it (create, rm, prune) happens under the
//! volumes lock.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::EngineError;
use super::cleanup::remove_tree;
use super::label_filter::LabelFilter;
use crate::layers::tree_size;
use crate::sandbox::spec::MountRequest;
use crate::state::{
    ContainerRecord, ContainerStore, MountKind, MountSpec, StorageDirs, VolumeRecord, VolumeStore,
    VolumesLock,
};
use crate::timestamp::format_rfc3339_nanos;

/// The local driver's options, checked: a plain directory, a bind of a
/// host directory (`type=none,o=bind,device=/path`), or a tmpfs made at
/// each mount (`type=tmpfs,o=size=64m`).
fn check_driver_options(options: &BTreeMap<String, String>) -> Result<(), EngineError> {
    let invalid = |why: String| EngineError::Invalid(format!("invalid volume option: {why}"));
    for key in options.keys() {
        if !["type", "o", "device"].contains(&key.as_str()) {
            return Err(invalid(format!(
                "unknown option \"{key}\": the local driver takes type, o and device"
            )));
        }
    }
    let o = options.get("o").map(String::as_str).unwrap_or("");
    match options.get("type").map(String::as_str) {
        None if options.is_empty() => Ok(()),
        Some("none") | None => {
            let device = options
                .get("device")
                .ok_or_else(|| invalid("o=bind needs device=/host/path".into()))?;
            if !o.split(',').any(|x| x == "bind" || x == "rbind") {
                return Err(invalid(format!("type=none needs o=bind (got \"{o}\")")));
            }
            if !device.starts_with('/') || !Path::new(device).is_dir() {
                return Err(invalid(format!(
                    "device \"{device}\" must be an existing absolute host directory"
                )));
            }
            Ok(())
        }
        Some("tmpfs") => {
            if options.contains_key("device") && options["device"] != "tmpfs" {
                return Err(invalid("type=tmpfs takes no device".into()));
            }
            Ok(())
        }
        Some(other) => Err(invalid(format!(
            "type \"{other}\" is not supported: the local driver mounts type=none (o=bind) and type=tmpfs"
        ))),
    }
}

/// What `volume create` and a first use make.
pub fn new_volume(
    name: &str,
    labels: BTreeMap<String, String>,
    options: BTreeMap<String, String>,
    anonymous: bool,
) -> Result<VolumeRecord, EngineError> {
    check_driver_options(&options)?;
    Ok(VolumeRecord {
        name: name.to_string(),
        driver: "local".into(),
        labels,
        options,
        created_at: format_rfc3339_nanos(std::time::SystemTime::now()),
        anonymous,
    })
}

/// `skiff volume create`: returns the volume (an existing one of that
/// name as it is, as docker does).
pub fn create_volume(
    dirs: &StorageDirs,
    record: &VolumeRecord,
) -> Result<VolumeRecord, EngineError> {
    let volumes = VolumeStore::new(dirs);
    let _lock = volumes.lock()?;
    sweep_stale(&volumes);
    Ok(volumes.create(record)?.0)
}

/// IDs of the containers (any state) whose records mount `name`.
fn users_of(dirs: &StorageDirs, name: &str) -> Vec<String> {
    let containers = ContainerStore::new(dirs);
    let mut ids: Vec<String> = containers
        .list_ids()
        .into_iter()
        .filter_map(|id| containers.load(&id).ok())
        .filter(|record| uses_volume(record, name))
        .map(|record| record.id)
        .collect();
    ids.sort();
    ids
}

fn uses_volume(record: &ContainerRecord, volume: &str) -> bool {
    record
        .config
        .mounts
        .iter()
        .any(|m| matches!(&m.kind, MountKind::Volume { name, .. } if name == volume))
}

/// One row of `volume ls`.
#[derive(Debug, Clone)]
pub struct VolumeRow {
    pub record: VolumeRecord,
    pub mountpoint: PathBuf,
    /// Containers (any state) that mount it.
    pub users: Vec<String>,
}

/// `volume ls --filter`: docker's `name=` (substring), `label=KEY[=VALUE]`,
/// `dangling=true|false` (used by no container), `driver=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeFilter {
    Name(String),
    Label(LabelFilter),
    Dangling(bool),
    Driver(String),
}

impl std::str::FromStr for VolumeFilter {
    type Err = EngineError;

    fn from_str(filter: &str) -> Result<VolumeFilter, EngineError> {
        let invalid =
            |why: &str| EngineError::Invalid(format!("invalid filter \"{filter}\": {why}"));
        let (key, value) = filter
            .split_once('=')
            .ok_or_else(|| invalid("expected KEY=VALUE"))?;
        Ok(match key {
            "name" => VolumeFilter::Name(value.to_string()),
            "label" => VolumeFilter::Label(LabelFilter::parse(value)),
            "dangling" => VolumeFilter::Dangling(match value {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => return Err(invalid("dangling is true or false")),
            }),
            "driver" => VolumeFilter::Driver(value.to_string()),
            _ => return Err(invalid("use name, label, dangling or driver")),
        })
    }
}

impl VolumeFilter {
    fn matches(&self, row: &VolumeRow) -> bool {
        match self {
            VolumeFilter::Name(part) => row.record.name.contains(part.as_str()),
            VolumeFilter::Label(label) => label.matches(&row.record.labels),
            VolumeFilter::Dangling(dangling) => row.users.is_empty() == *dangling,
            VolumeFilter::Driver(driver) => row.record.driver == *driver,
        }
    }
}

/// `skiff volume ls`: every volume `filters` all select, by name.
pub fn list_volumes(dirs: &StorageDirs, filters: &[VolumeFilter]) -> Vec<VolumeRow> {
    let volumes = VolumeStore::new(dirs);
    volumes
        .list()
        .into_iter()
        .map(|record| VolumeRow {
            mountpoint: data_location(&volumes, &record),
            users: users_of(dirs, &record.name),
            record,
        })
        .filter(|row| filters.iter().all(|f| f.matches(row)))
        .collect()
}

/// docker's `volume inspect` JSON for one volume.
pub fn volume_json(dirs: &StorageDirs, name: &str) -> Result<Value, EngineError> {
    let volumes = VolumeStore::new(dirs);
    let record = volumes.load(name)?;
    Ok(json!({
        "Name": record.name,
        "Driver": record.driver,
        "Mountpoint": data_location(&volumes, &record),
        "CreatedAt": record.created_at,
        "Labels": record.labels,
        "Scope": "local",
        "Options": record.options,
        "Anonymous": record.anonymous,
    }))
}

/// `skiff volume exists`.
pub fn volume_exists(dirs: &StorageDirs, name: &str) -> bool {
    VolumeStore::new(dirs).load(name).is_ok()
}

/// `skiff volume rm NAME` once no container uses it (the caller removed
/// them for `-f`); refused while one does.
pub fn remove_unused_volume(dirs: &StorageDirs, name: &str) -> Result<(), EngineError> {
    let volumes = VolumeStore::new(dirs);
    let lock = volumes.lock()?;
    volumes.load(name)?;
    let users = users_of(dirs, name);
    if !users.is_empty() {
        return Err(EngineError::VolumeInUse {
            name: name.to_string(),
            containers: users,
        });
    }
    let gone = volumes.detach(name)?;
    drop(lock);
    delete_detached(&gone)
}

/// The containers (any state) that mount volume `name`.
pub fn volume_users(dirs: &StorageDirs, name: &str) -> Result<Vec<String>, EngineError> {
    VolumeStore::new(dirs).load(name)?;
    Ok(users_of(dirs, name))
}

/// Deletes what `detach` moved aside; rootless, files the containers'
/// users wrote belong to subordinate IDs and go from inside the user
/// namespace.
fn delete_detached(dir: &Path) -> Result<(), EngineError> {
    remove_tree(dir, None)
}

/// Removes what killed creators and removers left behind (best effort).
fn sweep_stale(volumes: &VolumeStore) {
    for dir in volumes.stale_entries() {
        let _ = delete_detached(&dir);
    }
}

/// `skiff volume prune`: removes the volumes no container uses, the
/// anonymous ones only unless `all` (docker 23's rule: a named volume is
/// kept data until asked for), and those `filters` select. Returns the
/// names removed and the bytes freed.
pub fn prune_volumes(
    dirs: &StorageDirs,
    all: bool,
    filters: &[VolumeFilter],
) -> Result<(Vec<String>, u64), EngineError> {
    let volumes = VolumeStore::new(dirs);
    let lock = volumes.lock()?;
    sweep_stale(&volumes);
    let mut detached = Vec::new();
    for row in list_volumes(dirs, filters) {
        if !row.users.is_empty() || !(all || row.record.anonymous) {
            continue;
        }
        let bytes = tree_size(&row.mountpoint);
        detached.push((
            row.record.name.clone(),
            volumes.detach(&row.record.name)?,
            bytes,
        ));
    }
    drop(lock);
    let mut names = Vec::new();
    let mut freed = 0;
    for (name, dir, bytes) in detached {
        delete_detached(&dir)?;
        names.push(name);
        freed += bytes;
    }
    Ok((names, freed))
}

/// `rm -v`: after its container went, its anonymous volumes go too,
/// unless another container (`--volumes-from`) still mounts one.
pub fn remove_anonymous_volumes(
    dirs: &StorageDirs,
    record: &ContainerRecord,
) -> Result<(), EngineError> {
    let has_anonymous = record.config.mounts.iter().any(|m| {
        matches!(
            m.kind,
            MountKind::Volume {
                anonymous: true,
                ..
            }
        )
    });
    if !has_anonymous {
        return Ok(());
    }
    let volumes = VolumeStore::new(dirs);
    let lock = volumes.lock()?;
    let mut detached = Vec::new();
    for mount in &record.config.mounts {
        if let MountKind::Volume {
            name,
            anonymous: true,
            ..
        } = &mount.kind
            && users_of(dirs, name).is_empty()
            && volumes.load(name).is_ok()
        {
            detached.push(volumes.detach(name)?);
        }
    }
    drop(lock);
    detached.iter().try_for_each(|dir| delete_detached(dir))
}

/// A container's mounts made real on the host, under the volumes lock,
/// which the caller holds until the container's record (which names the
/// volumes) is written: no `volume rm` can slip in between.
pub struct HostMounts {
    pub requests: Vec<MountRequest>,
    /// Volumes this container's creation made: gone again if it fails.
    made: Vec<String>,
    volumes: VolumeStore,
    /// `None` when no mount names a volume: the hot path (`run --rm img
    /// true`) takes no lock.
    _lock: Option<VolumesLock>,
}

impl HostMounts {
    /// The container was not created after all: the volumes made for it
    /// go (no record names them).
    pub fn discard(self) {
        discard_made(&self.volumes, &self.made);
    }

    /// The data directories of the plain volumes made for this container
    /// (a container with its own ID mapping gives them to its root).
    pub fn made_data_dirs(&self) -> Vec<std::path::PathBuf> {
        self.made
            .iter()
            .map(|name| self.volumes.data_dir(name))
            .filter(|dir| dir.is_dir())
            .collect()
    }
}

fn discard_made(volumes: &VolumeStore, made: &[String]) {
    for name in made {
        if let Ok(dir) = volumes.detach(name) {
            let _ = delete_detached(&dir);
        }
    }
}

/// Makes every volume `mounts` name that does not exist yet and every
/// missing bind source directory (as docker does for `-v`), and says what
/// the sandbox mounts for each.
pub fn prepare_mounts(dirs: &StorageDirs, mounts: &[MountSpec]) -> Result<HostMounts, EngineError> {
    let volumes = VolumeStore::new(dirs);
    let names_volumes = mounts
        .iter()
        .any(|m| matches!(m.kind, MountKind::Volume { .. }));
    let lock = if names_volumes {
        Some(volumes.lock()?)
    } else {
        None
    };
    let mut made = Vec::new();
    match prepare_each(&volumes, mounts, &mut made) {
        Ok(requests) => Ok(HostMounts {
            requests,
            made,
            volumes,
            _lock: lock,
        }),
        Err(e) => {
            discard_made(&volumes, &made);
            Err(e)
        }
    }
}

fn prepare_each(
    volumes: &VolumeStore,
    mounts: &[MountSpec],
    made: &mut Vec<String>,
) -> Result<Vec<MountRequest>, EngineError> {
    let mut requests = Vec::new();
    for mount in mounts {
        let request = match &mount.kind {
            MountKind::Bind { source } => {
                if !source.exists() {
                    std::fs::create_dir_all(source).map_err(EngineError::io(format!(
                        "creating the bind source {}",
                        source.display()
                    )))?;
                }
                if mount.overlay {
                    MountRequest::Overlay {
                        lower: source.clone(),
                        mask: mount.overlay_mask.clone(),
                        destination: mount.destination.clone(),
                        read_only: mount.read_only,
                    }
                } else {
                    bind(mount, source.clone(), false)
                }
            }
            MountKind::Volume {
                name,
                anonymous,
                driver_options,
            } => {
                let wanted = new_volume(name, BTreeMap::new(), driver_options.clone(), *anonymous)?;
                let (record, new) = volumes.create(&wanted)?;
                if new {
                    made.push(name.clone());
                }
                match record.options.get("type").map(String::as_str) {
                    Some("tmpfs") => MountRequest::Tmpfs {
                        destination: mount.destination.clone(),
                        options: record
                            .options
                            .get("o")
                            .map(|o| o.split(',').map(String::from).collect())
                            .unwrap_or_default(),
                    },
                    _ => bind(mount, data_location(volumes, &record), mount.copy_up),
                }
            }
            MountKind::Tmpfs { options } => MountRequest::Tmpfs {
                destination: mount.destination.clone(),
                options: options.clone(),
            },
        };
        requests.push(request);
    }
    Ok(requests)
}

fn bind(mount: &MountSpec, source: PathBuf, copy_up: bool) -> MountRequest {
    MountRequest::Bind {
        source,
        destination: mount.destination.clone(),
        read_only: mount.read_only,
        copy_up,
        chown: mount.chown,
    }
}

/// Where a volume's data is: its `_data` directory, or the host
/// directory an `o=bind` volume stands for (containers mount that one, so
/// `Mountpoint`, sizes and `cp` name it too).
fn data_location(volumes: &VolumeStore, record: &VolumeRecord) -> PathBuf {
    match record.options.get("device") {
        Some(device) if record.options.get("type").map(String::as_str) != Some("tmpfs") => {
            PathBuf::from(device)
        }
        _ => volumes.data_dir(&record.name),
    }
}

/// Where a mount's data lives on the host: a bind's source, a volume's
/// data; `None` for what exists only while the container runs (a tmpfs,
/// a tmpfs volume, a `:O` overlay's upper layer).
pub fn host_source(dirs: &StorageDirs, mount: &MountSpec) -> Option<PathBuf> {
    match &mount.kind {
        MountKind::Bind { .. } if mount.overlay => None,
        MountKind::Bind { source } => Some(source.clone()),
        MountKind::Volume { name, .. } => {
            let volumes = VolumeStore::new(dirs);
            let record = volumes.load(name).ok()?;
            (record.options.get("type").map(String::as_str) != Some("tmpfs"))
                .then(|| data_location(&volumes, &record))
        }
        MountKind::Tmpfs { .. } => None,
    }
}

/// `inspect`'s `Source` of a mount.
pub fn mount_source(dirs: &StorageDirs, mount: &MountSpec) -> String {
    match (&mount.kind, host_source(dirs, mount)) {
        (_, Some(path)) => path.display().to_string(),
        (MountKind::Bind { source }, None) => source.display().to_string(),
        (MountKind::Volume { name, .. }, None) => {
            VolumeStore::new(dirs).data_dir(name).display().to_string()
        }
        (MountKind::Tmpfs { .. }, None) => "tmpfs".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn local_driver_options_are_checked() {
        let dir = std::env::temp_dir();
        let device = dir.to_str().unwrap();
        for good in [
            options(&[]),
            options(&[("type", "none"), ("o", "bind"), ("device", device)]),
            options(&[("type", "tmpfs"), ("o", "size=64m")]),
            options(&[("type", "tmpfs"), ("device", "tmpfs")]),
        ] {
            assert!(check_driver_options(&good).is_ok(), "{good:?}");
        }
        for (bad, why) in [
            (options(&[("type", "nfs")]), "\"nfs\" is not supported"),
            (
                options(&[("type", "none"), ("device", device)]),
                "needs o=bind",
            ),
            (options(&[("type", "none"), ("o", "bind")]), "needs device"),
            (
                options(&[("type", "none"), ("o", "bind"), ("device", "rel")]),
                "existing absolute host directory",
            ),
            (options(&[("colour", "red")]), "unknown option \"colour\""),
        ] {
            let err = check_driver_options(&bad).unwrap_err().to_string();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
    }

    #[test]
    fn filters_parse_and_refuse_unknown_keys() {
        assert_eq!(
            "label=a=b".parse::<VolumeFilter>().unwrap(),
            VolumeFilter::Label(LabelFilter::parse("a=b"))
        );
        assert_eq!(
            "dangling=true".parse::<VolumeFilter>().unwrap(),
            VolumeFilter::Dangling(true)
        );
        for bad in ["dangling=maybe", "size=1", "name"] {
            let err = bad.parse::<VolumeFilter>().unwrap_err().to_string();
            assert!(err.contains(bad), "{err}");
        }
    }
}
