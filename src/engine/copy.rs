//! `skiff cp`: files between a container and the host, either way, as a
//! tar stream. The container side runs in a helper whose `/` is the
//! container's root (see `sandbox::enter`), so paths and symlinks resolve
//! inside it; the stream goes through an unlinked temp file between the
//! helper and skiff.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Component, Path, PathBuf};

use super::EngineError;
use super::launch::LaunchPlan;
use super::lookup::find_container;
use super::volumes::host_source;
use crate::sandbox::enter::{run_in_running_root, run_in_stopped_root};
use crate::sandbox::userns::{ChildFailure, IdMappings, caller_mappings};
use crate::state::{ContainerRecord, ContainerStore, StorageDirs};
use oci_spec::runtime::{Mount, MountBuilder};

/// One side of `cp`: `CONTAINER:PATH`, a host path, or `-` (a tar stream
/// on stdin/stdout).
#[derive(Debug, PartialEq, Eq)]
pub enum CopyEndpoint {
    Container { name: String, path: String },
    Host(PathBuf),
    Stream,
}

impl CopyEndpoint {
    /// docker's rule: a path with a colon is a container path unless it
    /// starts with `/` or `.`.
    pub fn parse(text: &str) -> CopyEndpoint {
        if text == "-" {
            return CopyEndpoint::Stream;
        }
        match text.split_once(':') {
            Some((name, path))
                if !text.starts_with('/') && !text.starts_with('.') && !name.is_empty() =>
            {
                CopyEndpoint::Container {
                    name: name.into(),
                    path: if path.is_empty() {
                        "/".into()
                    } else {
                        path.into()
                    },
                }
            }
            _ => CopyEndpoint::Host(PathBuf::from(text)),
        }
    }
}

fn invalid(text: impl Into<String>) -> EngineError {
    EngineError::Invalid(text.into())
}

pub(super) fn temp_file() -> Result<File, EngineError> {
    temp_file_in(&std::env::temp_dir())
}

/// A new file in `dir` for scratch data (a layer tar, a RUN's output),
/// unlinked at once: nothing is left behind however we exit. The name
/// is unique per call, so threads and processes never meet.
pub fn temp_file_in(dir: &Path) -> Result<File, EngineError> {
    let path = dir.join(format!(
        // `<kind>-<pid>-…`: the shape the store's stale-temp sweep reads.
        "scratch-{}-{}",
        std::process::id(),
        crate::state::new_container_id()
    ));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(EngineError::io(format!("creating {}", path.display())))?;
    let _ = std::fs::remove_file(&path);
    Ok(file)
}

/// Writes `src` into a tar named by its last component (`/.` at the end
/// means: its contents).
fn archive(src: &Path, out: &mut File) -> Result<(), String> {
    let meta = std::fs::symlink_metadata(src)
        .map_err(|e| format!("could not find the file {}: {e}", src.display()))?;
    let contents_only = src.ends_with(".") || src.to_string_lossy().ends_with("/.");
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    let name = src
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    let result = if meta.is_dir() {
        let name = if contents_only {
            PathBuf::from(".")
        } else {
            name
        };
        builder.append_dir_all(&name, src)
    } else {
        builder.append_path_with_name(src, &name)
    };
    result
        .and_then(|()| builder.finish())
        .map_err(|e| format!("archiving {}: {e}", src.display()))
}

/// The archive's single top-level name (`.` for contents-only).
fn top_name(archive: &mut File) -> Result<Option<(PathBuf, bool)>, String> {
    archive
        .seek(SeekFrom::Start(0))
        .map_err(|e| e.to_string())?;
    let mut reader = tar::Archive::new(&mut *archive);
    let mut entries = reader.entries().map_err(|e| e.to_string())?;
    let Some(first) = entries.next() else {
        return Ok(None);
    };
    let first = first.map_err(|e| e.to_string())?;
    let path = first.path().map_err(|e| e.to_string())?.into_owned();
    let top: PathBuf = path.components().take(1).collect();
    Ok(Some((top, first.header().entry_type().is_dir())))
}

