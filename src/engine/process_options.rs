//! `--ulimit`, `--umask`, `--tz`, `--shm-size`, `--sysctl` and the
//! namespace modes (`--pid`, `--ipc`, `--uts`, `--cgroupns`) as spelled,
//! checked and turned into `sandbox::settings::ProcessSettings` with the
//! rest of `ContainerOptions::from_request`; and how `inspect` shows them.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Spec};
use serde_json::{Value, json};

use super::EngineError;
use crate::sandbox::joined_namespaces::{JoinKind, recorded_joins};
use crate::sandbox::settings::{
    DEFAULT_SHM_SIZE, DEFAULT_UMASK, HostNamespaces, ProcessSettings, Ulimit, rlimit_name,
    rlimit_type,
};

/// The flags as the user spelled them.
#[derive(Debug, Clone, Default)]
pub struct ProcessRequest {
    pub ulimits: Vec<String>,
    pub umask: Option<String>,
    pub tz: Option<String>,
    pub shm_size: Option<String>,
    pub sysctls: Vec<String>,
    pub pid: Option<String>,
    pub ipc: Option<String>,
    pub uts: Option<String>,
    pub cgroupns: Option<String>,
    pub userns: Option<String>,
    /// `--uidmap`, `--gidmap` (checked by `userns_modes`).
    pub uidmap: Vec<String>,
    pub gidmap: Vec<String>,
}

/// Where `--tz NAME` finds its zone file.
const ZONEINFO: &str = "/usr/share/zoneinfo";
const HOST_LOCALTIME: &str = "/etc/localtime";

fn invalid(text: String) -> EngineError {
    EngineError::Invalid(text)
}

/// Checks every flag of `req`; `private_network`: the container gets a
/// network namespace of its own (net.* sysctls need one).
pub fn parse_process_request(
    req: &ProcessRequest,
    private_network: bool,
) -> Result<ProcessSettings, EngineError> {
    let mut joins = Vec::new();
    let mut mode = |kind: Option<JoinKind>, flag, value, own| -> Result<bool, EngineError> {
        Ok(match namespace_mode(flag, value, own, kind.is_some())? {
            NamespaceMode::Own => false,
            NamespaceMode::Host => true,
            NamespaceMode::Container(name) => {
                joins.extend(kind.map(|k| (k, name)));
                false
            }
        })
    };
    let host_namespaces = HostNamespaces {
        pid: mode(Some(JoinKind::Pid), "--pid", &req.pid, &["private"])?,
        ipc: mode(
            Some(JoinKind::Ipc),
            "--ipc",
            &req.ipc,
            &["private", "shareable", "none"],
        )?,
        uts: mode(Some(JoinKind::Uts), "--uts", &req.uts, &["private"])?,
        cgroup: mode(None, "--cgroupns", &req.cgroupns, &["private"])?,
    };
    let userns_host = parse_userns(&req.userns, &mut joins)?;
    let ipc_none = req.ipc.as_deref() == Some("none");
    let mut ulimits: Vec<Ulimit> = Vec::new();
    for text in &req.ulimits {
        let ulimit = parse_ulimit(text)?;
        check_hard_limit(text, &ulimit)?;
        // A later --ulimit of the same name wins, as in docker.
        ulimits.retain(|u| u.typ != ulimit.typ);
        ulimits.push(ulimit);
    }
    let shm_size = req.shm_size.as_deref().map(parse_shm_size).transpose()?;
    let joined_ipc = joins.iter().any(|(k, _)| *k == JoinKind::Ipc);
    if shm_size.is_some() && (host_namespaces.ipc || joined_ipc || ipc_none) {
        return Err(invalid(format!(
            "cannot set --shm-size with --ipc {}",
            req.ipc.as_deref().unwrap_or_default()
        )));
    }
    let mut sysctls = BTreeMap::new();
    for text in &req.sysctls {
        let (key, value) = parse_sysctl(text, private_network, host_namespaces.ipc || joined_ipc)?;
        sysctls.insert(key, value);
    }
    Ok(ProcessSettings {
        ulimits,
        umask: req.umask.as_deref().map(parse_umask).transpose()?,
        shm_size,
        sysctls,
        localtime: req.tz.as_deref().map(zone_file).transpose()?,
        timezone: req.tz.clone(),
        host_namespaces,
        userns_host,
        joins,
        ipc_none,
    })
}

/// `--userns`: `host` → true, `container:NAME` is added to `joins`. The
/// other modes (keep-id, nomap, auto) and their errors are
/// `userns_modes::parse_userns_request`'s, which sees `--uidmap` too.
fn parse_userns(
    value: &Option<String>,
    joins: &mut Vec<(JoinKind, String)>,
) -> Result<bool, EngineError> {
    match value.as_deref() {
        Some("host") => Ok(true),
        Some(mode) if mode.starts_with("container:") => {
            joins.push((JoinKind::User, container_name("--userns", mode)?));
            Ok(false)
        }
        _ => Ok(false),
    }
}

/// How a container gets one kind of namespace.
enum NamespaceMode {
    Own,
    Host,
    /// Entered from this (named) container.
    Container(String),
}

