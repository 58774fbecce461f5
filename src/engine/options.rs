//! One container as the user asked for it, checked and typed before
//! anything is created. The CLI fills a `RunRequest` with the flags as
//! spelled and `ContainerOptions::from_request` is the one parser that
//! turns it into `ContainerOptions`; a front-end that already has typed
//! values (compose) fills `ContainerOptions` itself. `create_container`
//! takes only the typed form.

use std::collections::BTreeMap;
use std::path::PathBuf;

use oci_spec::runtime::LinuxResources;

use super::EngineError;
use super::input::parse_env_entries;
use super::mounts::{
    check_distinct_destinations, parse_mount_flag, parse_tmpfs_flag, parse_volume_flag,
};
use super::net_options::{NetRequest, parse_net_request};
use super::process_options::{ProcessRequest, parse_process_request};
use super::pull::{PullOptions, PullPolicy};
use super::resources::{ResourceRequest, cgroups_enabled, check_cgroup_parent, plan_resources};
use super::secrets::{SecretOption, parse_secret_flag};
use super::security_options::{SecurityOptions, SecurityRequest, parse_security};
use super::signals::{parse_signal, signal_name};
use crate::net::{NetworkConfig, NetworkMode};
use crate::sandbox::settings::ProcessSettings;
use crate::state::{MountSpec, RestartPolicy};
use crate::timestamp::parse_go_duration;

/// `--health-*` flags as spelled; `None` fields fall back to the image's
/// HEALTHCHECK, then to docker's defaults.
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
    /// `--mount` values.
    pub mounts: Vec<String>,
    pub tmpfs: Vec<String>,
    /// `--volumes-from CONTAINER[:ro|rw]`.
    pub volumes_from: Vec<String>,
    /// `--network`, `-p`, `--dns`, … as given.
    pub network: NetRequest,
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
    /// `--ulimit`, `--umask`, `--tz`, `--shm-size`, `--sysctl`, `--pid`,
    /// `--ipc`, `--uts`, `--cgroupns` as given.
    pub process: ProcessRequest,
    /// `--cap-add`, `--privileged`, `--read-only`, `--device`, … as given.
    pub security: SecurityRequest,
    /// `--secret` values.
    pub secrets: Vec<String>,
}

/// A healthcheck as asked for; `None` fields come from the image's
/// HEALTHCHECK, then docker's defaults. Durations in nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthOptions {
    /// `--no-healthcheck`, or a test of `NONE`: no healthcheck at all.
    pub disabled: bool,
    /// `["CMD", arg…]` or `["CMD-SHELL", line]`.
    pub test: Option<Vec<String>>,
    pub interval_ns: Option<u64>,
    pub timeout_ns: Option<u64>,
    pub start_period_ns: Option<u64>,
    pub retries: Option<u32>,
}

