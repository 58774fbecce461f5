//! A run's side of networking: what `launch` does from outside the
//! container (`NetworkSteps`, the sandbox's `ParentSteps`) and what
//! `teardown_run` releases (`NetworkRun`).
//! - `pasta`: pasta is started on the new namespace in `before_go` and
//!   configures it while init sets up the root filesystem; init waits for
//!   `NetworkReady` only right before exec (`network_ready`).
//! - `bridge`: an address per network from the store's leases, a veth
//!   pair per network moved into the namespace (`network_bridge`), peers'
//!   /etc/hosts rewritten under the networks lock.

use std::path::{Path, PathBuf};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::rootless_netns::PendingPasta;
use crate::net::pasta::{PastaStart, spawn};
use crate::net::{Attachment, NetworkMode};
use crate::sandbox::SandboxError;
use crate::sandbox::process::ParentSteps;
use crate::state::{ContainerRecord, NetworkRecord, ProcessIdentity, StorageDirs};

/// What one run holds of the network until it ends.
#[derive(Debug, Default)]
pub struct NetworkRun {
    /// The run's pasta (rootless `pasta` mode).
    pub pasta: Option<ProcessIdentity>,
    /// Its addresses and links on bridge networks.
    pub attachments: Vec<Attachment>,
    /// Where the leases are (`--root`) and whose they are: set when the
    /// run holds any.
    pub leases: Option<(StorageDirs, String)>,
}

impl NetworkRun {
    /// What the record says a run holds, for a run whose owner died.
    pub fn recorded(dirs: &StorageDirs, record: &ContainerRecord) -> NetworkRun {
        NetworkRun {
            pasta: record.state.pasta,
            attachments: record.state.attachments.clone(),
            leases: (!record.state.attachments.is_empty())
                .then(|| (dirs.clone(), record.id.clone())),
        }
    }

    /// Writes what the run holds into the state, so a `refresh` after a
    /// kill -9 of its owner can release it.
    pub fn record_into(&self, state: &mut crate::state::ContainerState) {
        state.pasta = self.pasta;
        state.attachments = self.attachments.clone();
    }

    /// Ends the pasta, removes the links, frees the addresses. Best
    /// effort: nothing here may hide how the container ended.
    pub fn release(self) {
        if let Some(pasta) = self.pasta.filter(|p| p.is_alive()) {
            // pasta ignores SIGTERM; it holds no state worth a graceful end.
            let _ = kill(Pid::from_raw(pasta.pid), Signal::SIGKILL);
        }
        if let Some((dirs, id)) = &self.leases {
            super::network_bridge::leave(dirs, id, &self.attachments);
        }
    }
}

/// The network side of one start.
pub struct NetworkSteps<'a> {
    dirs: &'a StorageDirs,
    record: &'a ContainerRecord,
    run_dir: &'a Path,
    hosts_file: PathBuf,
    /// Rootless: the shared network namespace's holder, whose namespaces
    /// the bridge work runs in.
    shared_holder: Option<i32>,
    /// Rootless: the shared namespace's pasta, when it was still
    /// configuring the namespace as this start began.
    shared_pasta: Option<PendingPasta>,
    pasta: Option<PastaStart>,
    /// What the run now holds (also on failure: teardown releases it).
    pub run: NetworkRun,
}

impl<'a> NetworkSteps<'a> {
    pub fn new(
        dirs: &'a StorageDirs,
        record: &'a ContainerRecord,
        run_dir: &'a Path,
        hosts_file: PathBuf,
    ) -> NetworkSteps<'a> {
        NetworkSteps {
            dirs,
            record,
            run_dir,
            hosts_file,
            shared_holder: None,
            shared_pasta: None,
            pasta: None,
            run: NetworkRun::default(),
        }
    }

    /// Rootless: the start enters the shared network namespace
    /// (`prepare_spec`). From here on the run counts as holding it: every
    /// way the start can fail leaves through `teardown_run`, whose leave
    /// ends the namespace when nothing else uses it.
    pub fn enter_shared(&mut self, shared: &SharedStart) {
        self.shared_holder = Some(shared.holder);
        self.shared_pasta = shared.pasta.clone();
        self.run.leases = Some((self.dirs.clone(), self.record.id.clone()));
    }

    /// Whether init must wait for `network_ready` before exec: a pasta
    /// is configuring a namespace the container needs (its own, the
    /// shared rootless one) or being started to forward its published
    /// ports into the shared one.
    pub fn works_in_parallel(&self) -> bool {
        let config = &self.record.config;
        config.network == NetworkMode::Pasta
            || self.shared_pasta.is_some()
            || (self.shared_holder.is_some() && !config.net.ports.is_empty())
    }
}

fn failed(text: String) -> SandboxError {
    SandboxError::Setup(text)
}

