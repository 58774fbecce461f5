//! What skiff remembers about one container between commands:
//! `containers/<id>/state.json`. The `config` half is fixed at create time;
//! the `state` half changes as the container runs, always under the
//! container's lock (`ContainerLock`) and written atomically.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::StateError;
use super::liveness::ProcessIdentity;
use crate::net::NetworkMode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerStatus {
    Created,
    Running,
    Paused,
    /// `stop` sent the stop signal and waits for the container to exit.
    Stopping,
    Exited,
}

impl ContainerStatus {
    /// The container has a live process (or had one a moment ago and its
    /// monitor has not recorded the exit yet).
    pub fn is_active(self) -> bool {
        matches!(
            self,
            ContainerStatus::Running | ContainerStatus::Paused | ContainerStatus::Stopping
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ContainerStatus::Created => "created",
            ContainerStatus::Running => "running",
            ContainerStatus::Paused => "paused",
            ContainerStatus::Stopping => "stopping",
            ContainerStatus::Exited => "exited",
        }
    }
}

/// `--restart`: what the monitor does when the container exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "Name", rename_all = "kebab-case")]
pub enum RestartPolicy {
    #[default]
    No,
    Always,
    OnFailure {
        /// 0 means no limit, as in docker.
        #[serde(rename = "MaximumRetryCount")]
        max_retries: u32,
    },
    UnlessStopped,
}

impl RestartPolicy {
    pub fn parse(text: &str) -> Result<RestartPolicy, StateError> {
        let bad = || StateError::InvalidRestartPolicy {
            policy: text.to_string(),
        };
        let (name, count) = match text.split_once(':') {
            Some((name, count)) => (name, Some(count.parse::<u32>().map_err(|_| bad())?)),
            None => (text, None),
        };
        match (name, count) {
            ("" | "no", None) => Ok(RestartPolicy::No),
            ("always", None) => Ok(RestartPolicy::Always),
            ("unless-stopped", None) => Ok(RestartPolicy::UnlessStopped),
            ("on-failure", count) => Ok(RestartPolicy::OnFailure {
                max_retries: count.unwrap_or(0),
            }),
            _ => Err(bad()),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            RestartPolicy::No => "no",
            RestartPolicy::Always => "always",
            RestartPolicy::OnFailure { .. } => "on-failure",
            RestartPolicy::UnlessStopped => "unless-stopped",
        }
    }

    /// Whether the monitor starts the container again after an exit with
    /// `exit_code`, having restarted it `restarts` times already. A user's
    /// `stop`/`kill` always wins.
    pub fn wants_restart(self, exit_code: i32, restarts: u32, stopped_by_user: bool) -> bool {
        if stopped_by_user {
            return false;
        }
        match self {
            RestartPolicy::No => false,
            // docker differs only when its daemon restarts; there is none.
            RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
            RestartPolicy::OnFailure { max_retries } => {
                exit_code != 0 && (max_retries == 0 || restarts < max_retries)
            }
        }
    }
}

/// A healthcheck as the image's HEALTHCHECK or the `--health-*` flags
/// define it. Durations in nanoseconds, as in the image config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthConfig {
    /// `["CMD", arg…]` or `["CMD-SHELL", "command line"]`.
    pub test: Vec<String>,
    pub interval_ns: u64,
    pub timeout_ns: u64,
    pub start_period_ns: u64,
    pub retries: u32,
}

/// What a container mount brings in. A kind this skiff does not know is
/// an error when the record is read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "Type", rename_all = "lowercase")]
pub enum MountKind {
    /// A host path.
    Bind {
        #[serde(rename = "Source")]
        source: PathBuf,
    },
    /// A volume of the store, made on first use.
    Volume {
        #[serde(rename = "Name")]
        name: String,
        /// Made for this container (`-v /path`, an image VOLUME).
        #[serde(rename = "Anonymous")]
        anonymous: bool,
        /// `volume-opt=` of `--mount`: the local driver's options for a
        /// volume this mount creates.
        #[serde(rename = "DriverOptions", default)]
        driver_options: BTreeMap<String, String>,
    },
    /// A fresh tmpfs; options such as `size=64m`, `mode=1777`.
    Tmpfs {
        #[serde(rename = "Options")]
        options: Vec<String>,
    },
}