/// One container to create, every choice checked and typed.
#[derive(Debug, Clone, Default)]
pub struct ContainerOptions {
    pub image: String,
    pub pull: PullPolicy,
    pub pull_options: PullOptions,
    pub name: Option<String>,
    /// Arguments after the image (replace its CMD when non-empty).
    pub command: Vec<String>,
    /// `Some("")` clears the image's ENTRYPOINT.
    pub entrypoint: Option<String>,
    /// `KEY=VALUE` entries, env files first, in order.
    pub env: Vec<String>,
    pub workdir: Option<String>,
    /// `user[:group]`; `None` takes the image's USER.
    pub user: Option<String>,
    pub hostname: Option<String>,
    /// `-v`, `--mount` and `--tmpfs`, in that order; no two on one
    /// destination.
    pub mounts: Vec<MountSpec>,
    /// Containers whose volumes and binds this one mounts too, with
    /// `Some(read_only)` when `:ro`/`:rw` overrides theirs.
    pub volumes_from: Vec<(String, Option<bool>)>,
    pub network: NetworkMode,
    /// The networks, ports, DNS and hosts flags (`NetworkMode::Bridge`:
    /// which networks).
    pub net: NetworkConfig,
    /// `-P`: publish every exposed port (the image's too) on a free port.
    pub publish_all: bool,
    pub interactive: bool,
    pub tty: bool,
    /// `--rm`.
    pub auto_remove: bool,
    pub restart: RestartPolicy,
    /// A canonical signal name (`SIGTERM`); `None` takes the image's.
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<u32>,
    pub health: HealthOptions,
    pub log_max_size: Option<u64>,
    pub init: bool,
    pub labels: BTreeMap<String, String>,
    /// cgroup limits; `None` for none.
    pub limits: Option<LinuxResources>,
    /// `--cgroups=disabled`: no cgroup of its own.
    pub cgroups_disabled: bool,
    pub cgroup_parent: Option<String>,
    /// rlimits, umask, /dev/shm size, sysctls, time zone, namespaces
    /// shared with the host.
    pub settings: ProcessSettings,
    /// `--security-opt seccomp=…`, `no-new-privileges`: the filter and
    /// no_new_privs.
    pub seccomp: super::security_opts::SeccompOptions,
    /// Capabilities, `--privileged`, `--read-only`, masks, devices.
    pub security: SecurityOptions,
    /// `--secret`: which secrets, how (found in the store at create).
    pub secrets: Vec<SecretOption>,
    /// `--userns keep-id|nomap|auto`, `--uidmap`/`--gidmap`, and the
    /// `--userns` text as given (for `inspect`).
    pub userns: super::userns_modes::UsernsRequest,
    pub userns_text: String,
    /// The image's VOLUMEs get no anonymous volume: a build's RUN step
    /// writes into them as into any directory (BuildKit keeps them).
    pub ignore_image_volumes: bool,
    /// Rootless with the default mapping: enter the store owner's user
    /// namespace, made once per process and held (`images::owner_userns`),
    /// instead of a new one mapped by `newuidmap`/`newgidmap` (two setuid
    /// execs). A build's RUN steps, whose layers that namespace stores.
    pub owner_userns: bool,
}

impl ContainerOptions {
    /// Checks every flag of `req`; the first bad one is the error, and
    /// nothing has been created.
    pub fn from_request(req: &RunRequest) -> Result<ContainerOptions, EngineError> {
        let mut mounts = Vec::new();
        for volume in &req.volumes {
            mounts.push(parse_volume_flag(volume)?);
        }
        for mount in &req.mounts {
            mounts.push(parse_mount_flag(mount)?);
        }
        for tmpfs in &req.tmpfs {
            mounts.push(parse_tmpfs_flag(tmpfs)?);
        }
        check_distinct_destinations(&mounts)?;
        let volumes_from = req
            .volumes_from
            .iter()
            .map(|from| parse_volumes_from(from))
            .collect::<Result<_, _>>()?;
        let restart = RestartPolicy::parse(req.restart.as_deref().unwrap_or("no"))?;
        if req.remove && restart != RestartPolicy::No {
            return Err(EngineError::Invalid(
                "the --rm option conflicts with --restart (other than \"no\")".into(),
            ));
        }
        check_cgroup_parent(&req.resources.cgroup_parent)?;
        let userns = super::userns_modes::parse_userns_request(
            req.process.userns.as_deref(),
            &req.process.uidmap,
            &req.process.gidmap,
        )?;
        let own_mapping = userns != super::userns_modes::UsernsRequest::Default;
        let (network, net) = parse_net_request(&req.network, own_mapping)?;
        let settings = parse_process_request(&req.process, network.is_private())?;
        check_hostname_is_own(req, &network, &settings)?;
        Ok(ContainerOptions {
            image: req.image.clone(),
            pull: req.pull,
            pull_options: req.pull_options.clone(),
            name: req.name.clone(),
            command: req.command.clone(),
            entrypoint: req.entrypoint.clone(),
            env: parse_env_entries(&req.env_files, &req.env)?,
            workdir: req.workdir.clone(),
            user: req.user.clone(),
            hostname: req.hostname.clone(),
            mounts,
            volumes_from,
            network,
            net,
            publish_all: req.network.publish_all,
            interactive: req.interactive,
            tty: req.tty,
            auto_remove: req.remove,
            restart,
            stop_signal: req
                .stop_signal
                .as_deref()
                .map(|s| parse_signal(s).map(signal_name))
                .transpose()?,
            stop_timeout: req.stop_timeout,
            health: parse_health(&req.health)?,
            log_max_size: req.log_max_size,
            init: req.init,
            labels: parse_labels(&req.labels)?,
            limits: plan_resources(&req.resources)?,
            cgroups_disabled: !cgroups_enabled(&req.resources)?,
            cgroup_parent: req.resources.cgroup_parent.clone(),
            settings,
            seccomp: super::security_opts::SeccompOptions::parse(&req.security.security_opt)?,
            security: parse_security(&req.security)?,
            secrets: req
                .secrets
                .iter()
                .map(|s| parse_secret_flag(s))
                .collect::<Result<_, _>>()?,
            userns,
            userns_text: req.process.userns.clone().unwrap_or_default(),
            ignore_image_volumes: false,
            owner_userns: false,
        })
    }
}

