//! The one parser for container mounts: `-v/--volume`, `--mount`,
//! `--tmpfs` (and, through the same types, compose and kube later). Each
//! flag becomes a `MountSpec`; a bad one is a one-line error naming it,
//! before anything is created.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::EngineError;
use crate::state::{MountKind, MountSpec, is_valid_volume_name, new_container_id};

fn spec(kind: MountKind, destination: &str) -> MountSpec {
    MountSpec {
        kind,
        destination: destination.to_string(),
        read_only: false,
        propagation: None,
        chown: false,
        copy_up: true,
        overlay: false,
        overlay_mask: None,
        mode: String::new(),
    }
}

/// A fresh anonymous volume, named with 64 hex digits as docker's.
fn anonymous_volume() -> MountKind {
    MountKind::Volume {
        name: new_container_id(),
        anonymous: true,
        driver_options: BTreeMap::new(),
    }
}

/// skiff's mounts are private to the container (its root is made
/// rprivate before anything is mounted), so that is the one propagation
/// it can honour.
fn check_propagation(value: &str) -> Result<(), String> {
    match value {
        "rprivate" | "private" => Ok(()),
        "shared" | "rshared" | "slave" | "rslave" => Err(format!(
            "bind propagation \"{value}\" is not supported: a container's mounts are private"
        )),
        _ => Err(format!("unknown bind propagation \"{value}\"")),
    }
}

/// `:O` takes a host directory as the overlay's lower layer, whose path
/// goes into overlayfs's comma- and colon-separated options.
fn check_overlay(mount: &MountSpec) -> Result<(), String> {
    let MountKind::Bind { source } = &mount.kind else {
        return Err(":O (an overlay) needs a host directory as the source".into());
    };
    if source.to_string_lossy().contains([',', ':']) {
        return Err("a host directory for :O must not contain ',' or ':'".into());
    }
    if mount.read_only {
        return Err(":O and ro cannot be combined".into());
    }
    Ok(())
}

fn check_destination(destination: &str) -> Result<(), String> {
    if destination.is_empty() {
        return Err("no destination".into());
    }
    if !destination.starts_with('/') {
        return Err(format!(
            "the destination \"{destination}\" must be an absolute path"
        ));
    }
    if Path::new(destination)
        .components()
        .any(|c| c.as_os_str() == "..")
    {
        return Err(format!(
            "the destination \"{destination}\" must not contain \"..\""
        ));
    }
    Ok(())
}

/// `-v SOURCE:DESTINATION[:OPTIONS]`, `-v NAME:DESTINATION`, `-v DESTINATION`.
/// A host path that is missing is created at create time, as docker does.
pub fn parse_volume_flag(text: &str) -> Result<MountSpec, EngineError> {
    let invalid =
        |why: &str| EngineError::Invalid(format!("invalid volume specification \"{text}\": {why}"));
    let parts: Vec<&str> = text.split(':').collect();
    let (kind, destination, options) = match parts.as_slice() {
        [dst] => (anonymous_volume(), *dst, ""),
        [src, dst] | [src, dst, _] => {
            let kind = if src.is_empty() {
                return Err(invalid("empty source"));
            } else if src.starts_with('/') {
                MountKind::Bind {
                    source: PathBuf::from(src),
                }
            } else if is_valid_volume_name(src) {
                MountKind::Volume {
                    name: src.to_string(),
                    anonymous: false,
                    driver_options: BTreeMap::new(),
                }
            } else {
                return Err(invalid(&format!(
                    "\"{src}\" is neither an absolute host path nor a volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]+)"
                )));
            };
            (kind, *dst, parts.get(2).copied().unwrap_or(""))
        }
        _ => return Err(invalid("expected [SOURCE:]DESTINATION[:OPTIONS]")),
    };
    check_destination(destination).map_err(|why| invalid(&why))?;
    let mut mount = spec(kind, destination);
    mount.mode = options.to_string();
    for option in options.split(',').filter(|o| !o.is_empty()) {
        match option {
            "ro" => mount.read_only = true,
            "rw" => mount.read_only = false,
            // SELinux relabelling: nothing to do on hosts without SELinux.
            "z" | "Z" => {}
            "U" => mount.chown = true,
            "nocopy" => mount.copy_up = false,
            "copy" => mount.copy_up = true,
            "O" => mount.overlay = true,
            other
                if other.contains("private")
                    || other.contains("shared")
                    || other.contains("slave") =>
            {
                check_propagation(other).map_err(|why| invalid(&why))?;
                mount.propagation = Some(other.to_string());
            }
            other => return Err(invalid(&format!("unknown option \"{other}\""))),
        }
    }
    if mount.overlay {
        check_overlay(&mount).map_err(|why| invalid(&why))?;
    }
    Ok(mount)
}