/// The name of `container:NAME`.
fn container_name(flag: &str, mode: &str) -> Result<String, EngineError> {
    match mode.strip_prefix("container:") {
        Some(name) if !name.is_empty() => Ok(name.to_string()),
        _ => Err(invalid(format!(
            "invalid {flag} \"{mode}\": no container named"
        ))),
    }
}

/// `host`; one of `own` (the spellings of a namespace of its own); or,
/// where `joinable`, `container:NAME`.
fn namespace_mode(
    flag: &str,
    value: &Option<String>,
    own: &[&str],
    joinable: bool,
) -> Result<NamespaceMode, EngineError> {
    match value.as_deref() {
        None | Some("") => Ok(NamespaceMode::Own),
        Some("host") => Ok(NamespaceMode::Host),
        Some(mode) if own.contains(&mode) => Ok(NamespaceMode::Own),
        Some(mode) if joinable && mode.starts_with("container:") => {
            Ok(NamespaceMode::Container(container_name(flag, mode)?))
        }
        Some(mode) => Err(invalid(format!(
            "invalid {flag} \"{mode}\": use host, {}{}",
            own.join(", "),
            if joinable { " or container:NAME" } else { "" }
        ))),
    }
}

/// docker's `NAME=SOFT[:HARD]`; a missing hard limit is the soft one;
/// `-1` or `unlimited` is no limit.
pub fn parse_ulimit(text: &str) -> Result<Ulimit, EngineError> {
    let bad = |why: &str| invalid(format!("invalid --ulimit \"{text}\": {why}"));
    let (name, limits) = text
        .split_once('=')
        .ok_or_else(|| bad("expected NAME=SOFT[:HARD]"))?;
    let typ = rlimit_type(name).ok_or_else(|| bad(&format!("unknown limit \"{name}\"")))?;
    let number = |n: &str| -> Result<u64, EngineError> {
        match n {
            "-1" | "unlimited" => Ok(u64::MAX),
            _ => n
                .parse::<u64>()
                .map_err(|_| bad(&format!("\"{n}\" is not a number"))),
        }
    };
    let (soft, hard) = match limits.split_once(':') {
        Some((soft, hard)) => (number(soft)?, number(hard)?),
        None => (number(limits)?, number(limits)?),
    };
    if soft > hard {
        return Err(bad("the soft limit is above the hard limit"));
    }
    Ok(Ulimit { typ, soft, hard })
}

/// Nothing lets a container raise a hard limit above skiff's own without
/// CAP_SYS_RESOURCE on the host; say so now rather than at start.
fn check_hard_limit(text: &str, ulimit: &Ulimit) -> Result<(), EngineError> {
    let own = crate::sandbox::current_hard_limit(ulimit.typ);
    if ulimit.hard <= own {
        return Ok(());
    }
    let can_raise = !super::is_rootless()
        && caps::has_cap(
            None,
            caps::CapSet::Effective,
            caps::Capability::CAP_SYS_RESOURCE,
        )
        .unwrap_or(false);
    if can_raise {
        return Ok(());
    }
    Err(invalid(format!(
        "invalid --ulimit \"{text}\": the hard limit is above this user's own {} hard limit ({own})",
        rlimit_name(ulimit.typ)
    )))
}

/// An octal umask such as `0022`.
fn parse_umask(text: &str) -> Result<u32, EngineError> {
    u32::from_str_radix(text, 8)
        .ok()
        .filter(|mask| *mask <= 0o777 && !text.is_empty() && text.len() <= 4)
        .ok_or_else(|| {
            invalid(format!(
                "invalid --umask \"{text}\": expected an octal mode such as 0022"
            ))
        })
}

fn parse_shm_size(text: &str) -> Result<u64, EngineError> {
    crate::units::parse_byte_size(text)
        .filter(|size| *size > 0)
        .ok_or_else(|| {
            invalid(format!(
                "invalid --shm-size \"{text}\": expected a size such as 64m or 1g"
            ))
        })
}

/// The host file bound at /etc/localtime: `local` is the host's own,
/// a zone name its file under /usr/share/zoneinfo.
fn zone_file(zone: &str) -> Result<PathBuf, EngineError> {
    let path = if zone == "local" {
        PathBuf::from(HOST_LOCALTIME)
    } else {
        let relative = Path::new(zone);
        let plain = !zone.is_empty()
            && relative
                .components()
                .all(|c| matches!(c, Component::Normal(_)));
        if !plain {
            return Err(invalid(format!(
                "invalid --tz \"{zone}\": unknown time zone"
            )));
        }
        Path::new(ZONEINFO).join(relative)
    };
    match std::fs::metadata(&path) {
        Ok(meta) if meta.is_file() => Ok(path),
        _ => Err(invalid(format!(
            "invalid --tz \"{zone}\": unknown time zone (no {})",
            path.display()
        ))),
    }
}