/// A container on another's network or UTS namespace answers to that
/// one's hostname: `--hostname` is refused there, as docker does.
fn check_hostname_is_own(
    req: &RunRequest,
    network: &NetworkMode,
    settings: &ProcessSettings,
) -> Result<(), EngineError> {
    use crate::sandbox::joined_namespaces::JoinKind;
    let shared = if network.container().is_some() {
        Some("--network")
    } else {
        settings
            .joins
            .iter()
            .find(|(kind, _)| *kind == JoinKind::Uts)
            .map(|_| "--uts")
    };
    match (shared, &req.hostname) {
        (Some(flag), Some(_)) => Err(EngineError::Invalid(format!(
            "conflicting options: --hostname and {flag} container:NAME (the hostname is the other container's)"
        ))),
        // It is written into the container's and its peers' hosts files.
        (None, Some(name)) if !crate::net::hosts::is_valid_host_name(name) || name.len() > 64 => {
            Err(EngineError::Invalid(format!(
                "invalid --hostname \"{}\": use letters, digits, '-', '_' and '.', at most 64 characters",
                name.escape_debug()
            )))
        }
        _ => Ok(()),
    }
}

/// `--volumes-from CONTAINER[:ro|rw]`.
fn parse_volumes_from(text: &str) -> Result<(String, Option<bool>), EngineError> {
    let (name, mode) = match text.rsplit_once(':') {
        Some((name, "ro")) => (name, Some(true)),
        Some((name, "rw")) => (name, Some(false)),
        Some((_, other)) => {
            return Err(EngineError::Invalid(format!(
                "invalid --volumes-from \"{text}\": unknown mode \"{other}\" (use ro or rw)"
            )));
        }
        None => (text, None),
    };
    if name.is_empty() {
        return Err(EngineError::Invalid(format!(
            "invalid --volumes-from \"{text}\": no container named"
        )));
    }
    Ok((name.to_string(), mode))
}

fn duration_ns(flag: &str, value: &Option<String>) -> Result<Option<u64>, EngineError> {
    value
        .as_deref()
        .map(|text| {
            parse_go_duration(text)
                .map(|d| d.as_nanos() as u64)
                .ok_or_else(|| {
                    EngineError::Invalid(format!(
                        "invalid {flag} \"{text}\": expected a duration such as 30s or 1m30s"
                    ))
                })
        })
        .transpose()
}

