//! `skiff create` (and the first half of `run`): check the input, resolve
//! the image, plan the runtime spec, and write the container's record.
//! Nothing runs yet.

use std::fs;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

use super::idmapped_layers::container_layer_dirs;
use super::keep_id_files::{Caller, KeepIdFiles, install as install_keep_id_files, keep_id_files};
use super::lookup::find_container;
use super::mounts::parse_volume_flag;
use super::namespace_joins::{JoinPlan, plan_joins};
use super::net_options::resolve_at_create;
use super::options::{ContainerOptions, HealthOptions};
use super::pull::image_for_run;
use super::report::Reporter;
use super::secrets::{planned_secrets, resolve_secrets};
use super::security_options::{plan_security, security_record};
use super::signals::{parse_signal, signal_name};
use super::userns_modes::{host_mappings, joined_userns, resolve_userns};
use super::volumes::prepare_mounts;
use super::{EngineError, is_rootless};
use crate::layers::{LocalImage, Store};
use crate::sandbox::cgroups::unified_host;
use crate::sandbox::joined_namespaces::JoinKind;
use crate::sandbox::spec::{
    CommandLine, EtcFiles, ImageDefaults, MountRequest, RunPlan, build_spec,
};
use crate::sandbox::user::{ResolvedUser, resolve_group, resolve_user};
use crate::sandbox::userns::{IdMapping, IdMappings, caller_mappings};
use crate::state::{
    ContainerConfig, ContainerPaths, ContainerRecord, ContainerState, ContainerStore, HealthConfig,
    MountKind, MountSpec, SecretUse, StorageDirs, UsernsRecord, new_container_id,
};
use crate::timestamp::format_rfc3339_nanos;

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

/// keep-id's process user: the container IDs the caller's own IDs
/// (intermediate 0) appear as, unless `--user` says otherwise (podman).
fn keep_id_user(userns: &UsernsRecord) -> Option<String> {
    if userns.mode != "keep-id" {
        return None;
    }
    let own = |ranges: &[[u32; 3]]| ranges.iter().find(|r| r[1] == 0).map(|r| r[0]);
    Some(format!(
        "{}:{}",
        own(&userns.uid_map)?,
        own(&userns.gid_map)?
    ))
}