fn parse_bool(key: &str, value: Option<&str>) -> Result<bool, String> {
    match value {
        None | Some("true") | Some("1") => Ok(true),
        Some("false") | Some("0") => Ok(false),
        Some(other) => Err(format!("{key}: \"{other}\" is not a boolean")),
    }
}

/// `--mount type=bind|volume|tmpfs,source=…,target=…[,readonly][,…]`
/// with docker's keys. No `type` means a volume, as in docker.
pub fn parse_mount_flag(text: &str) -> Result<MountSpec, EngineError> {
    let invalid = |why: &str| EngineError::Invalid(format!("invalid mount \"{text}\": {why}"));
    let mut typ = "volume".to_string();
    let mut source = None;
    let mut target = None;
    let mut read_only = false;
    let mut propagation = None;
    let mut nocopy = false;
    let mut driver_options = BTreeMap::new();
    let mut tmpfs_options = Vec::new();
    let mut chown = false;
    for field in text.split(',').filter(|f| !f.is_empty()) {
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (field, None),
        };
        let needs_value = || value.ok_or_else(|| invalid(&format!("{key} needs a value")));
        match key {
            "type" => typ = needs_value()?.to_string(),
            "source" | "src" => source = Some(needs_value()?.to_string()),
            "target" | "destination" | "dst" => target = Some(needs_value()?.to_string()),
            "readonly" | "ro" => read_only = parse_bool(key, value).map_err(|w| invalid(&w))?,
            "bind-propagation" => {
                let value = needs_value()?;
                check_propagation(value).map_err(|why| invalid(&why))?;
                propagation = Some(value.to_string());
            }
            "volume-nocopy" => nocopy = parse_bool(key, value).map_err(|w| invalid(&w))?,
            "volume-opt" => {
                let (k, v) = needs_value()?
                    .split_once('=')
                    .ok_or_else(|| invalid("volume-opt takes KEY=VALUE"))?;
                driver_options.insert(k.to_string(), v.to_string());
            }
            "tmpfs-size" => {
                let size = needs_value()?;
                let bytes = crate::units::parse_byte_size(size)
                    .ok_or_else(|| invalid(&format!("tmpfs-size \"{size}\" is not a size")))?;
                tmpfs_options.push(format!("size={bytes}"));
            }
            "tmpfs-mode" => {
                let mode = needs_value()?;
                u32::from_str_radix(mode, 8)
                    .map_err(|_| invalid(&format!("tmpfs-mode \"{mode}\" is not an octal mode")))?;
                tmpfs_options.push(format!("mode={mode}"));
            }
            "U" | "chown" => chown = parse_bool(key, value).map_err(|w| invalid(&w))?,
            // SELinux relabelling (z/Z) and macOS consistency hints:
            // nothing to do here, as docker on Linux.
            "relabel" | "consistency" => {}
            other => return Err(invalid(&format!("unknown key \"{other}\""))),
        }
    }
    let target = target.ok_or_else(|| invalid("target is required"))?;
    check_destination(&target).map_err(|why| invalid(&why))?;
    let only_for = |what: &str, set: bool| {
        if set {
            Err(invalid(&format!(
                "{what} only applies to type={}",
                match what {
                    "bind-propagation" => "bind",
                    "volume-opt and volume-nocopy" => "volume",
                    _ => "tmpfs",
                }
            )))
        } else {
            Ok(())
        }
    };
    let kind = match typ.as_str() {
        "bind" => {
            let source = source.ok_or_else(|| invalid("type=bind needs a source"))?;
            if !source.starts_with('/') {
                return Err(invalid(&format!(
                    "the bind source \"{source}\" must be an absolute host path"
                )));
            }
            if !Path::new(&source).exists() {
                return Err(invalid(&format!(
                    "bind source path does not exist: {source}"
                )));
            }
            only_for(
                "volume-opt and volume-nocopy",
                nocopy || !driver_options.is_empty(),
            )?;
            only_for("tmpfs-size and tmpfs-mode", !tmpfs_options.is_empty())?;
            MountKind::Bind {
                source: PathBuf::from(source),
            }
        }
        "volume" => {
            only_for("bind-propagation", propagation.is_some())?;
            only_for("tmpfs-size and tmpfs-mode", !tmpfs_options.is_empty())?;
            let (name, anonymous) = match source {
                None => (new_container_id(), true),
                Some(name) if is_valid_volume_name(&name) => (name, false),
                Some(name) => {
                    return Err(invalid(&format!(
                        "\"{name}\" is not a volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]+)"
                    )));
                }
            };
            MountKind::Volume {
                name,
                anonymous,
                driver_options,
            }
        }
        "tmpfs" => {
            if source.is_some() {
                return Err(invalid("type=tmpfs takes no source"));
            }
            only_for("bind-propagation", propagation.is_some())?;
            only_for(
                "volume-opt and volume-nocopy",
                nocopy || !driver_options.is_empty(),
            )?;
            MountKind::Tmpfs {
                options: tmpfs_options,
            }
        }
        other => {
            return Err(invalid(&format!(
                "unknown type \"{other}\": use bind, volume or tmpfs"
            )));
        }
    };
    let mut mount = spec(kind, &target);
    mount.read_only = read_only;
    mount.propagation = propagation;
    mount.copy_up = !nocopy;
    mount.chown = chown;
    mount.mode = if read_only {
        "ro".into()
    } else {
        String::new()
    };
    Ok(mount)
}

