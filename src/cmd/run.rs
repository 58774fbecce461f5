//! `skiff run`, `create`, `start`, `attach`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use skiff::engine::attach::attach_connected;
use skiff::engine::lifecycle::{start_container, start_container_with};
use skiff::engine::security_options::SecurityRequest;
use skiff::engine::selection::{AllScope, ContainerSelection};
use skiff::engine::{
    AttachOptions, ContainerOptions, HealthRequest, RunRequest, attach_container, create_container,
    run_container, run_detached,
};
use skiff::net::NetworkMode;
use skiff::state::StorageDirs;

use super::containers::{ENGINE_CODES, each, parse_filters};
use super::report::StderrReporter;

/// The flags `run` and `create` share.
#[derive(Args)]
pub struct ContainerFlags {
    /// Remove the container when it exits
    #[arg(long)]
    rm: bool,
    /// Keep STDIN open and stream it to the container
    #[arg(short, long)]
    interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    tty: bool,
    /// Assign a name to the container
    #[arg(long)]
    name: Option<String>,
    /// Set environment variables (KEY=VALUE, or KEY to pass skiff's own)
    #[arg(short, long = "env", value_name = "ENV", allow_hyphen_values = true)]
    env: Vec<String>,
    /// Read environment variables from a file
    #[arg(long = "env-file", value_name = "FILE")]
    env_file: Vec<PathBuf>,
    /// Working directory inside the container
    #[arg(short, long)]
    workdir: Option<String>,
    /// Username or UID, optionally with group or GID (user[:group])
    #[arg(short, long)]
    user: Option<String>,
    /// Container host name
    #[arg(short = 'h', long)]
    hostname: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long, allow_hyphen_values = true)]
    entrypoint: Option<String>,
    /// Mount a volume or host path: [NAME|/HOST/PATH:]DST[:ro,rw,z,Z,U,nocopy]
    #[arg(short, long = "volume", value_name = "[SRC:]DST[:OPTS]")]
    volume: Vec<String>,
    /// Mount: type=bind|volume|tmpfs,source=…,target=…[,readonly][,…]
    #[arg(long, value_name = "type=…,source=…,target=…")]
    mount: Vec<String>,
    /// Mount a tmpfs: DST[:OPTS]
    #[arg(long, value_name = "DST[:OPTS]")]
    tmpfs: Vec<String>,
    /// Mount the volumes and binds of another container: CTR[:ro|rw]
    #[arg(long = "volumes-from", value_name = "CTR[:ro|rw]")]
    volumes_from: Vec<String>,
    /// Network mode: none (default), host or container:NAME
    #[arg(long, visible_alias = "net", default_value = "none")]
    network: NetworkMode,
    /// Restart policy: no, always, on-failure[:N], unless-stopped
    #[arg(long)]
    restart: Option<String>,
    /// Signal that stops the container (default: the image's, else SIGTERM)
    #[arg(long = "stop-signal")]
    stop_signal: Option<String>,
    /// Seconds to wait for the stop signal before SIGKILL (default 10)
    #[arg(long = "stop-timeout")]
    stop_timeout: Option<u32>,
    /// Command to check health ('CMD-SHELL' form, or a JSON array)
    #[arg(long = "health-cmd", allow_hyphen_values = true)]
    health_cmd: Option<String>,
    /// Time between health checks (e.g. 30s)
    #[arg(long = "health-interval")]
    health_interval: Option<String>,
    /// Consecutive failures before the container is unhealthy
    #[arg(long = "health-retries")]
    health_retries: Option<u32>,
    /// Time a health check may take
    #[arg(long = "health-timeout")]
    health_timeout: Option<String>,
    /// Time after start during which failures do not count
    #[arg(long = "health-start-period")]
    health_start_period: Option<String>,
    /// Disable the image's HEALTHCHECK
    #[arg(long = "no-healthcheck")]
    no_healthcheck: bool,
    /// Log options: max-size=SIZE (k8s-file log rotation)
    #[arg(long = "log-opt", value_name = "OPT", allow_hyphen_values = true)]
    log_opt: Vec<String>,
    /// Run a minimal init as PID 1 that forwards signals and reaps zombies
    #[arg(long)]
    init: bool,
    /// Set metadata on the container (KEY=VALUE)
    #[arg(short, long = "label", allow_hyphen_values = true)]
    label: Vec<String>,
    /// Write the container ID to this file
    #[arg(long)]
    cidfile: Option<PathBuf>,
    #[command(flatten)]
    pull: super::registry::RunPullFlags,
    #[command(flatten)]
    resources: super::resources::ResourceFlags,
    #[command(flatten)]
    process: super::process_flags::ProcessFlags,
    /// Add Linux capabilities (NAME, CAP_NAME or ALL)
    #[arg(long = "cap-add", value_name = "CAP")]
    cap_add: Vec<String>,
    /// Drop Linux capabilities (NAME, CAP_NAME or ALL)
    #[arg(long = "cap-drop", value_name = "CAP")]
    cap_drop: Vec<String>,
    /// Give extended privileges: all capabilities, devices, no masks
    #[arg(long)]
    privileged: bool,
    /// Mount the container's root filesystem read-only
    #[arg(long = "read-only")]
    read_only: bool,
    /// With --read-only: tmpfs on /tmp, /var/tmp and /run (default true)
    #[arg(long = "read-only-tmpfs", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_name = "BOOL")]
    read_only_tmpfs: Option<bool>,
    /// Security options: seccomp=unconfined|PROFILE.json,
    /// no-new-privileges[=true|false], mask=PATH[:PATH…], unmask=ALL|PATH[:PATH…]
    #[arg(long = "security-opt", value_name = "OPT")]
    security_opt: Vec<String>,
    /// Add a host device: HOST[:CONTAINER][:PERMISSIONS]
    #[arg(long, value_name = "HOST[:CONTAINER][:PERMS]")]
    device: Vec<String>,
    /// Allow devices in the device cgroup: 'TYPE MAJOR:MINOR ACCESS' (root)
    #[arg(long = "device-cgroup-rule", value_name = "RULE")]
    device_cgroup_rule: Vec<String>,
    /// Add supplementary groups: GID, NAME, or keep-groups
    #[arg(long = "group-add", value_name = "GROUP")]
    group_add: Vec<String>,
    /// Give the container a secret: NAME[,type=mount|env][,target=…][,uid=…][,gid=…][,mode=…]
    #[arg(long = "secret", value_name = "SECRET[,OPT=…]")]
    secret: Vec<String>,
    /// Print help
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// Image to run
    image: String,
    /// Command and arguments (replace the image's CMD)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

