//! `skiff create` (and the first half of `run`): check the input, resolve
//! the image, plan the runtime spec, and write the container's record.
//! Nothing runs yet.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use oci_spec::runtime::Spec;

use super::input::{parse_env_entries, parse_tmpfs, parse_volume};
use super::pull::{PullOptions, PullPolicy, image_for_run};
use super::resources::{ResourceRequest, cgroups_enabled, check_cgroup_parent, plan_resources};
use super::signals::{parse_signal, signal_name};
use super::{EngineError, is_rootless};
use crate::layers::{LocalImage, Store};
use crate::net::NetworkMode;
use crate::sandbox::cgroups::unified_host;
use crate::sandbox::spec::{EtcFiles, ImageDefaults, MountRequest, RunPlan, build_spec};
use crate::sandbox::user::resolve_user;
use crate::sandbox::userns::caller_mappings;
use crate::state::{
    ContainerConfig, ContainerPaths, ContainerRecord, ContainerState, ContainerStore, HealthConfig,
    MountSummary, RestartPolicy, StorageDirs, new_container_id,
};
use crate::timestamp::{format_rfc3339_nanos, parse_go_duration};

/// `--health-*` flags; `None` fields fall back to the image's HEALTHCHECK,
/// then to docker's defaults.
#[derive(Debug, Clone, Default)]
pub struct HealthRequest {
    pub cmd: Option<String>,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub start_period: Option<String>,
    pub retries: Option<u32>,
    /// `--no-healthcheck`: ignore the image's HEALTHCHECK.
    pub disabled: bool,
}

/// Everything `skiff create`/`run` was asked, as the user spelled it.
#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    pub image: String,
    pub command: Vec<String>,
    pub entrypoint: Option<String>,
    pub env: Vec<String>,
    pub env_files: Vec<PathBuf>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub name: Option<String>,
    pub volumes: Vec<String>,
    pub tmpfs: Vec<String>,
    pub network: NetworkMode,
    pub interactive: bool,
    pub tty: bool,
    pub remove: bool,
    pub restart: Option<String>,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<u32>,
    pub health: HealthRequest,
    /// `--log-opt max-size=…` in bytes.
    pub log_max_size: Option<u64>,
    pub init: bool,
    pub labels: Vec<String>,
    /// `--pull`, and how to pull (`--platform`, `--tls-verify`, …).
    pub pull: PullPolicy,
    pub pull_options: PullOptions,
    /// `--memory`, `--cpus`, `--pids-limit`, `--cgroups`, … as given.
    pub resources: ResourceRequest,
}

const DEFAULT_HEALTH_INTERVAL_NS: u64 = 30_000_000_000;
const DEFAULT_HEALTH_TIMEOUT_NS: u64 = 30_000_000_000;
const DEFAULT_HEALTH_RETRIES: u32 = 3;
const DEFAULT_STOP_TIMEOUT: u32 = 10;

fn image_defaults(image: &LocalImage) -> ImageDefaults {
    let config = image.config.config().clone().unwrap_or_default();
    ImageDefaults {
        entrypoint: config.entrypoint().clone().unwrap_or_default(),
        cmd: config.cmd().clone().unwrap_or_default(),
        env: config.env().clone().unwrap_or_default(),
        workdir: config.working_dir().clone(),
    }
}

/// Reads a file of the image as the container would see it: from the
/// topmost layer that has it, stopping at a whiteout.
fn read_image_file(layer_dirs: &[PathBuf], path: &str) -> Option<String> {
    for dir in layer_dirs.iter().rev() {
        let candidate = dir.join(path);
        match fs::symlink_metadata(&candidate) {
            Ok(meta) if meta.is_file() => return fs::read_to_string(candidate).ok(),
            Ok(_) => return None,
            Err(_) => continue,
        }
    }
    None
}

fn duration_ns(flag: &str, value: &Option<String>, fallback: u64) -> Result<u64, EngineError> {
    match value {
        None => Ok(fallback),
        Some(text) => parse_go_duration(text)
            .map(|d| d.as_nanos() as u64)
            .ok_or_else(|| {
                EngineError::Invalid(format!(
                    "invalid {flag} \"{text}\": expected a duration such as 30s or 1m30s"
                ))
            }),
    }
}

