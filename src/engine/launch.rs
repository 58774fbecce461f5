//! Starting a created container's process once: write its per-run files
//! under the runroot and hand the spec and layers to the sandbox. Shared by
//! a foreground `run`, the monitor of a detached container, and restarts.

use std::fs;
use std::path::PathBuf;

use oci_spec::runtime::Spec;

use super::create::etc_files;
use super::namespace_joins::resolve_at_start;
use super::network_run::NetworkSteps;
use super::secrets::prepare_secrets;
use super::teardown::{RunResources, teardown_run};
use super::{EngineError, cgroup};
use crate::layers::Store;
use crate::net;
use crate::sandbox::process::{StartedContainer, start};
use crate::sandbox::seccomp::SeccompProgram;
use crate::sandbox::{InitContext, RootfsDriver, RootfsLayers};
use crate::state::{ContainerPaths, ContainerRecord, StorageDirs};

/// What starting a container needs besides its record.
pub struct LaunchPlan {
    pub spec: Spec,
    pub layers: RootfsLayers,
    /// Where compiled seccomp filters are cached (`<root>/seccomp`).
    pub seccomp_cache: PathBuf,
}

/// The layer directories with a repeated one kept only where it is
/// topmost: overlay refuses one lower directory twice (ELOOP), and two
/// identical layers are common in built images (two steps that changed
/// the same thing in the same second). Dropping the lower occurrence
/// changes nothing: every path the layer has, whiteouts and opaque
/// directories included, is decided by the occurrence above it.
fn topmost_occurrences(mut dirs: Vec<PathBuf>) -> Vec<PathBuf> {
    let mut seen = std::collections::HashSet::new();
    dirs.reverse();
    dirs.retain(|d| seen.insert(d.clone()));
    dirs.reverse();
    dirs
}

impl LaunchPlan {
    pub fn new(
        dirs: &StorageDirs,
        paths: &ContainerPaths,
        spec: Spec,
        layer_dirs: Vec<PathBuf>,
    ) -> LaunchPlan {
        LaunchPlan {
            spec,
            seccomp_cache: dirs.root.join("seccomp"),
            layers: RootfsLayers {
                lower: topmost_occurrences(layer_dirs),
                upper: paths.dir.join("upper"),
                work: paths.dir.join("work"),
                copy_dir: paths.dir.join("rootfs"),
                driver: RootfsDriver::from_env(),
            },
        }
    }

    /// Reads back what `create` wrote: the spec, and the image's layers.
    pub fn load(
        dirs: &StorageDirs,
        record: &ContainerRecord,
        paths: &ContainerPaths,
    ) -> Result<LaunchPlan, EngineError> {
        let spec = Self::load_spec(paths)?;
        let image = Store::open(&dirs.root)?.resolve_image(&record.image_id)?;
        let layer_dirs = super::idmapped_layers::container_layer_dirs(
            dirs,
            record.config.userns.as_ref(),
            image.layer_dirs,
        )?;
        Ok(LaunchPlan::new(dirs, paths, spec, layer_dirs))
    }

    /// The container's runtime spec, as `create` wrote it.
    pub fn load_spec(paths: &ContainerPaths) -> Result<Spec, EngineError> {
        let spec_path = paths.spec_file();
        let json = fs::read(&spec_path)
            .map_err(EngineError::io(format!("reading {}", spec_path.display())))?;
        let spec: Spec = serde_json::from_slice(&json).map_err(|e| {
            EngineError::Invalid(format!(
                "{}: malformed runtime spec: {e}",
                spec_path.display()
            ))
        })?;
        Ok(spec)
    }

    /// The container's compiled seccomp filter: read from the cache, or
    /// compiled and cached on first use. In the parent, before any clone.
    pub fn seccomp(&self) -> Result<Option<SeccompProgram>, EngineError> {
        crate::sandbox::seccomp::prepare(&self.spec, &self.seccomp_cache)
            .map_err(|e| EngineError::Invalid(e.to_string()))
    }
}

fn write_file(path: &std::path::Path, text: &str) -> Result<(), EngineError> {
    fs::write(path, text).map_err(EngineError::io(format!("writing {}", path.display())))
}

/// The runroot half of a container: mount point and name-resolution
/// files. Rewritten at every start (the runroot may have been wiped).
/// The name servers `network create --dns` gave the container's bridge
/// networks, in network order without repeats; none for the default
/// network (built in, nothing to read).
fn network_name_servers(dirs: &StorageDirs, record: &ContainerRecord) -> Vec<String> {
    if record.config.network != net::NetworkMode::Bridge || !record.config.net.dns.is_empty() {
        return Vec::new();
    }
    let store = crate::state::NetworkStore::new(dirs);
    let mut servers: Vec<String> = Vec::new();
    for entry in &record.config.net.networks {
        if entry.name == net::DEFAULT_NETWORK {
            continue;
        }
        for server in store
            .load(&entry.name)
            .map(|n| n.dns_servers)
            .unwrap_or_default()
        {
            if !servers.contains(&server) {
                servers.push(server);
            }
        }
    }
    servers
}