/// `--tmpfs DESTINATION[:OPTIONS]` (options as mount(8) takes them).
pub fn parse_tmpfs_flag(text: &str) -> Result<MountSpec, EngineError> {
    let (destination, options) = text.split_once(':').unwrap_or((text, ""));
    check_destination(destination).map_err(|why| {
        EngineError::Invalid(format!("invalid tmpfs specification \"{text}\": {why}"))
    })?;
    let options: Vec<String> = options
        .split(',')
        .filter(|o| !o.is_empty())
        .map(String::from)
        .collect();
    let mut mount = spec(MountKind::Tmpfs { options }, destination);
    mount.mode = text
        .split_once(':')
        .map(|(_, o)| o.to_string())
        .unwrap_or_default();
    Ok(mount)
}

/// Two mounts on one destination are an error (docker's "Duplicate mount
/// point"); a trailing slash does not make a path another.
pub fn check_distinct_destinations(mounts: &[MountSpec]) -> Result<(), EngineError> {
    let mut seen = std::collections::BTreeSet::new();
    for mount in mounts {
        let key = Path::new(&mount.destination)
            .components()
            .collect::<PathBuf>();
        if !seen.insert(key) {
            return Err(EngineError::Invalid(format!(
                "duplicate mount destination \"{}\": two mounts cannot share a target",
                mount.destination
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "mounts_tests.rs"]
mod tests;
