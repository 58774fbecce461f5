//! `skiff secret …` and `--secret`: podman's secrets with its `file`
//! driver. The store (`state::SecretStore`) keeps the values; a
//! container's record and its planned spec name the secret (name, ID,
//! target, owner, mode), never its value. The value reaches a container
//! only at each start (`prepare_secrets`, from `launch`): a `mount` secret
//! is copied into a file under the container's runroot directory that the
//! spec bind-mounts read-only; an `env` secret is added to the process
//! environment of the spec handed to the sandbox, in memory only, so it
//! is in neither config.json, state.json nor `inspect`.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;

use oci_spec::runtime::Spec;
use serde_json::{Value, json};

use super::EngineError;
use super::lookup::list_containers;
use crate::sandbox::spec::PlannedSecret;
use crate::state::{
    ContainerPaths, ContainerRecord, MAX_SECRET_SIZE, SecretKind, SecretRecord, SecretStore,
    SecretUse, SecretsLock, StateError, StorageDirs, is_valid_secret_name, new_secret_id,
};
use crate::timestamp::format_rfc3339_nanos;

/// Where `mount` secrets go by default, and what relative targets are
/// below.
const SECRETS_DIR: &str = "/run/secrets";

/// One `--secret` as the user asked for it, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretOption {
    pub source: String,
    pub kind: SecretKind,
    pub target: Option<String>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub mode: Option<u32>,
}

fn invalid(text: &str, why: &str) -> EngineError {
    EngineError::Invalid(format!("invalid --secret \"{text}\": {why}"))
}

/// `--secret NAME[,type=mount|env][,target=T][,uid=N][,gid=N][,mode=0NNN]`.
pub fn parse_secret_flag(text: &str) -> Result<SecretOption, EngineError> {
    let mut parts = text.split(',');
    let source = parts.next().unwrap_or_default();
    if source.is_empty() || source.contains('=') {
        return Err(invalid(text, "the secret's name comes first"));
    }
    let mut option = SecretOption {
        source: source.to_string(),
        kind: SecretKind::Mount,
        target: None,
        uid: None,
        gid: None,
        mode: None,
    };
    let number = |key: &str, value: &str, radix: u32| {
        u32::from_str_radix(value, radix)
            .map_err(|_| invalid(text, &format!("{key} \"{value}\" is not a number")))
    };
    for part in parts {
        let Some((key, value)) = part.split_once('=') else {
            return Err(invalid(text, &format!("option \"{part}\" has no value")));
        };
        match key {
            "type" => {
                option.kind = match value {
                    "mount" => SecretKind::Mount,
                    "env" => SecretKind::Env,
                    _ => {
                        return Err(invalid(
                            text,
                            &format!("type \"{value}\": use mount or env"),
                        ));
                    }
                }
            }
            "target" if !value.is_empty() => option.target = Some(value.to_string()),
            "target" => return Err(invalid(text, "empty target")),
            "uid" => option.uid = Some(number(key, value, 10)?),
            "gid" => option.gid = Some(number(key, value, 10)?),
            "mode" => {
                let mode = number(key, value, 8)?;
                if mode > 0o777 {
                    return Err(invalid(text, &format!("mode \"{value}\" is above 0777")));
                }
                option.mode = Some(mode);
            }
            _ => {
                return Err(invalid(
                    text,
                    &format!("unknown option \"{key}\" (use type, target, uid, gid or mode)"),
                ));
            }
        }
    }
    if option.kind == SecretKind::Env {
        if option.uid.is_some() || option.gid.is_some() || option.mode.is_some() {
            return Err(invalid(
                text,
                "UID, GID, Mode options cannot be set with secret type env",
            ));
        }
        if let Some(t) = &option.target
            && t.contains(['=', '\0'])
        {
            return Err(invalid(text, &format!("\"{t}\" is not a variable name")));
        }
    } else if let Some(t) = &option.target
        && (t.contains('\0') || t.split('/').any(|c| c == ".."))
    {
        return Err(invalid(
            text,
            &format!("target \"{t}\" leaves its directory"),
        ));
    }
    Ok(option)
}