/// The healthcheck the container gets: flags over the image's, none when
/// disabled or when the test is `NONE`.
fn plan_healthcheck(
    req: &HealthRequest,
    image: &LocalImage,
) -> Result<Option<HealthConfig>, EngineError> {
    if req.disabled {
        return Ok(None);
    }
    let from_image = image.healthcheck.clone().unwrap_or_default();
    let test = match &req.cmd {
        Some(cmd) if cmd == "none" || cmd.is_empty() => return Ok(None),
        // A JSON array is exec form; anything else runs through the shell.
        Some(cmd) => match serde_json::from_str::<Vec<String>>(cmd) {
            Ok(args) if !args.is_empty() => {
                let mut test = vec!["CMD".to_string()];
                test.extend(args);
                test
            }
            _ => vec!["CMD-SHELL".to_string(), cmd.clone()],
        },
        None => from_image.test.clone(),
    };
    if test.is_empty() || test[0] == "NONE" {
        return Ok(None);
    }
    let or_default = |v: u64, d: u64| if v == 0 { d } else { v };
    Ok(Some(HealthConfig {
        test,
        interval_ns: duration_ns(
            "--health-interval",
            &req.interval,
            or_default(from_image.interval, DEFAULT_HEALTH_INTERVAL_NS),
        )?,
        timeout_ns: duration_ns(
            "--health-timeout",
            &req.timeout,
            or_default(from_image.timeout, DEFAULT_HEALTH_TIMEOUT_NS),
        )?,
        start_period_ns: duration_ns(
            "--health-start-period",
            &req.start_period,
            from_image.start_period,
        )?,
        retries: req.retries.unwrap_or(if from_image.retries == 0 {
            DEFAULT_HEALTH_RETRIES
        } else {
            from_image.retries
        }),
    }))
}

fn parse_labels(labels: &[String]) -> Result<BTreeMap<String, String>, EngineError> {
    labels
        .iter()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            if k.is_empty() {
                Err(EngineError::Invalid(format!(
                    "invalid label \"{l}\": empty key"
                )))
            } else {
                Ok((k.to_string(), v.to_string()))
            }
        })
        .collect()
}

fn mount_summaries(mounts: &[MountRequest]) -> Vec<MountSummary> {
    mounts
        .iter()
        .map(|m| match m {
            MountRequest::Bind {
                source,
                destination,
                read_only,
            } => MountSummary {
                kind: "bind".into(),
                source: source.display().to_string(),
                destination: destination.clone(),
                read_write: !read_only,
            },
            MountRequest::Tmpfs { destination, .. } => MountSummary {
                kind: "tmpfs".into(),
                source: "tmpfs".into(),
                destination: destination.clone(),
                read_write: true,
            },
        })
        .collect()
}

/// The files `prepare_run_dir` writes for a container under the runroot.
pub(super) fn etc_files(paths: &ContainerPaths) -> EtcFiles {
    EtcFiles {
        hosts: paths.run_dir.join("hosts"),
        resolv_conf: paths.run_dir.join("resolv.conf"),
        hostname: paths.run_dir.join("hostname"),
    }
}

/// A container just created, with what starting it needs already in
/// memory (a foreground `run` does not read it back from disk).
pub struct CreatedContainer {
    pub record: ContainerRecord,
    pub paths: ContainerPaths,
    pub spec: Spec,
    pub layer_dirs: Vec<PathBuf>,
}