/// One mount of a container, as the user asked for it: what `-v`,
/// `--mount`, `--tmpfs`, `--volumes-from` and image VOLUMEs give, checked
/// and typed by one parser (`engine::mounts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MountSpec {
    #[serde(flatten)]
    pub kind: MountKind,
    pub destination: String,
    pub read_only: bool,
    /// `rprivate`, `shared`, …; `None` is skiff's default (rprivate).
    pub propagation: Option<String>,
    /// `:U`: the source is chowned to the container's user.
    pub chown: bool,
    /// An empty volume gets the image's content at the destination first
    /// (docker's copy-up; `nocopy` turns it off).
    pub copy_up: bool,
    /// `:O`: the host directory is the lower layer of an overlay whose
    /// writes are the container's own and go when its run ends (podman).
    #[serde(default)]
    pub overlay: bool,
    /// The options as the user wrote them (`ro,Z`), for `inspect`'s Mode.
    pub mode: String,
    /// With `overlay`: a directory laid over the source as a second lower
    /// layer, whose whiteouts hide source entries (a build's context bind
    /// without what `.dockerignore` leaves out).
    #[serde(default)]
    pub overlay_mask: Option<PathBuf>,
}

/// Decided at create time; never changes afterwards.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ContainerConfig {
    /// The process as planned (entrypoint + command), for `ps` and `inspect`.
    pub args: Vec<String>,
    /// The two halves `args` was made of, as `inspect` shows them.
    #[serde(default)]
    pub entrypoint: Vec<String>,
    #[serde(default)]
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub workdir: String,
    pub user: String,
    pub hostname: String,
    pub network: NetworkMode,
    pub tty: bool,
    pub interactive: bool,
    /// `--rm`: the monitor (or foreground run) removes it after exit.
    pub auto_remove: bool,
    pub restart: RestartPolicy,
    /// A signal name such as `SIGTERM`, from `--stop-signal` or the image.
    pub stop_signal: String,
    pub stop_timeout: u32,
    pub healthcheck: Option<HealthConfig>,
    pub log_max_size: Option<u64>,
    /// `--init`: a minimal init (skiff) is PID 1 and runs the command.
    pub init: bool,
    pub labels: BTreeMap<String, String>,
    pub mounts: Vec<MountSpec>,
    /// `--cgroups=disabled`: no cgroup of its own (no limits, no pause).
    #[serde(default)]
    pub cgroups_disabled: bool,
    /// `--cgroup-parent`: where its cgroup goes instead of `/skiff`.
    #[serde(default)]
    pub cgroup_parent: Option<String>,
    /// `--cap-add`, `--cap-drop`, `--privileged`, `--read-only`,
    /// `--device`, `--security-opt` as inspect shows them.
    #[serde(default)]
    pub security: SecurityRecord,
    /// `--secret`: which secrets it gets and how, never their values.
    #[serde(default)]
    pub secrets: Vec<super::secrets::SecretUse>,
    /// IDs of the containers whose namespaces this one enters
    /// (`--pid/--ipc/--uts/--network/--userns container:X`): they cannot
    /// be removed while this one exists (`rm --depend` removes it first).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// Networks, published ports, DNS and hosts flags.
    #[serde(default)]
    pub net: crate::net::NetworkConfig,
    /// `--userns keep-id|nomap|auto`, `--uidmap`/`--gidmap`: the mapping
    /// it runs with; `None` for the default mapping (and `host`).
    #[serde(default)]
    pub userns: Option<UsernsRecord>,
}

/// A container's own ID mapping. Ranges are `[container, intermediate,
/// size]`; intermediate IDs are the store's: rootless 0 = the caller,
/// 1.. = its subordinate range (podman's `--uidmap` HOST side), as root
/// the host's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsernsRecord {
    /// As `inspect` shows it (`.HostConfig.UsernsMode`): `keep-id`,
    /// `nomap`, `auto`, or `private` for `--uidmap`/`--gidmap`.
    pub mode: String,
    pub uid_map: Vec<[u32; 3]>,
    pub gid_map: Vec<[u32; 3]>,
}