/// Extracts `archive` at `dest` with docker's rules: into `dest` when it
/// is a directory; as `dest` (renamed) when it does not exist yet or is a
/// file replaced by a file.
fn extract(archive: &mut File, dest: &Path) -> Result<(), String> {
    let Some((top, top_is_dir)) = top_name(archive)? else {
        return Ok(());
    };
    let dest_meta = std::fs::metadata(dest).ok();
    let (target_dir, rename): (PathBuf, Option<PathBuf>) = match dest_meta {
        Some(m) if m.is_dir() => (dest.to_path_buf(), None),
        Some(_) if top_is_dir => {
            return Err(format!(
                "cannot copy a directory to the file {}",
                dest.display()
            ));
        }
        _ => {
            let parent = dest
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            if !parent.is_dir() {
                return Err(format!("no such directory {}", parent.display()));
            }
            let name = dest
                .file_name()
                .ok_or_else(|| format!("invalid destination {}", dest.display()))?;
            if top == Path::new(".") {
                std::fs::create_dir_all(dest)
                    .map_err(|e| format!("creating {}: {e}", dest.display()))?;
                (dest.to_path_buf(), None)
            } else {
                (parent.to_path_buf(), Some(PathBuf::from(name)))
            }
        }
    };
    archive
        .seek(SeekFrom::Start(0))
        .map_err(|e| e.to_string())?;
    let mut reader = tar::Archive::new(&mut *archive);
    reader.set_preserve_permissions(true);
    reader.set_overwrite(true);
    for entry in reader.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let path = entry.path().map_err(|e| e.to_string())?.into_owned();
        if path
            .components()
            .any(|c| matches!(c, Component::ParentDir | Component::RootDir))
        {
            return Err(format!(
                "refusing archive entry {}: it leaves the destination",
                path.display()
            ));
        }
        let path = match &rename {
            Some(new) => {
                let rest: PathBuf = path.components().skip(1).collect();
                if rest.as_os_str().is_empty() {
                    new.clone()
                } else {
                    new.join(rest)
                }
            }
            None => path,
        };
        let out = target_dir.join(&path);
        entry
            .unpack(&out)
            .map_err(|e| format!("extracting {}: {e}", out.display()))?;
    }
    Ok(())
}

/// A stopped container's volumes and binds, as bind mounts on its root:
/// what `cp` reads and writes there, as docker's does. Tmpfs mounts and
/// `:O` overlays hold nothing outside a run.
fn stored_mounts(dirs: &StorageDirs, record: &ContainerRecord) -> Result<Vec<Mount>, EngineError> {
    record
        .config
        .mounts
        .iter()
        .filter_map(|mount| Some((mount, host_source(dirs, mount)?)))
        .map(|(mount, source)| {
            let mut options = vec!["rbind".to_string()];
            if mount.read_only {
                options.push("ro".into());
            }
            MountBuilder::default()
                .destination(&mount.destination)
                .typ("bind")
                .source(source)
                .options(options)
                .build()
                .map_err(|e| {
                    EngineError::Invalid(format!(
                        "planning the mount on {}: {e}",
                        mount.destination
                    ))
                })
        })
        .collect()
}

/// A container's mappings as its spec holds them (rootless), the
/// caller's default for a spec without them.
pub(super) fn container_mappings(spec: &oci_spec::runtime::Spec) -> IdMappings {
    match crate::sandbox::process::mappings(spec) {
        Some((uids, gids)) => IdMappings {
            uids,
            gids,
            warning: None,
        },
        None => caller_mappings(),
    }
}

/// Runs `work` with the container's root as `/`.
pub(super) fn in_container<T, E>(
    dirs: &StorageDirs,
    store: &ContainerStore,
    record: &ContainerRecord,
    work: impl FnOnce() -> Result<T, E>,
) -> Result<T, EngineError>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
    E: Into<ChildFailure>,
{
    let running = record
        .state
        .pid
        .filter(|p| record.status().is_active() && p.is_alive());
    Ok(match running {
        Some(pid) => run_in_running_root(pid.pid, work)?,
        None => {
            let paths = store.paths(&record.id);
            let plan = LaunchPlan::load(dirs, record, &paths)?;
            let mountpoint = paths.run_dir.join("cp-root");
            std::fs::create_dir_all(&mountpoint).map_err(EngineError::io(format!(
                "creating {}",
                mountpoint.display()
            )))?;
            // The container's own mapping, so its files show the owners
            // it gave them (keep-id, auto, --uidmap differ from ours).
            let own_mapping = super::is_rootless() || record.config.userns.is_some();
            let maps = own_mapping.then(|| container_mappings(&plan.spec));
            let mounts = stored_mounts(dirs, record)?;
            let result =
                run_in_stopped_root(&plan.layers, &mountpoint, &mounts, maps.as_ref(), work);
            let _ = std::fs::remove_dir(&mountpoint);
            result?
        }
    })
}

