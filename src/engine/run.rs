//! `skiff run` in the foreground: resolve the image, plan, prepare the
//! container's files, start it, wait, record or remove it.

use std::fs;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use super::cleanup::remove_tree;
use super::input::{parse_env_entries, parse_tmpfs, parse_volume};
use super::{EngineError, is_rootless};
use crate::layers::{LocalImage, Store};
use crate::net::{self, NetworkMode};
use crate::sandbox::foreground::{SignalGuard, terminal_size, wait_foreground};
use crate::sandbox::process::start;
use crate::sandbox::spec::{EtcFiles, ImageDefaults, RunPlan, build_spec};
use crate::sandbox::user::resolve_user;
use crate::sandbox::userns::caller_mappings;
use crate::sandbox::{InitContext, RootfsDriver, RootfsLayers};
use crate::state::{ContainerRecord, ContainerStatus, StorageDirs, new_container_id};

/// Everything `skiff run` was asked, as the user spelled it.
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
}

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

fn write_file(path: &Path, text: &str) -> Result<(), EngineError> {
    fs::write(path, text).map_err(EngineError::io(format!("writing {}", path.display())))
}

/// The per-container files on the host: persistent ones under the store
/// root, per-run ones (mount point, name resolution) under the runroot.
struct ContainerPaths {
    dir: PathBuf,
    run_dir: PathBuf,
}

fn prepare_run_dir(
    paths: &ContainerPaths,
    network: NetworkMode,
    hostname: &str,
) -> Result<EtcFiles, EngineError> {
    fs::create_dir_all(paths.run_dir.join("merged")).map_err(EngineError::io(format!(
        "creating {}",
        paths.run_dir.display()
    )))?;
    for sub in ["upper", "work"] {
        let dir = paths.dir.join(sub);
        fs::create_dir_all(&dir).map_err(EngineError::io(format!("creating {}", dir.display())))?;
    }
    let files = EtcFiles {
        hosts: paths.run_dir.join("hosts"),
        resolv_conf: paths.run_dir.join("resolv.conf"),
        hostname: paths.run_dir.join("hostname"),
    };
    let host_hosts = fs::read_to_string("/etc/hosts").ok();
    let host_resolv = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    write_file(
        &files.hosts,
        &net::hosts_file(network, hostname, host_hosts.as_deref()),
    )?;
    write_file(&files.resolv_conf, &net::resolv_conf(network, &host_resolv))?;
    write_file(&files.hostname, &format!("{hostname}\n"))?;
    Ok(files)
}

/// Runs a container in the foreground and returns its exit code.
pub fn run_container(dirs: &StorageDirs, req: &RunRequest) -> Result<i32, EngineError> {
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

    let store = Store::open(&dirs.root)?;
    let image = store.resolve_image(&req.image)?;
    let defaults = image_defaults(&image);
    let image_user = image
        .config
        .config()
        .as_ref()
        .and_then(|c| c.user().clone());
    let user_spec = req.user.clone().or(image_user).unwrap_or_default();
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
    let containers_root = dirs.root.join("containers");
    let mut record = ContainerRecord::new(
        id.clone(),
        req.name.clone(),
        req.image.clone(),
        image.id.hex().to_string(),
    );
    let dir = record.create(&containers_root)?;
    let paths = ContainerPaths {
        dir,
        run_dir: dirs.runroot.join("containers").join(&id),
    };

    let mut user_namespace: Option<OwnedFd> = None;
    let result = (|| {
        let etc_files = prepare_run_dir(&paths, req.network, &hostname)?;
        let plan = RunPlan {
            rootfs: paths.run_dir.join("merged"),
            command: req.command.clone(),
            entrypoint: req.entrypoint.clone(),
            env,
            workdir: req.workdir.clone(),
            user,
            hostname,
            tty: req.tty,
            mounts,
            private_network: req.network.is_private(),
            id_mappings,
            etc_files,
        };
        let spec = build_spec(&defaults, &plan)?;
        let config_path = paths.dir.join("config.json");
        let json = serde_json::to_vec_pretty(&spec).expect("runtime spec serializes");
        write_file(&config_path, &String::from_utf8_lossy(&json))?;

        let layers = RootfsLayers {
            lower: image.layer_dirs.clone(),
            upper: paths.dir.join("upper"),
            work: paths.dir.join("work"),
            copy_dir: paths.dir.join("rootfs"),
            driver: RootfsDriver::from_env(),
        };
        let ctx = InitContext {
            spec: &spec,
            layers: &layers,
            interactive: req.interactive,
            winsize: if req.tty { terminal_size() } else { None },
            private_network: plan.private_network,
        };
        let signals = SignalGuard::block()?;
        let started = start(&ctx)?;
        user_namespace = started.user_namespace;
        record.status = ContainerStatus::Running;
        record.pid = Some(started.pid.as_raw());
        if !req.remove {
            record.save(&containers_root)?;
        }
        wait_foreground(
            started.pid,
            &signals,
            started.pty_master.as_ref(),
            req.interactive,
        )
        .map_err(EngineError::from)
    })();

    record.status = ContainerStatus::Exited;
    record.pid = None;
    record.exit_code = result.as_ref().ok().copied();
    let _ = remove_tree(&paths.run_dir, user_namespace.as_ref());
    if req.remove {
        record.release_name(&containers_root);
        remove_tree(&paths.dir, user_namespace.as_ref())?;
    } else {
        record.save(&containers_root)?;
    }
    result
}