/// The privilege options of a container, podman's spelling.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityRecord {
    #[serde(default)]
    pub cap_add: Vec<String>,
    #[serde(default)]
    pub cap_drop: Vec<String>,
    #[serde(default)]
    pub privileged: bool,
    #[serde(default)]
    pub read_only: bool,
    /// `HOST:CONTAINER:PERMS` per `--device`.
    #[serde(default)]
    pub devices: Vec<String>,
    /// `mask=…`, `unmask=…` as given.
    #[serde(default)]
    pub security_opt: Vec<String>,
    #[serde(default)]
    pub device_cgroup_rules: Vec<String>,
    #[serde(default)]
    pub group_add: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Starting,
    Healthy,
    Unhealthy,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthProbe {
    pub start: String,
    pub end: String,
    pub exit_code: i32,
    pub output: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthState {
    pub status: HealthStatus,
    pub failing_streak: u32,
    /// The last five probes, oldest first (as docker keeps them).
    pub log: Vec<HealthProbe>,
}

/// Changes while the container lives; written by whoever holds the lock.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ContainerState {
    pub status: Option<ContainerStatus>,
    /// The container's PID 1 as the host sees it.
    pub pid: Option<ProcessIdentity>,
    /// The process that waits for PID 1: a `skiff run` in the foreground
    /// or a detached container's monitor.
    pub monitor: Option<ProcessIdentity>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub exit_code: Option<i32>,
    pub oom_killed: bool,
    pub restart_count: u32,
    /// Set by `stop` and `kill`: the restart policy must not undo them.
    pub stopped_by_user: bool,
    /// Why the last start failed, or why the exit code is unknown.
    pub error: Option<String>,
    pub health: Option<HealthState>,
    /// The running container's cgroup, as a path inside the hierarchy
    /// (`/skiff/<id>`); `None` when it runs without one.
    #[serde(default)]
    pub cgroup_path: Option<String>,
    /// The run's pasta process (rootless `pasta` mode): ended with the
    /// run, or by `refresh` after its owner died.
    #[serde(default)]
    pub pasta: Option<ProcessIdentity>,
    /// The run's addresses on its bridge networks.
    #[serde(default)]
    pub attachments: Vec<crate::net::Attachment>,
}

/// How one run of a container ended, as its record keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunExit {
    /// The container's exit code (128+N when killed by signal N), or -1
    /// when no process that could know it survived.
    pub code: i32,
    /// Why the run failed to start, or why the code is unknown.
    pub error: Option<String>,
    pub oom_killed: bool,
}

impl ContainerState {
    /// Records the end of a run: the one place an exit is written, by the
    /// foreground `run`, the monitor, a failed start and `refresh` alike.
    /// The run's process and cgroup are gone, and so is whoever waited for
    /// it (a monitor that will restart the container records itself again).
    pub fn mark_exited(&mut self, exit: RunExit) {
        self.status = Some(ContainerStatus::Exited);
        self.pid = None;
        self.monitor = None;
        self.cgroup_path = None;
        self.exit_code = Some(exit.code);
        self.error = exit.error;
        self.oom_killed = exit.oom_killed;
        self.finished_at = Some(crate::timestamp::format_rfc3339_nanos(
            std::time::SystemTime::now(),
        ));
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub id: String,
    pub name: String,
    /// The image as the user named it, and the ID it resolved to.
    pub image: String,
    pub image_id: String,
    /// RFC 3339 with nanoseconds.
    pub created: String,
    pub config: ContainerConfig,
    pub state: ContainerState,
}

impl ContainerRecord {
    pub fn status(&self) -> ContainerStatus {
        self.state.status.unwrap_or(ContainerStatus::Created)
    }

    /// Writes `state.json` atomically (temp file + rename): readers see the
    /// old or the new record, never half of one.
    pub fn save(&self, dir: &Path) -> Result<(), StateError> {
        let path = dir.join("state.json");
        let tmp = dir.join(format!(".state.json.{}", std::process::id()));
        let json = serde_json::to_vec(self).expect("container record serializes");
        let write = || -> std::io::Result<()> {
            let mut file = fs::File::create(&tmp)?;
            file.write_all(&json)?;
            fs::rename(&tmp, &path)
        };
        write().map_err(|source| {
            let _ = fs::remove_file(&tmp);
            StateError::Io {
                path: path.clone(),
                source,
            }
        })
    }

    pub fn load(dir: &Path) -> Result<ContainerRecord, StateError> {
        let path = dir.join("state.json");
        let mut text = Vec::new();
        fs::File::open(&path)
            .and_then(|mut f| f.read_to_end(&mut text))
            .map_err(|source| StateError::Io {
                path: path.clone(),
                source,
            })?;
        serde_json::from_slice(&text).map_err(|source| StateError::Malformed {
            id: dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            path,
            source,
        })
    }