#[derive(Args)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Run in the background and print the container ID
    #[arg(short, long)]
    detach: bool,
    /// Forward received signals to the container (off: they end skiff,
    /// and a container skiff runs without a monitor with it)
    #[arg(long = "sig-proxy", default_value_t = true, action = clap::ArgAction::Set)]
    sig_proxy: bool,
    #[command(flatten)]
    flags: ContainerFlags,
}

#[derive(Args)]
#[command(disable_help_flag = true)]
pub struct CreateArgs {
    #[command(flatten)]
    flags: ContainerFlags,
}

#[derive(Args)]
pub struct StartArgs {
    /// Start every created or stopped container
    #[arg(long)]
    all: bool,
    /// Attach to the container's output (and wait for it)
    #[arg(short, long)]
    attach: bool,
    /// Keys that detach from the container
    #[arg(long = "detach-keys")]
    detach_keys: Option<String>,
    /// Start the containers these select (same filters as `ps`)
    #[arg(short, long = "filter", value_name = "FILTER")]
    filter: Vec<String>,
    /// Attach stdin too
    #[arg(short, long)]
    interactive: bool,
    /// Start the latest created container
    #[arg(short, long)]
    latest: bool,
    /// Forward received signals to the container (default: when attaching)
    #[arg(long = "sig-proxy", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_name = "BOOL")]
    sig_proxy: Option<bool>,
    containers: Vec<String>,
}

#[derive(Args)]
pub struct AttachArgs {
    /// Do not attach stdin
    #[arg(long = "no-stdin")]
    no_stdin: bool,
    /// Forward received signals to the container
    #[arg(long = "sig-proxy", default_value_t = true, action = clap::ArgAction::Set)]
    sig_proxy: bool,
    /// Keys that detach from the container
    #[arg(long = "detach-keys")]
    detach_keys: Option<String>,
    container: String,
}

/// `10m`, `512k`, `1g`, or plain bytes.
fn parse_size(text: &str) -> anyhow::Result<u64> {
    skiff::units::parse_byte_size(text)
        .ok_or_else(|| anyhow::anyhow!("invalid size \"{text}\": use a number with k, m or g"))
}