/// Finds the secrets a new container asks for and returns what its
/// record keeps of them, with the secrets lock held until that record is
/// written (so `secret rm` sees the container). No lock without secrets.
pub fn resolve_secrets(
    dirs: &StorageDirs,
    asked: &[SecretOption],
) -> Result<(Option<SecretsLock>, Vec<SecretUse>), EngineError> {
    if asked.is_empty() {
        return Ok((None, Vec::new()));
    }
    let store = SecretStore::new(dirs);
    let lock = store.lock()?;
    let mut uses: Vec<SecretUse> = Vec::new();
    for option in asked {
        let record = store.find(&option.source)?;
        let target = match (option.kind, &option.target) {
            (SecretKind::Env, Some(t)) => t.clone(),
            (SecretKind::Env, None) => record.name.clone(),
            (SecretKind::Mount, Some(t)) if t.starts_with('/') => t.clone(),
            (SecretKind::Mount, Some(t)) => format!("{SECRETS_DIR}/{t}"),
            (SecretKind::Mount, None) => format!("{SECRETS_DIR}/{}", record.name),
        };
        if uses
            .iter()
            .any(|u| u.kind == option.kind && u.target == target)
        {
            return Err(EngineError::Invalid(format!(
                "--secret {}: target \"{target}\" is used by another secret",
                option.source
            )));
        }
        uses.push(SecretUse {
            name: record.name,
            id: record.id,
            kind: option.kind,
            target,
            uid: option.uid.unwrap_or(0),
            gid: option.gid.unwrap_or(0),
            // No file for an env secret: podman shows 0 then.
            mode: match option.kind {
                SecretKind::Mount => option.mode.unwrap_or(0o444),
                SecretKind::Env => 0,
            },
        });
    }
    Ok((Some(lock), uses))
}

/// Where a container's `mount` secret is copied for a run (runroot).
fn run_file(paths: &ContainerPaths, index: usize) -> PathBuf {
    paths.run_dir.join("secrets").join(index.to_string())
}

/// What the planned spec gets of the secrets: each named, and for a
/// `mount` one the per-run file it binds.
pub fn planned_secrets(paths: &ContainerPaths, uses: &[SecretUse]) -> Vec<PlannedSecret> {
    uses.iter()
        .enumerate()
        .map(|(index, u)| PlannedSecret {
            name: u.name.clone(),
            id: u.id.clone(),
            source: (u.kind == SecretKind::Mount).then(|| run_file(paths, index)),
            target: u.target.clone(),
            uid: u.uid,
            gid: u.gid,
            mode: u.mode,
        })
        .collect()
}

fn read_secret(store: &SecretStore, secret: &SecretUse) -> Result<Vec<u8>, EngineError> {
    store.read_data(&secret.id).map_err(|e| match e {
        StateError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            EngineError::State(StateError::NoSuchSecret {
                name: secret.name.clone(),
            })
        }
        other => other.into(),
    })
}

/// `env` with the container's `type=env` secrets read from the store
/// (they win over a variable of the same name, as in podman): for the
/// process a start or an `exec` hands to the sandbox, in memory only.
pub fn with_secret_env(
    dirs: &StorageDirs,
    record: &ContainerRecord,
    env: &[String],
) -> Result<Vec<String>, EngineError> {
    let store = SecretStore::new(dirs);
    let mut secrets = Vec::new();
    for secret in record
        .config
        .secrets
        .iter()
        .filter(|s| s.kind == SecretKind::Env)
    {
        let value = String::from_utf8(read_secret(&store, secret)?)
            .ok()
            .filter(|v| !v.contains('\0'))
            .ok_or_else(|| {
                EngineError::Invalid(format!(
                    "secret {} cannot be an environment variable: it is not text",
                    secret.name
                ))
            })?;
        secrets.push((secret.target.as_str(), value));
    }
    let key = |e: &str| e.split_once('=').map_or(e, |(k, _)| k).to_string();
    let mut all: Vec<String> = env
        .iter()
        .filter(|e| !secrets.iter().any(|(k, _)| *k == key(e)))
        .cloned()
        .collect();
    all.extend(secrets.into_iter().map(|(k, v)| format!("{k}={v}")));
    Ok(all)
}