fn parse_health(req: &HealthRequest) -> Result<HealthOptions, EngineError> {
    let test = req.cmd.as_ref().map(|cmd| {
        if cmd == "none" || cmd.is_empty() {
            return vec!["NONE".to_string()];
        }
        // A JSON array is exec form; anything else runs through the shell.
        match serde_json::from_str::<Vec<String>>(cmd) {
            Ok(args) if !args.is_empty() => {
                std::iter::once("CMD".to_string()).chain(args).collect()
            }
            _ => vec!["CMD-SHELL".to_string(), cmd.clone()],
        }
    });
    Ok(HealthOptions {
        disabled: req.disabled,
        test,
        interval_ns: duration_ns("--health-interval", &req.interval)?,
        timeout_ns: duration_ns("--health-timeout", &req.timeout)?,
        start_period_ns: duration_ns("--health-start-period", &req.start_period)?,
        retries: req.retries,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn request(image: &str) -> RunRequest {
        RunRequest {
            image: image.into(),
            ..RunRequest::default()
        }
    }

    #[test]
    fn flags_become_typed_values() {
        let req = RunRequest {
            volumes: vec!["/tmp:/src:ro".into()],
            mounts: vec!["source=v1,target=/v".into()],
            tmpfs: vec!["/scratch".into()],
            volumes_from: vec!["db:ro".into(), "web".into()],
            restart: Some("on-failure:3".into()),
            stop_signal: Some("kill".into()),
            labels: vec!["a=1".into(), "b".into()],
            health: HealthRequest {
                cmd: Some(r#"["true", "x"]"#.into()),
                interval: Some("1m30s".into()),
                ..HealthRequest::default()
            },
            ..request("busybox")
        };
        let options = ContainerOptions::from_request(&req).unwrap();
        assert_eq!(options.mounts.len(), 3);
        assert_eq!(
            options.volumes_from,
            [("db".to_string(), Some(true)), ("web".to_string(), None)]
        );
        assert_eq!(options.restart, RestartPolicy::OnFailure { max_retries: 3 });
        assert_eq!(options.stop_signal.as_deref(), Some("SIGKILL"));
        assert_eq!(options.labels["a"], "1");
        assert_eq!(options.labels["b"], "");
        assert_eq!(
            options.health.test,
            Some(vec!["CMD".into(), "true".into(), "x".into()])
        );
        assert_eq!(options.health.interval_ns, Some(90_000_000_000));
        assert!(!options.cgroups_disabled);
    }

    #[test]
    fn shell_and_none_health_commands() {
        let parse = |cmd: &str| {
            parse_health(&HealthRequest {
                cmd: Some(cmd.into()),
                ..HealthRequest::default()
            })
            .unwrap()
            .test
            .unwrap()
        };
        assert_eq!(parse("curl -f x"), vec!["CMD-SHELL", "curl -f x"]);
        assert_eq!(parse("none"), vec!["NONE"]);
    }

    #[test]
    fn each_bad_flag_is_refused_by_name() {
        let cases: [(RunRequest, &str); 8] = [
            (
                RunRequest {
                    volumes: vec!["a1:/d".into()],
                    tmpfs: vec!["/d".into()],
                    ..request("i")
                },
                "duplicate mount destination",
            ),
            (
                RunRequest {
                    volumes_from: vec!["db:rx".into()],
                    ..request("i")
                },
                "db:rx",
            ),
            (
                RunRequest {
                    restart: Some("sometimes".into()),
                    ..request("i")
                },
                "sometimes",
            ),
            (
                RunRequest {
                    remove: true,
                    restart: Some("always".into()),
                    ..request("i")
                },
                "--rm",
            ),
            (
                RunRequest {
                    stop_signal: Some("SIGNOPE".into()),
                    ..request("i")
                },
                "SIGNOPE",
            ),
            (
                RunRequest {
                    labels: vec!["=v".into()],
                    ..request("i")
                },
                "=v",
            ),
            (
                RunRequest {
                    health: HealthRequest {
                        timeout: Some("soon".into()),
                        ..HealthRequest::default()
                    },
                    ..request("i")
                },
                "--health-timeout",
            ),
            (
                RunRequest {
                    volumes: vec!["rel/ative:/x".into()],
                    ..request("i")
                },
                "rel/ative:/x",
            ),
        ];
        for (req, subject) in cases {
            let err = ContainerOptions::from_request(&req)
                .unwrap_err()
                .to_string();
            assert!(err.contains(subject), "{subject}: {err}");
        }
    }
}