/// `skiff cp SRC DEST`.
pub fn copy(dirs: &StorageDirs, src: &str, dest: &str) -> Result<(), EngineError> {
    let store = ContainerStore::new(dirs);
    match (CopyEndpoint::parse(src), CopyEndpoint::parse(dest)) {
        (CopyEndpoint::Container { name, path }, host) => {
            if matches!(host, CopyEndpoint::Container { .. }) {
                return Err(invalid(
                    "copying between containers is not supported: copy through the host",
                ));
            }
            let record = find_container(&store, &name)?;
            let mut tar = temp_file()?;
            let mut writer = tar
                .try_clone()
                .map_err(EngineError::io("duplicating the temp file"))?;
            in_container(dirs, &store, &record, move || {
                archive(Path::new(&path), &mut writer)
            })?;
            match host {
                CopyEndpoint::Stream => {
                    tar.seek(SeekFrom::Start(0))
                        .map_err(EngineError::io("rewinding"))?;
                    let mut data = Vec::new();
                    tar.read_to_end(&mut data)
                        .map_err(EngineError::io("reading the archive"))?;
                    std::io::stdout()
                        .write_all(&data)
                        .map_err(EngineError::io("writing to stdout"))?;
                    Ok(())
                }
                CopyEndpoint::Host(dest) => extract(&mut tar, &dest).map_err(invalid),
                CopyEndpoint::Container { .. } => unreachable!("checked above"),
            }
        }
        (from, CopyEndpoint::Container { name, path }) => {
            let record = find_container(&store, &name)?;
            let mut tar = temp_file()?;
            match from {
                CopyEndpoint::Stream => {
                    std::io::copy(&mut std::io::stdin(), &mut tar)
                        .map_err(EngineError::io("reading the archive from stdin"))?;
                }
                CopyEndpoint::Host(src) => archive(&src, &mut tar).map_err(invalid)?,
                CopyEndpoint::Container { .. } => unreachable!("matched above"),
            }
            let stream_input = matches!(CopyEndpoint::parse(src), CopyEndpoint::Stream);
            in_container(dirs, &store, &record, move || {
                let dest = Path::new(&path);
                if stream_input && !dest.is_dir() {
                    return Err(format!(
                        "destination {} must be a directory when copying from stdin",
                        dest.display()
                    ));
                }
                extract(&mut tar, dest)
            })
        }
        _ => Err(invalid(
            "copying between host paths is not supported: one side must be CONTAINER:PATH",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_like_docker() {
        assert_eq!(
            CopyEndpoint::parse("web:/etc/hosts"),
            CopyEndpoint::Container {
                name: "web".into(),
                path: "/etc/hosts".into()
            }
        );
        assert_eq!(
            CopyEndpoint::parse("./a:b"),
            CopyEndpoint::Host("./a:b".into())
        );
        assert_eq!(
            CopyEndpoint::parse("/x:y"),
            CopyEndpoint::Host("/x:y".into())
        );
        assert_eq!(CopyEndpoint::parse("-"), CopyEndpoint::Stream);
        assert_eq!(
            CopyEndpoint::parse("file"),
            CopyEndpoint::Host("file".into())
        );
    }

    #[test]
    fn files_and_directories_land_where_docker_puts_them() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("sub/f"), "x").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", src.join("link")).unwrap();
        let mut tar = tempfile::tempfile().unwrap();
        archive(&src, &mut tar).unwrap();

        // Into an existing directory: keeps its name.
        let into = tmp.path().join("into");
        std::fs::create_dir(&into).unwrap();
        extract(&mut tar, &into).unwrap();
        assert_eq!(
            std::fs::read_to_string(into.join("src/sub/f")).unwrap(),
            "x"
        );
        assert_eq!(
            std::fs::read_link(into.join("src/link")).unwrap(),
            Path::new("/etc/passwd")
        );

        // To a new path: renamed.
        let fresh = tmp.path().join("fresh");
        extract(&mut tar, &fresh).unwrap();
        assert!(fresh.join("sub/f").is_file());

        // A directory onto a file is refused.
        let file = tmp.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert!(
            extract(&mut tar, &file)
                .unwrap_err()
                .contains("cannot copy a directory")
        );

        // A file onto a file replaces it.
        let mut one = tempfile::tempfile().unwrap();
        archive(&src.join("sub/f"), &mut one).unwrap();
        extract(&mut one, &file).unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
    }
}