/// Creates a container: its record (status `created`), its runtime spec
/// in `config.json`, and its upper and work directories.
pub fn create_container(
    dirs: &StorageDirs,
    req: &RunRequest,
) -> Result<CreatedContainer, EngineError> {
    // Input first: a bad flag must not leave anything behind.
    let mut mounts = req
        .volumes
        .iter()
        .map(|v| parse_volume(v))
        .collect::<Result<Vec<_>, _>>()?;
    mounts.extend(
        req.tmpfs
            .iter()
            .map(|t| parse_tmpfs(t))
            .collect::<Result<Vec<_>, _>>()?,
    );
    let env = parse_env_entries(&req.env_files, &req.env)?;
    let restart = RestartPolicy::parse(req.restart.as_deref().unwrap_or("no"))?;
    if req.remove && restart != RestartPolicy::No {
        return Err(EngineError::Invalid(
            "the --rm option conflicts with --restart (other than \"no\")".into(),
        ));
    }
    let labels = parse_labels(&req.labels)?;
    let resources = plan_resources(&req.resources)?;
    let cgroups_disabled = !cgroups_enabled(&req.resources)?;
    check_cgroup_parent(&req.resources.cgroup_parent)?;

    let store = Store::open(&dirs.root)?;
    let image = image_for_run(dirs, &store, &req.image, req.pull, &req.pull_options)?;
    let defaults = image_defaults(&image);
    let image_config = image.config.config().clone().unwrap_or_default();
    let stop_signal = match req
        .stop_signal
        .as_ref()
        .or(image_config.stop_signal().as_ref())
    {
        Some(text) => signal_name(parse_signal(text)?),
        None => "SIGTERM".to_string(),
    };
    let healthcheck = plan_healthcheck(&req.health, &image)?;
    let user_spec = req
        .user
        .clone()
        .or(image_config.user().clone())
        .unwrap_or_default();
    let user = resolve_user(
        &user_spec,
        read_image_file(&image.layer_dirs, "etc/passwd").as_deref(),
        read_image_file(&image.layer_dirs, "etc/group").as_deref(),
    )?;
    let id_mappings = if is_rootless() {
        let maps = caller_mappings();
        if let Some(warning) = &maps.warning {
            eprintln!("warning: {warning}");
        }
        Some((maps.uids, maps.gids))
    } else {
        None
    };

    let id = new_container_id();
    let hostname = req.hostname.clone().unwrap_or_else(|| id[..12].to_string());
    let containers = ContainerStore::new(dirs);
    let paths = containers.paths(&id);
    let plan = RunPlan {
        rootfs: paths.run_dir.join("merged"),
        command: req.command.clone(),
        entrypoint: req.entrypoint.clone(),
        env,
        workdir: req.workdir.clone(),
        user,
        hostname: hostname.clone(),
        tty: req.tty,
        mounts: mounts.clone(),
        private_network: req.network.is_private(),
        id_mappings,
        etc_files: etc_files(&paths),
        resources,
        cgroup_namespace: !cgroups_disabled && unified_host(),
    };
    let spec = build_spec(&defaults, &plan)?;
    super::cgroup::check_limits(&spec, cgroups_disabled)?;
    let process = spec.process().as_ref().expect("planned spec has a process");
    // docker's rules, as build_spec applies them, kept apart for inspect.
    let entrypoint = match &req.entrypoint {
        Some(e) if e.is_empty() => Vec::new(),
        Some(e) => vec![e.clone()],
        None => defaults.entrypoint.clone(),
    };
    let cmd = if !req.command.is_empty() {
        req.command.clone()
    } else if req.entrypoint.is_some() {
        Vec::new()
    } else {
        defaults.cmd.clone()
    };

    let mut record = ContainerRecord {
        id: id.clone(),
        name: String::new(),
        image: req.image.clone(),
        image_id: image.id.to_string(),
        created: format_rfc3339_nanos(std::time::SystemTime::now()),
        config: ContainerConfig {
            args: process.args().clone().unwrap_or_default(),
            entrypoint,
            cmd,
            env: process.env().clone().unwrap_or_default(),
            workdir: process.cwd().display().to_string(),
            user: user_spec,
            hostname,
            network: req.network.to_string(),
            tty: req.tty,
            interactive: req.interactive,
            auto_remove: req.remove,
            restart,
            stop_signal,
            stop_timeout: req.stop_timeout.unwrap_or(DEFAULT_STOP_TIMEOUT),
            healthcheck,
            log_max_size: req.log_max_size,
            init: req.init,
            labels,
            mounts: mount_summaries(&mounts),
            cgroups_disabled,
            cgroup_parent: req.resources.cgroup_parent.clone(),
        },
        state: ContainerState::default(),
    };
    let paths = containers.create(&mut record, req.name.as_deref())?;
    let written = (|| {
        let json = serde_json::to_vec_pretty(&spec).expect("runtime spec serializes");
        fs::write(paths.spec_file(), json).map_err(EngineError::io("writing config.json"))?;
        for sub in ["upper", "work"] {
            let dir = paths.dir.join(sub);
            fs::create_dir_all(&dir)
                .map_err(EngineError::io(format!("creating {}", dir.display())))?;
        }
        Ok(())
    })();
    if let Err(err) = written {
        containers.forget(&record);
        let _ = fs::remove_dir_all(&paths.dir);
        return Err(err);
    }
    Ok(CreatedContainer {
        record,
        paths,
        spec,
        layer_dirs: image.layer_dirs,
    })
}