/// The IPC sysctls docker allows: they belong to the IPC namespace.
const IPC_SYSCTLS: [&str; 8] = [
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// `KEY=VALUE`, for a sysctl of a namespace the container has of its
/// own (docker's list); any other would change the host.
fn parse_sysctl(
    text: &str,
    private_network: bool,
    host_ipc: bool,
) -> Result<(String, String), EngineError> {
    let (key, value) = text
        .split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| invalid(format!("invalid --sysctl \"{text}\": expected KEY=VALUE")))?;
    let key = key.replace('/', ".");
    if key.split('.').any(|part| part.is_empty() || part == "..") {
        return Err(invalid(format!("invalid --sysctl \"{text}\": bad key")));
    }
    let ipc = IPC_SYSCTLS.contains(&key.as_str()) || key.starts_with("fs.mqueue.");
    if ipc {
        if host_ipc {
            return Err(invalid(format!(
                "sysctl \"{key}\" is not allowed in a shared IPC namespace"
            )));
        }
    } else if key.starts_with("net.") {
        if !private_network {
            return Err(invalid(format!(
                "sysctl \"{key}\" is not allowed in the host's network namespace"
            )));
        }
    } else {
        return Err(invalid(format!("sysctl \"{key}\" is not whitelisted")));
    }
    Ok((key, value.to_string()))
}

/// `inspect`'s `.HostConfig` fields for these settings, read back from
/// the planned spec.
pub fn host_config_json(spec: &Spec) -> Vec<(&'static str, Value)> {
    let process = spec.process().clone().unwrap_or_default();
    let ulimits: Vec<Value> = process
        .rlimits()
        .iter()
        .flatten()
        .map(|l| {
            json!({
                "Name": format!("RLIMIT_{}", rlimit_name(l.typ()).to_uppercase()),
                "Soft": l.soft(),
                "Hard": l.hard(),
            })
        })
        .collect();
    let linux = spec.linux().clone().unwrap_or_default();
    let has = |typ: LinuxNamespaceType| {
        linux
            .namespaces()
            .iter()
            .flatten()
            .any(|ns| ns.typ() == typ)
    };
    let joins = recorded_joins(spec);
    let joined = |kind: JoinKind| {
        joins
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, id)| format!("container:{id}"))
    };
    let mounts = spec.mounts().clone().unwrap_or_default();
    let has_shm = mounts
        .iter()
        .any(|m| m.destination() == Path::new("/dev/shm"));
    let mode = |typ, kind: Option<JoinKind>, own: &'static str| {
        let own = if typ == LinuxNamespaceType::Ipc && !has_shm {
            "none"
        } else {
            own
        };
        kind.and_then(joined)
            .unwrap_or_else(|| if has(typ) { own } else { "host" }.to_string())
    };
    let shm_size = mounts
        .iter()
        .find(|m| m.destination() == Path::new("/dev/shm") && m.typ().as_deref() == Some("tmpfs"))
        .and_then(|m| {
            m.options().iter().flatten().find_map(|o| {
                o.strip_prefix("size=")
                    .and_then(crate::units::parse_byte_size)
            })
        })
        .unwrap_or(DEFAULT_SHM_SIZE);
    let sysctls: BTreeMap<String, String> = linux
        .sysctl()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    vec![
        ("Ulimits", Value::from(ulimits)),
        ("ShmSize", json!(shm_size)),
        ("Sysctls", json!(sysctls)),
        (
            "PidMode",
            json!(mode(
                LinuxNamespaceType::Pid,
                Some(JoinKind::Pid),
                "private"
            )),
        ),
        (
            "IpcMode",
            json!(mode(
                LinuxNamespaceType::Ipc,
                Some(JoinKind::Ipc),
                "shareable"
            )),
        ),
        (
            "UTSMode",
            json!(mode(
                LinuxNamespaceType::Uts,
                Some(JoinKind::Uts),
                "private"
            )),
        ),
        (
            "CgroupnsMode",
            json!(mode(LinuxNamespaceType::Cgroup, None, "private")),
        ),
        (
            "UsernsMode",
            json!(joined(JoinKind::User).unwrap_or_else(|| {
                spec.annotations()
                    .as_ref()
                    .and_then(|a| a.get(crate::sandbox::settings::USERNS_ANNOTATION))
                    .cloned()
                    .unwrap_or_default()
            })),
        ),
    ]
}

/// `inspect`'s `.Config` fields: `Umask` and `Timezone` (podman's).
pub fn config_json(spec: &Spec) -> Vec<(&'static str, Value)> {
    let umask = spec
        .process()
        .as_ref()
        .and_then(|p| p.user().umask())
        .unwrap_or(DEFAULT_UMASK);
    let timezone = spec
        .mounts()
        .iter()
        .flatten()
        .find(|m| m.destination() == Path::new("/etc/localtime"))
        .and_then(|m| m.source().clone())
        .map(|source| {
            if source == Path::new(HOST_LOCALTIME) {
                "local".to_string()
            } else {
                source
                    .strip_prefix(ZONEINFO)
                    .unwrap_or(&source)
                    .display()
                    .to_string()
            }
        })
        .unwrap_or_default();
    vec![
        ("Umask", json!(format!("{umask:04o}"))),
        ("Timezone", json!(timezone)),
    ]
}

#[cfg(test)]
#[path = "process_options_tests.rs"]
mod tests;