/// Root's (absent) caller mappings: root's modes use host IDs as given.
fn no_mappings() -> IdMappings {
    IdMappings {
        uids: Vec::new(),
        gids: Vec::new(),
        warning: None,
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

/// The healthcheck the container gets: the asked-for values over the
/// image's HEALTHCHECK over docker's defaults; none when disabled or when
/// the test is `NONE`.
fn plan_healthcheck(asked: &HealthOptions, image: &LocalImage) -> Option<HealthConfig> {
    if asked.disabled {
        return None;
    }
    let from_image = image.healthcheck.clone().unwrap_or_default();
    let test = asked.test.clone().unwrap_or(from_image.test);
    if test.is_empty() || test[0] == "NONE" {
        return None;
    }
    let or_default = |v: u64, d: u64| if v == 0 { d } else { v };
    Some(HealthConfig {
        test,
        interval_ns: asked
            .interval_ns
            .unwrap_or(or_default(from_image.interval, DEFAULT_HEALTH_INTERVAL_NS)),
        timeout_ns: asked
            .timeout_ns
            .unwrap_or(or_default(from_image.timeout, DEFAULT_HEALTH_TIMEOUT_NS)),
        start_period_ns: asked.start_period_ns.unwrap_or(from_image.start_period),
        retries: asked.retries.unwrap_or(if from_image.retries == 0 {
            DEFAULT_HEALTH_RETRIES
        } else {
            from_image.retries
        }),
    })
}

/// Every mount the container gets: its own (`-v`, `--mount`, `--tmpfs`),
/// then the volumes and binds of `--volumes-from` containers, then an
/// anonymous volume for each image VOLUME; a destination already taken
/// keeps the earlier mount, as in docker.
fn container_mounts(
    dirs: &StorageDirs,
    options: &ContainerOptions,
    image: &LocalImage,
) -> Result<Vec<MountSpec>, EngineError> {
    let mut mounts = options.mounts.clone();
    let taken = |mounts: &[MountSpec], destination: &str| {
        let wanted: PathBuf = Path::new(destination).components().collect();
        mounts
            .iter()
            .any(|m| Path::new(&m.destination).components().collect::<PathBuf>() == wanted)
    };
    let containers = ContainerStore::new(dirs);
    for (name, read_only) in &options.volumes_from {
        let source = find_container(&containers, name)?;
        for mount in source.config.mounts {
            if matches!(mount.kind, MountKind::Tmpfs { .. }) || taken(&mounts, &mount.destination) {
                continue;
            }
            mounts.push(MountSpec {
                read_only: read_only.unwrap_or(mount.read_only),
                // The data is there already; and a chown was done once.
                copy_up: false,
                chown: false,
                ..mount
            });
        }
    }
    let image_volumes = (!options.ignore_image_volumes)
        .then_some(image)
        .and_then(|image| image.config.config().as_ref())
        .and_then(|c| c.volumes().clone())
        .unwrap_or_default();
    for destination in image_volumes {
        if !taken(&mounts, &destination) {
            mounts.push(parse_volume_flag(&destination)?);
        }
    }
    Ok(mounts)
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
    options: &ContainerOptions,
    reporter: &dyn Reporter,
) -> Result<CreatedContainer, EngineError> {
    let store = Store::open(&dirs.root)?;
    let image = image_for_run(
        dirs,
        &store,
        &options.image,
        options.pull,
        &options.pull_options,
        reporter,
    )?;
    let defaults = image_defaults(&image);
    let image_config = image.config.config().clone().unwrap_or_default();
    let stop_signal = match (&options.stop_signal, image_config.stop_signal()) {
        (Some(asked), _) => asked.clone(),
        (None, Some(from_image)) => signal_name(parse_signal(from_image)?),
        (None, None) => "SIGTERM".to_string(),
    };
    let healthcheck = plan_healthcheck(&options.health, &image);
    // Rootless, the default mapping: no subordinate files read here
    // unless the container asks for a mapping of its own.
    let caller = is_rootless().then(caller_mappings);
    let joins = plan_joins(dirs, options, is_rootless())?;
    let user_of = joins.joined.iter().find(|j| j.kind == JoinKind::User);
    let (userns, _auto_lock) = match &caller {
        _ if !joins.joined.is_empty() => (
            joined_userns(
                dirs,
                &options.userns,
                &options.userns_text,
                user_of.map(|j| j.container_id.as_str()),
            )?,
            None,
        ),
        Some(caller) => resolve_userns(dirs, &options.userns, &options.userns_text, caller)?,
        None => resolve_userns(dirs, &options.userns, &options.userns_text, &no_mappings())?,
    };
    let user_spec = options
        .user
        .clone()
        .or_else(|| {
            // keep-id's user is the caller's, when it asked for keep-id.
            (options.userns != Default::default())
                .then(|| userns.as_ref().and_then(keep_id_user))
                .flatten()
        })
        .or(image_config.user().clone())
        .unwrap_or_default();
    let mut group_file = read_image_file(&image.layer_dirs, "etc/group");
    let mut passwd_file = read_image_file(&image.layer_dirs, "etc/passwd");
    // keep-id: the caller's entry joins the image's files (podman), and
    // the user is resolved against them, so HOME is the caller's.
    let keep_id_files = userns
        .as_ref()
        .and_then(|u| Some((keep_id_user(u)?, Caller::current()?)))
        .and_then(|(ids, caller)| {
            let (uid, gid) = ids.split_once(':')?;
            Some(keep_id_files(
                passwd_file.as_deref(),
                group_file.as_deref(),
                uid.parse().ok()?,
                gid.parse().ok()?,
                &caller,
            ))
        })
        .unwrap_or_default();
    if let Some(text) = &keep_id_files.passwd {
        passwd_file = Some(text.clone());
    }
    if let Some(text) = &keep_id_files.group {
        group_file = Some(text.clone());
    }
    let mut user = resolve_user(&user_spec, passwd_file.as_deref(), group_file.as_deref())?;
    for group in &options.security.group_add {
        let gid = resolve_group(group, group_file.as_deref())?;
        if !user.additional_gids.contains(&gid) {
            user.additional_gids.push(gid);
        }
    }
    let id_mappings = match (caller, &userns) {
        (Some(caller), Some(userns)) => Some(host_mappings(userns, Some(&caller))),
        (Some(maps), None) => {
            if let Some(warning) = &maps.warning {
                reporter.warning(warning);
            }
            Some((maps.uids, maps.gids))
        }
        // Root: only a mapping of its own makes a user namespace.
        (None, Some(userns)) => Some(host_mappings(userns, None)),
        (None, None) => None,
    };
    // Networks exist, host ports are free (before any layer is copied).
    let mut net = options.net.clone();
    resolve_at_create(
        dirs,
        &joins.network,
        &mut net,
        &image_config.exposed_ports().clone().unwrap_or_default(),
        options.publish_all,
    )?;
    if is_rootless() && joins.network == crate::net::NetworkMode::Bridge && userns.is_some() {
        // Rootless bridge networks run in the shared network namespace's
        // user namespace, with the default mapping.
        return Err(EngineError::Invalid(format!(
            "--userns {} cannot be combined with a bridge network rootless (its containers share one user namespace): use --network pasta, none or host",
            userns.as_ref().map(|u| u.mode.as_str()).unwrap_or_default()
        )));
    }
    // Made before anything of the container exists: a failed copy
    // leaves nothing half-created.
    let layer_dirs = container_layer_dirs(dirs, userns.as_ref(), image.layer_dirs.clone())?;

    // Held until the record that names the secrets is written.
    let (_secrets_lock, secrets) = resolve_secrets(dirs, &options.secrets)?;
    let mounts = container_mounts(dirs, options, &image)?;
    // Held until the record that names the volumes is written.
    let host_mounts = prepare_mounts(dirs, &mounts)?;
    if let Some(userns) = &userns {
        // New volumes are its root's, as they would be for the default
        // mapping (where that root is the caller).
        let made = host_mounts.made_data_dirs();
        if !made.is_empty()
            && let Err(e) = super::idmapped_layers::give_to_container_root(userns, &made)
        {
            host_mounts.discard();
            return Err(e);
        }
    }
    let created = write_container(
        dirs,
        options,
        NewContainer {
            image,
            defaults,
            user,
            user_spec,
            id_mappings,
            stop_signal,
            healthcheck,
            mounts,
            mount_requests: host_mounts.requests.clone(),
            secrets,
            joins,
            net,
            userns,
            layer_dirs,
            keep_id_files,
        },
    );
    if created.is_err() {
        host_mounts.discard();
    }
    created
}

/// What `create_container` resolved, for `write_container`.
struct NewContainer {
    image: LocalImage,
    defaults: ImageDefaults,
    user: ResolvedUser,
    user_spec: String,
    id_mappings: Option<(Vec<IdMapping>, Vec<IdMapping>)>,
    stop_signal: String,
    healthcheck: Option<HealthConfig>,
    mounts: Vec<MountSpec>,
    mount_requests: Vec<MountRequest>,
    secrets: Vec<SecretUse>,
    joins: JoinPlan,
    net: crate::net::NetworkConfig,
    userns: Option<UsernsRecord>,
    /// The lower layers: the image's, or their copies for `userns`.
    layer_dirs: Vec<PathBuf>,
    /// keep-id's /etc/passwd and /etc/group with the caller's entries.
    keep_id_files: KeepIdFiles,
}

/// Plans the spec and writes the container's record, spec and
/// directories.
fn write_container(
    dirs: &StorageDirs,
    options: &ContainerOptions,
    new: NewContainer,
) -> Result<CreatedContainer, EngineError> {
    let NewContainer {
        image,
        defaults,
        user,
        user_spec,
        id_mappings,
        stop_signal,
        healthcheck,
        mounts,
        mount_requests,
        secrets,
        joins,
        net,
        userns,
        layer_dirs,
        keep_id_files,
    } = new;
    let id = new_container_id();
    let hostname = options
        .hostname
        .clone()
        .or(joins.hostname)
        .unwrap_or_else(|| id[..12].to_string());
    let containers = ContainerStore::new(dirs);
    let paths = containers.paths(&id);
    let plan = RunPlan {
        rootfs: paths.run_dir.join("merged"),
        command: options.command.clone(),
        entrypoint: options.entrypoint.clone(),
        env: options.env.clone(),
        workdir: options.workdir.clone(),
        user,
        hostname: hostname.clone(),
        tty: options.tty,
        mounts: mount_requests,
        private_network: options.network.is_private(),
        id_mappings,
        // Another container's network comes with its /etc files.
        etc_files: etc_files(joins.network_paths.as_ref().unwrap_or(&paths)),
        scratch_dir: paths.run_dir.join("scratch"),
        resources: options.limits.clone(),
        cgroup_namespace: !options.cgroups_disabled && unified_host(),
        settings: options.settings.clone(),
        // `--privileged` runs without a filter, as docker's.
        seccomp: (!options.security.privileged)
            .then(|| options.seccomp.seccomp_profile())
            .flatten(),
        no_new_privileges: options.seccomp.no_new_privileges,
        privileged: options.security.privileged,
        security: plan_security(&options.security, is_rootless())?,
        secrets: planned_secrets(&paths, &secrets),
        joined: joins.joined,
    };
    let mut spec = build_spec(&defaults, &plan)?;
    if options.owner_userns && is_rootless() && userns.is_none() {
        super::images::enter_owner_userns(&mut spec)?;
    }
    if let Some(path) = options.network.path() {
        super::namespace_joins::enter_network_file(&mut spec, path)?;
    }
    if let Some(userns) = &userns {
        // What inspect shows as `.HostConfig.UsernsMode`.
        let shown = if options.userns_text.is_empty() {
            userns.mode.clone()
        } else {
            options.userns_text.clone()
        };
        let mut annotations = spec.annotations().clone().unwrap_or_default();
        annotations.insert(
            crate::sandbox::settings::USERNS_ANNOTATION.to_string(),
            shown,
        );
        spec.set_annotations(Some(annotations));
    }
    super::cgroup::check_limits(&spec, options.cgroups_disabled)?;
    let process = spec.process().as_ref().expect("planned spec has a process");
    // The halves build_spec joined, kept apart for inspect.
    let command_line = CommandLine::new(&defaults, options.entrypoint.as_deref(), &options.command);

    let mut record = ContainerRecord {
        id: id.clone(),
        name: String::new(),
        image: options.image.clone(),
        image_id: image.id.to_string(),
        created: format_rfc3339_nanos(std::time::SystemTime::now()),
        config: ContainerConfig {
            args: process.args().clone().unwrap_or_default(),
            entrypoint: command_line.entrypoint,
            cmd: command_line.cmd,
            env: process.env().clone().unwrap_or_default(),
            workdir: process.cwd().display().to_string(),
            user: user_spec,
            hostname,
            network: joins.network,
            tty: options.tty,
            interactive: options.interactive,
            auto_remove: options.auto_remove,
            restart: options.restart,
            stop_signal,
            stop_timeout: options.stop_timeout.unwrap_or(DEFAULT_STOP_TIMEOUT),
            healthcheck,
            log_max_size: options.log_max_size,
            init: options.init,
            labels: options.labels.clone(),
            mounts,
            cgroups_disabled: options.cgroups_disabled,
            cgroup_parent: options.cgroup_parent.clone(),
            security: security_record(&options.security),
            secrets,
            depends_on: joins.depends_on,
            net,
            userns,
        },
        state: ContainerState::default(),
    };
    let paths = containers.create(&mut record, options.name.as_deref())?;
    let written = (|| {
        if let Some(userns) = &record.config.userns
            && !keep_id_files.is_empty()
        {
            install_keep_id_files(&keep_id_files, &paths.dir, userns, &mut spec)?;
        }
        let json = serde_json::to_vec_pretty(&spec).expect("runtime spec serializes");
        fs::write(paths.spec_file(), json).map_err(EngineError::io("writing config.json"))?;
        let own_dirs = [paths.dir.join("upper"), paths.dir.join("work")];
        for dir in &own_dirs {
            fs::create_dir_all(dir)
                .map_err(EngineError::io(format!("creating {}", dir.display())))?;
        }
        if let Some(userns) = &record.config.userns {
            super::idmapped_layers::give_to_container_root(userns, &own_dirs)?;
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
        layer_dirs,
    })
}