/// At each start: copies the `mount` secrets from the store to their
/// per-run files (the owner is set by init, in the container's user
/// namespace, where the IDs mean what the container means; the run
/// directory goes when the run ends), and returns the spec with the `env`
/// secrets in its process environment, or `None` when the spec needs no
/// change. A secret removed from the store since the container was
/// created fails the start.
pub fn prepare_secrets(
    dirs: &StorageDirs,
    record: &ContainerRecord,
    paths: &ContainerPaths,
    spec: &Spec,
) -> Result<Option<Spec>, EngineError> {
    let uses = &record.config.secrets;
    if uses.is_empty() {
        return Ok(None);
    }
    let store = SecretStore::new(dirs);
    let dir = paths.run_dir.join("secrets");
    let _ = fs::remove_dir_all(&dir);
    fs::DirBuilder::new()
        .mode(0o700)
        .recursive(true)
        .create(&dir)
        .map_err(EngineError::io(format!("creating {}", dir.display())))?;
    for (index, secret) in uses.iter().enumerate() {
        if secret.kind != SecretKind::Mount {
            continue;
        }
        let data = read_secret(&store, secret)?;
        let path = run_file(paths, index);
        let what = format!("writing {}", path.display());
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(EngineError::io(what.clone()))?;
        file.write_all(&data)
            .map_err(EngineError::io(what.clone()))?;
        // After the data: the file is never more open than 0600 while it
        // is written. (umask does not apply to chmod.)
        file.set_permissions(fs::Permissions::from_mode(secret.mode))
            .map_err(EngineError::io(what))?;
    }
    if !uses.iter().any(|s| s.kind == SecretKind::Env) {
        return Ok(None);
    }
    let mut spec = spec.clone();
    if let Some(process) = spec.process_mut() {
        let env = with_secret_env(dirs, record, process.env().as_deref().unwrap_or_default())?;
        process.set_env(Some(env));
    }
    Ok(Some(spec))
}

/// `inspect`'s `.Config.Secrets`: podman's fields (`Name`, `ID`, `UID`,
/// `GID`, `Mode`) and how it is delivered; never the value.
pub fn secrets_json(uses: &[SecretUse]) -> Value {
    uses.iter()
        .map(|u| {
            json!({
                "Name": u.name,
                "ID": u.id,
                "Type": u.kind,
                "Target": u.target,
                "UID": u.uid,
                "GID": u.gid,
                "Mode": u.mode,
            })
        })
        .collect()
}

/// `secret create`: stores a new secret, or with `replace` gives an
/// existing one (same ID) the new value. Returns the ID.
pub fn create_secret(
    dirs: &StorageDirs,
    name: &str,
    data: &[u8],
    labels: BTreeMap<String, String>,
    replace: bool,
) -> Result<String, EngineError> {
    if !is_valid_secret_name(name) {
        return Err(EngineError::Invalid(format!(
            "invalid secret name \"{name}\": 1 to 253 characters, none of '=', '/', ','"
        )));
    }
    if data.is_empty() || data.len() >= MAX_SECRET_SIZE {
        return Err(EngineError::Invalid(format!(
            "secret data must be larger than 0 and less than {MAX_SECRET_SIZE} bytes"
        )));
    }
    let store = SecretStore::new(dirs);
    let lock = store.lock()?;
    let now = format_rfc3339_nanos(std::time::SystemTime::now());
    match store.find(name) {
        Ok(existing) if existing.name == name => {
            if !replace {
                return Err(EngineError::Invalid(format!("{name}: secret name in use")));
            }
            let record = SecretRecord {
                labels,
                updated_at: now,
                ..existing
            };
            store.replace(&lock, &record, data)?;
            Ok(record.id)
        }
        _ => {
            let record = SecretRecord {
                id: new_secret_id(),
                name: name.to_string(),
                driver: "file".into(),
                labels,
                created_at: now.clone(),
                updated_at: now,
            };
            store.create(&lock, &record, data)?;
            Ok(record.id)
        }
    }
}

/// A `secret ls --filter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretFilter {
    /// Part of the name.
    Name(String),
    /// A prefix of the ID.
    Id(String),
}

impl std::str::FromStr for SecretFilter {
    type Err = EngineError;
    fn from_str(text: &str) -> Result<SecretFilter, EngineError> {
        match text.split_once('=') {
            Some(("name", v)) => Ok(SecretFilter::Name(v.to_string())),
            Some(("id", v)) => Ok(SecretFilter::Id(v.to_string())),
            _ => Err(EngineError::Invalid(format!(
                "invalid filter \"{text}\": use name=NAME or id=ID"
            ))),
        }
    }
}