    /// The short ID docker prints (12 hex digits).
    pub fn short_id(&self) -> &str {
        &self.id[..12.min(self.id.len())]
    }
}

/// Where one container's files live.
#[derive(Debug, Clone)]
pub struct ContainerPaths {
    /// `containers/<id>` under the root: state, spec, upper and work dirs, log.
    pub dir: PathBuf,
    /// `containers/<id>` under the runroot: mount point, /etc files, attach socket.
    pub run_dir: PathBuf,
}

impl ContainerPaths {
    pub fn log_file(&self) -> PathBuf {
        self.dir.join("ctr.log")
    }

    pub fn spec_file(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    pub fn attach_socket(&self) -> PathBuf {
        self.run_dir.join("attach")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policies_parse_like_docker() {
        assert_eq!(RestartPolicy::parse("no").unwrap(), RestartPolicy::No);
        assert_eq!(
            RestartPolicy::parse("on-failure:3").unwrap(),
            RestartPolicy::OnFailure { max_retries: 3 }
        );
        assert_eq!(
            RestartPolicy::parse("unless-stopped").unwrap(),
            RestartPolicy::UnlessStopped
        );
        for bad in ["sometimes", "always:2", "on-failure:x", "no:1"] {
            let err = RestartPolicy::parse(bad).unwrap_err().to_string();
            assert!(err.contains(bad), "{err}");
        }
    }

    #[test]
    fn on_failure_counts_retries_and_stop_wins() {
        let p = RestartPolicy::OnFailure { max_retries: 2 };
        assert!(p.wants_restart(1, 0, false));
        assert!(p.wants_restart(1, 1, false));
        assert!(!p.wants_restart(1, 2, false));
        assert!(!p.wants_restart(0, 0, false));
        assert!(RestartPolicy::Always.wants_restart(0, 99, false));
        assert!(!RestartPolicy::Always.wants_restart(0, 0, true));
        assert!(!RestartPolicy::No.wants_restart(1, 0, false));
    }

    fn sample_record(id: &str) -> ContainerRecord {
        ContainerRecord {
            id: id.into(),
            name: "web".into(),
            image: "busybox".into(),
            image_id: "sha256:00".into(),
            created: "2026-11-23T00:00:00.000000000Z".into(),
            config: ContainerConfig::default(),
            state: ContainerState::default(),
        }
    }

    #[test]
    fn unknown_stored_values_are_errors_naming_the_container() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("c0ffee");
        fs::create_dir(&dir).unwrap();
        let mut rec = sample_record("c0ffee");
        rec.config.mounts.push(MountSpec {
            kind: MountKind::Tmpfs {
                options: Vec::new(),
            },
            destination: "/t".into(),
            read_only: false,
            propagation: None,
            chown: false,
            copy_up: false,
            overlay: false,
            overlay_mask: None,
            mode: String::new(),
        });
        rec.save(&dir).unwrap();
        let good = fs::read_to_string(dir.join("state.json")).unwrap();
        for (field, bad) in [
            (r#""network":"none""#, r#""network":"slirp4netns""#),
            (r#""Name":"no""#, r#""Name":"sometimes""#),
            (r#""Type":"tmpfs""#, r#""Type":"nfs""#),
        ] {
            assert!(good.contains(field), "{field} in {good}");
            fs::write(dir.join("state.json"), good.replace(field, bad)).unwrap();
            let err = ContainerRecord::load(&dir).unwrap_err().to_string();
            assert!(err.contains("container c0ffee"), "{err}");
            let value = bad.split(':').nth(1).unwrap().trim_matches('"');
            assert!(err.contains(value), "{value}: {err}");
        }
    }

    #[test]
    fn record_round_trips() {
        let tmp = tempfile::tempdir().unwrap();
        let mut rec = sample_record(&"a".repeat(64));
        rec.state.status = Some(ContainerStatus::Exited);
        rec.state.exit_code = Some(3);
        rec.config.restart = RestartPolicy::OnFailure { max_retries: 5 };
        rec.save(tmp.path()).unwrap();
        let back = ContainerRecord::load(tmp.path()).unwrap();
        assert_eq!(back.status(), ContainerStatus::Exited);
        assert_eq!(back.state.exit_code, Some(3));
        assert_eq!(back.config.restart, rec.config.restart);
        assert_eq!(back.short_id().len(), 12);
    }
}