fn request(flags: ContainerFlags) -> anyhow::Result<(ContainerOptions, Option<PathBuf>)> {
    let mut log_max_size = None;
    for opt in &flags.log_opt {
        match opt.split_once('=') {
            Some(("max-size", size)) => log_max_size = Some(parse_size(size)?),
            // podman's k8s-file accepts these; the path stays ours.
            Some(("max-file", _)) => {}
            _ => anyhow::bail!("invalid log option \"{opt}\": supported is max-size=SIZE"),
        }
    }
    let (pull, pull_options) = flags.pull.policy()?;
    let req = RunRequest {
        pull,
        pull_options,
        image: flags.image,
        command: flags.command,
        entrypoint: flags.entrypoint,
        env: flags.env,
        env_files: flags.env_file,
        workdir: flags.workdir,
        user: flags.user,
        hostname: flags.hostname,
        name: flags.name,
        volumes: flags.volume,
        mounts: flags.mount,
        tmpfs: flags.tmpfs,
        volumes_from: flags.volumes_from,
        network: flags.network,
        interactive: flags.interactive,
        tty: flags.tty,
        remove: flags.rm,
        restart: flags.restart,
        stop_signal: flags.stop_signal,
        stop_timeout: flags.stop_timeout,
        health: HealthRequest {
            cmd: flags.health_cmd,
            interval: flags.health_interval,
            timeout: flags.health_timeout,
            start_period: flags.health_start_period,
            retries: flags.health_retries,
            disabled: flags.no_healthcheck,
        },
        log_max_size,
        init: flags.init,
        labels: flags.label,
        resources: flags.resources.request(),
        process: flags.process.request(),
        security: SecurityRequest {
            cap_add: flags.cap_add,
            cap_drop: flags.cap_drop,
            privileged: flags.privileged,
            read_only: flags.read_only,
            read_only_tmpfs: flags.read_only_tmpfs,
            security_opt: flags.security_opt,
            devices: flags.device,
            device_cgroup_rules: flags.device_cgroup_rule,
            group_add: flags.group_add,
        },
        secrets: flags.secret,
    };
    Ok((ContainerOptions::from_request(&req)?, flags.cidfile))
}

/// `--cidfile`: refuses an existing file, like docker.
fn check_cidfile(path: &Option<PathBuf>) -> anyhow::Result<()> {
    if let Some(p) = path
        && p.exists()
    {
        anyhow::bail!("container id file {} exists: file exists", p.display());
    }
    Ok(())
}

fn write_cidfile(path: &Option<PathBuf>, id: &str) -> anyhow::Result<()> {
    if let Some(p) = path {
        std::fs::write(p, id).with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(())
}

pub fn run(dirs: &StorageDirs, args: RunArgs) -> anyhow::Result<i32> {
    let (req, cidfile) = request(args.flags)?;
    check_cidfile(&cidfile)?;
    if args.detach {
        let id = run_detached(dirs, &req, &StderrReporter)?;
        write_cidfile(&cidfile, &id)?;
        println!("{id}");
        return Ok(0);
    }
    if cidfile.is_some() {
        // The ID exists only once the container is created; a foreground
        // run writes it through create + start -a.
        let created = create_container(dirs, &req, &StderrReporter)?;
        write_cidfile(&cidfile, &created.record.id)?;
        let options = AttachOptions {
            stdin: req.interactive,
            sig_proxy: args.sig_proxy,
            ..AttachOptions::default()
        };
        return start_attached(dirs, &created.record.id, &options);
    }
    Ok(run_container(dirs, &req, args.sig_proxy, &StderrReporter)?)
}

/// Starts with the attach connection made first, so no output is missed;
/// a container that already runs is attached to as it is.
fn start_attached(dirs: &StorageDirs, name: &str, options: &AttachOptions) -> anyhow::Result<i32> {
    let (record, socket) = start_container_with(dirs, name, true, &StderrReporter)?;
    Ok(match socket {
        Some(socket) => attach_connected(dirs, &record, socket, options)?,
        None => attach_container(dirs, &record.id, options)?,
    })
}

pub fn create(dirs: &StorageDirs, args: CreateArgs) -> anyhow::Result<i32> {
    let (req, cidfile) = request(args.flags)?;
    check_cidfile(&cidfile)?;
    let created = create_container(dirs, &req, &StderrReporter)?;
    write_cidfile(&cidfile, &created.record.id)?;
    println!("{}", created.record.id);
    Ok(0)
}

pub fn start(dirs: &StorageDirs, args: StartArgs) -> anyhow::Result<i32> {
    let selection = ContainerSelection {
        names: args.containers,
        all: args.all,
        latest: args.latest,
        filters: parse_filters(&args.filter)?,
        ..ContainerSelection::default()
    };
    let attach = args.attach || args.interactive;
    let sig_proxy = selection.validate_start(attach, args.sig_proxy)?;
    let targets = selection.resolve(dirs, AllScope::Inactive)?;
    if attach {
        let [target] = targets.as_slice() else {
            anyhow::bail!("you cannot start and attach multiple containers at once");
        };
        let options = AttachOptions {
            stdin: args.interactive,
            sig_proxy,
            detach_keys: args.detach_keys,
        };
        return start_attached(dirs, &target.name, &options);
    }
    let code = each(&targets, ENGINE_CODES, |target| {
        start_container(dirs, &target.name, &StderrReporter).map(|_| Some(target.name.clone()))
    });
    let _ = std::io::stdout().flush();
    Ok(code)
}

pub fn attach(dirs: &StorageDirs, args: AttachArgs) -> anyhow::Result<i32> {
    let options = AttachOptions {
        stdin: !args.no_stdin,
        sig_proxy: args.sig_proxy,
        detach_keys: args.detach_keys,
    };
    Ok(attach_container(dirs, &args.container, &options)?)
}