fn prepare_run_dir(
    dirs: &StorageDirs,
    record: &ContainerRecord,
    paths: &ContainerPaths,
) -> Result<(), EngineError> {
    fs::create_dir_all(paths.run_dir.join("merged")).map_err(EngineError::io(format!(
        "creating {}",
        paths.run_dir.display()
    )))?;
    if record.config.userns.is_some() {
        // Searchable by the container's root, a subordinate ID, which
        // init becomes before mounting its root on `merged` (the 0700
        // runroot above still keeps everyone else out).
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&paths.run_dir, fs::Permissions::from_mode(0o711)).map_err(
            EngineError::io(format!("opening up {}", paths.run_dir.display())),
        )?;
    }
    let network = &record.config.network;
    let hostname = &record.config.hostname;
    let files = etc_files(paths);
    let host_hosts = fs::read_to_string("/etc/hosts").ok();
    let host_resolv = net::host_resolv_conf(network.is_private());
    write_file(
        &files.hosts,
        &net::hosts_file(
            network,
            hostname,
            host_hosts.as_deref(),
            &record.config.net.extra_hosts,
        ),
    )?;
    let from_networks = network_name_servers(dirs, record);
    let net_config = if from_networks.is_empty() {
        std::borrow::Cow::Borrowed(&record.config.net)
    } else {
        std::borrow::Cow::Owned(net::NetworkConfig {
            dns: from_networks,
            ..record.config.net.clone()
        })
    };
    write_file(
        &files.resolv_conf,
        &net::resolv_conf(network, &host_resolv, &net_config),
    )?;
    write_file(&files.hostname, &format!("{hostname}\n"))
}

/// Starts the container's process in its own cgroup (when the host has
/// one for us); returns once its command was exec'd, with what the run
/// holds until `teardown_run`. The process inherits the caller's
/// stdin/stdout/stderr unless it has a terminal.
pub fn launch(
    dirs: &StorageDirs,
    plan: &LaunchPlan,
    record: &ContainerRecord,
    paths: &ContainerPaths,
    winsize: Option<nix::pty::Winsize>,
) -> Result<(StartedContainer, RunResources), EngineError> {
    prepare_run_dir(dirs, record, paths)?;
    let seccomp = plan.seccomp()?;
    // `--secret`: files written and env added now, from the store; the
    // env'd spec lives only in memory (never config.json).
    let with_secrets = prepare_secrets(dirs, record, paths, &plan.spec)?;
    let spec = with_secrets.as_ref().unwrap_or(&plan.spec);
    // `container:X` joins: X's current PID in the namespace paths.
    let joined = resolve_at_start(dirs, spec)?;
    let spec = joined.as_ref().unwrap_or(spec);
    // Rootless on bridge networks: the shared network namespace's user
    // namespace.
    let shared = super::network_run::prepare_spec(dirs, record, spec)?;
    let spec = shared.as_ref().map(|s| &s.spec).unwrap_or(spec);
    let mut network = NetworkSteps::new(dirs, record, &paths.run_dir, etc_files(paths).hosts);
    if let Some(shared) = &shared {
        network.enter_shared(shared);
    }
    let cgroup = match cgroup::create_for_run(record, spec) {
        Ok(cgroup) => cgroup,
        Err(e) => {
            teardown_run(RunResources {
                network: network.run,
                ..RunResources::default()
            });
            return Err(e);
        }
    };
    let mut resources = RunResources {
        cgroup,
        ..RunResources::default()
    };
    let ctx = InitContext {
        spec,
        layers: &plan.layers,
        interactive: record.config.interactive,
        winsize,
        private_network: record.config.network.is_private(),
        init_process: record.config.init,
        cgroup: resources.cgroup.as_ref(),
        seccomp: seccomp.as_ref(),
        wait_for_network: network.works_in_parallel(),
    };
    let started = start(&ctx, &mut network);
    resources.network = network.run;
    match started {
        Ok(started) => Ok((started, resources)),
        Err(e) => {
            teardown_run(resources);
            Err(e.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_layer_stays_where_it_is_topmost() {
        let dirs: Vec<PathBuf> = ["a", "b", "a", "c", "b"]
            .iter()
            .map(PathBuf::from)
            .collect();
        let kept: Vec<PathBuf> = ["a", "c", "b"].iter().map(PathBuf::from).collect();
        assert_eq!(topmost_occurrences(dirs), kept);
    }
}