impl ParentSteps for NetworkSteps<'_> {
    fn before_go(&mut self, child: Pid) -> Result<(), SandboxError> {
        match self.record.config.network {
            NetworkMode::Pasta => {
                let pasta = spawn(child.as_raw(), &self.record.config.net.ports, self.run_dir)
                    .map_err(|e| failed(e.to_string()))?;
                self.pasta = Some(pasta);
            }
            NetworkMode::Bridge => {
                // Set already when the shared namespace was entered.
                self.run.leases = Some((self.dirs.clone(), self.record.id.clone()));
                match self.shared_holder {
                    None => super::network_bridge::join(
                        self.dirs,
                        self.record,
                        child.as_raw(),
                        &self.hosts_file,
                        false,
                        &mut self.run.attachments,
                    )
                    .map_err(|e| failed(e.to_string()))?,
                    Some(holder) => {
                        let (dirs, record, hosts) = (self.dirs, self.record, &self.hosts_file);
                        // What was attached before a failure comes back
                        // too, so teardown removes its rules.
                        let (attachments, error) =
                            crate::sandbox::netns_holder::run_in_holder(holder, || {
                                let mut attachments = Vec::new();
                                let error = super::network_bridge::join(
                                    dirs,
                                    record,
                                    child.as_raw(),
                                    hosts,
                                    true,
                                    &mut attachments,
                                )
                                .err()
                                .map(|e| e.to_string());
                                Ok::<_, String>((attachments, error))
                            })
                            .map_err(|e| failed(e.to_string()))?;
                        self.run.attachments = attachments;
                        if let Some(error) = error {
                            return Err(failed(error));
                        }
                        let ports = &self.record.config.net.ports;
                        if !ports.is_empty() {
                            let tap = crate::net::bridge::forwarder_tap(&self.record.id);
                            let pasta = crate::net::pasta::spawn_forwarder(
                                holder,
                                ports,
                                self.run_dir,
                                &tap,
                            )
                            .map_err(|e| failed(e.to_string()))?;
                            self.pasta = Some(pasta);
                        }
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn network_ready(&mut self) -> Result<(), SandboxError> {
        if let Some(shared) = self.shared_pasta.take() {
            shared.wait().map_err(|e| failed(e.to_string()))?;
        }
        if let Some(pasta) = self.pasta.take() {
            let pid = pasta.wait_ready().map_err(|e| failed(e.to_string()))?;
            self.run.pasta = ProcessIdentity::of(pid);
            if let Some(holder) = self.shared_holder {
                // The forwarder's tap: clients not on the host's loopback
                // come in by it, and their replies must leave by it.
                let id = self.record.id.clone();
                crate::sandbox::netns_holder::run_in_holder(holder, move || {
                    crate::net::bridge::route_forwarder(&id).map_err(|e| e.to_string())
                })
                .map_err(|e| failed(format!("published ports: {e}")))?;
            }
        }
        Ok(())
    }
}

/// Removes the network's bridge and rules, if any exist (best effort).
pub fn remove_network_links(dirs: &StorageDirs, network: &NetworkRecord) {
    super::network_bridge::remove_links(dirs, network);
}

/// A rootless start on bridge networks: its spec enters the shared
/// network namespace's user namespace.
pub struct SharedStart {
    pub spec: oci_spec::runtime::Spec,
    /// The holder of the shared namespace.
    pub holder: i32,
    /// Its pasta, when it has not configured the namespace yet.
    pub pasta: Option<PendingPasta>,
}

/// The spec to start: rootless on bridge networks, entering the shared
/// network namespace's user namespace (made now if there is none, its
/// pasta not waited for). `None` for every other start. A failure here
/// ends a namespace nothing uses.
pub fn prepare_spec(
    dirs: &StorageDirs,
    record: &ContainerRecord,
    spec: &oci_spec::runtime::Spec,
) -> Result<Option<SharedStart>, super::EngineError> {
    if record.config.network != NetworkMode::Bridge || !super::rootless_netns::applies() {
        return Ok(None);
    }
    let store = crate::state::NetworkStore::new(dirs);
    let lock = store.lock()?;
    let prepared = (|| {
        let shared = super::rootless_netns::ensure(dirs)?;
        super::rootless_netns::mark_joining(dirs, &record.id)?;
        Ok(SharedStart {
            spec: super::rootless_netns::enter_shared_userns(spec, shared.holder.pid)?,
            holder: shared.holder.pid,
            pasta: shared.pending_pasta(dirs),
        })
    })();
    if prepared.is_err() {
        super::rootless_netns::joined(dirs, &record.id);
        super::network_bridge::release_unused(dirs, &lock, &store.leases(&lock));
    }
    prepared.map(Some)
}