/// `secret ls`: by name; filters of one key are or-ed, of different keys
/// and-ed (podman).
pub fn list_secrets(dirs: &StorageDirs, filters: &[SecretFilter]) -> Vec<SecretRecord> {
    let names: Vec<&str> = filters
        .iter()
        .filter_map(|f| match f {
            SecretFilter::Name(n) => Some(n.as_str()),
            SecretFilter::Id(_) => None,
        })
        .collect();
    let ids: Vec<&str> = filters
        .iter()
        .filter_map(|f| match f {
            SecretFilter::Id(i) => Some(i.as_str()),
            SecretFilter::Name(_) => None,
        })
        .collect();
    SecretStore::new(dirs)
        .list()
        .into_iter()
        .filter(|r| names.is_empty() || names.iter().any(|n| r.name.contains(n)))
        .filter(|r| ids.is_empty() || ids.iter().any(|i| r.id.starts_with(i)))
        .collect()
}

/// podman's `secret inspect` document; the value only with `show_data`.
pub fn secret_json(dirs: &StorageDirs, name: &str, show_data: bool) -> Result<Value, EngineError> {
    let store = SecretStore::new(dirs);
    let record = store.find(name)?;
    let mut doc = json!({
        "ID": record.id,
        "CreatedAt": record.created_at,
        "UpdatedAt": record.updated_at,
        "Spec": {
            "Name": record.name,
            "Driver": {
                "Name": record.driver,
                "Options": {"path": dirs.root.join("secrets").display().to_string()},
            },
            "Labels": record.labels,
        },
    });
    if show_data {
        let data = store.read_data(&record.id)?;
        doc["SecretData"] = Value::String(String::from_utf8_lossy(&data).into_owned());
    }
    Ok(doc)
}

/// `secret rm`: refused while a container (in any state) names the
/// secret, because skiff delivers it from the store at every start.
/// Returns the ID.
pub fn remove_secret(dirs: &StorageDirs, name: &str) -> Result<String, EngineError> {
    let store = SecretStore::new(dirs);
    let lock = store.lock()?;
    let record = store.find(name)?;
    let users: Vec<String> = list_containers(dirs)?
        .into_iter()
        .filter(|c| c.config.secrets.iter().any(|s| s.id == record.id))
        .map(|c| if c.name.is_empty() { c.id } else { c.name })
        .collect();
    if !users.is_empty() {
        return Err(EngineError::Invalid(format!(
            "secret {} is in use by container(s) {}: secret is in use",
            record.name,
            users.join(", ")
        )));
    }
    store.remove(&lock, &record.id)?;
    Ok(record.id)
}

pub fn secret_exists(dirs: &StorageDirs, name: &str) -> bool {
    SecretStore::new(dirs).find(name).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_with_podmans_defaults() {
        let o = parse_secret_flag("pw").unwrap();
        assert_eq!(o.kind, SecretKind::Mount);
        assert_eq!((o.target, o.uid, o.mode), (None, None, None));
        let o = parse_secret_flag("pw,target=/etc/x,mode=0400,uid=1000,gid=100").unwrap();
        assert_eq!(o.target.as_deref(), Some("/etc/x"));
        assert_eq!((o.uid, o.gid, o.mode), (Some(1000), Some(100), Some(0o400)));
        let o = parse_secret_flag("pw,type=env,target=DB_PASS").unwrap();
        assert_eq!(o.kind, SecretKind::Env);
        assert_eq!(o.target.as_deref(), Some("DB_PASS"));
    }

    #[test]
    fn bad_flags_are_refused_by_name() {
        for (text, why) in [
            ("pw,colour=red", "unknown option \"colour\""),
            ("pw,mode=999", "mode \"999\""),
            ("pw,mode=01777", "above 0777"),
            ("pw,uid=me", "uid \"me\""),
            ("pw,type=file", "type \"file\""),
            (
                "pw,type=env,mode=0400",
                "cannot be set with secret type env",
            ),
            ("pw,target=../../etc/x", "leaves its directory"),
            ("type=env", "name comes first"),
            ("pw,ro", "no value"),
        ] {
            let err = parse_secret_flag(text).unwrap_err().to_string();
            assert!(err.contains(why), "{text}: {err}");
            assert!(err.contains(text), "{text}: {err}");
        }
    }
}
