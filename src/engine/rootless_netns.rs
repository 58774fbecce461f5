//! Rootless bridge networks: one shared network namespace per user
//! (`sandbox::netns_holder`), connected to the host by a pasta of its
//! own, holding the bridges; recorded in `<runroot>/networks/rootless-netns.json`
//! (holder and pasta, PID and start time). Made by the first rootless
//! container that joins a bridge network (the default network included,
//! unless the container maps IDs of its own: then its default is pasta),
//! ended (holder and pasta killed) when the last one leaves. Rootless
//! containers on bridge networks enter the holder's user namespace instead
//! of making their own. Its pasta is started, not waited for: every start
//! that finds it still configuring the namespace waits for it right before
//! its command runs (`PendingPasta`, from `network_run`).

use std::fs;
use std::os::fd::AsFd;
use std::path::PathBuf;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxNamespaceBuilder, LinuxNamespaceType, Spec};
use serde::{Deserialize, Serialize};

use super::EngineError;
use crate::net::pasta_detached::DetachedPasta;
use crate::sandbox::netns_holder::start_holder;
use crate::sandbox::userns::caller_mappings;
use crate::state::{ProcessIdentity, StorageDirs};

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct SharedNetns {
    pub holder: ProcessIdentity,
    pub pasta: Option<ProcessIdentity>,
}

fn dir(dirs: &StorageDirs) -> PathBuf {
    dirs.runroot.join("networks")
}

fn record_path(dirs: &StorageDirs) -> PathBuf {
    dir(dirs).join("rootless-netns.json")
}

/// Whether this skiff runs rootless (and so uses the shared namespace).
pub fn applies() -> bool {
    !nix::unistd::geteuid().is_root()
}

/// The shared namespace as recorded, alive or not.
fn recorded(dirs: &StorageDirs) -> Option<SharedNetns> {
    let bytes = fs::read(record_path(dirs)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The holder the record names, alive or not.
pub fn recorded_identity(dirs: &StorageDirs) -> Option<ProcessIdentity> {
    recorded(dirs).map(|shared| shared.holder)
}

/// The shared namespace when its holder lives.
pub fn current(dirs: &StorageDirs) -> Option<SharedNetns> {
    recorded(dirs).filter(|shared| shared.holder.is_alive())
}

/// The shared namespace's pasta as a start sees it before it configured
/// the namespace: what to wait for (`wait`) before the container's command
/// may run.
#[derive(Debug, Clone)]
pub struct PendingPasta {
    pasta: ProcessIdentity,
    files: DetachedPasta,
}

impl PendingPasta {
    /// Returns once the shared namespace's pasta configured it (deadline:
    /// `pasta_detached::READY_DEADLINE`); an error when it ended first.
    pub fn wait(&self) -> Result<(), EngineError> {
        self.files
            .wait_ready(self.pasta.pid, || self.pasta.is_alive())
            .map_err(|e| failed(e.to_string()))
    }
}

fn failed(e: String) -> EngineError {
    EngineError::Invalid(format!("the rootless network namespace: {e}"))
}

impl SharedNetns {
    /// What a start must wait for before its command runs: the pasta,
    /// unless it has configured the namespace already.
    pub fn pending_pasta(&self, dirs: &StorageDirs) -> Option<PendingPasta> {
        let pasta = self.pasta?;
        let files = DetachedPasta::in_dir(&dir(dirs));
        (!files.is_ready(pasta.pid)).then_some(PendingPasta { pasta, files })
    }
}

/// The shared namespace, made when there is none, with its pasta started
/// (again, when it ended) but not waited for: the start overlaps its own
/// set-up with pasta's (`PendingPasta`). The caller holds the networks
/// lock. A failure leaves no process of its own making.
pub fn ensure(dirs: &StorageDirs) -> Result<SharedNetns, EngineError> {
    let run_dir = dir(dirs);
    let files = DetachedPasta::in_dir(&run_dir);
    let kill_now = |p: i32| {
        let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
    };
    let start_pasta = |holder: i32| -> Result<ProcessIdentity, EngineError> {
        let pid = files.spawn(holder).map_err(|e| failed(e.to_string()))?;
        ProcessIdentity::of(pid).ok_or_else(|| failed(files_ended(&files)))
    };
    let shared = match current(dirs) {
        Some(shared) if shared.pasta.is_some_and(|p| p.is_alive()) => return Ok(shared),
        // Its pasta ended (it failed to configure the namespace, or was
        // killed): the containers still reach each other, a new pasta
        // connects them to the host again.
        Some(shared) => SharedNetns {
            pasta: Some(start_pasta(shared.holder.pid)?),
            ..shared
        },
        None => {
            // A holder that died (killed by hand, the OOM killer) may have
            // left its pasta, which keeps the old namespace alive.
            if let Some(old) = recorded(dirs)
                .and_then(|r| r.pasta)
                .filter(|p| p.is_alive())
            {
                kill_now(old.pid);
            }
            // pasta starts on the new namespaces before their ID maps are
            // written (`start_holder`): the setuid map helpers and the
            // holder's own start overlap its configuring.
            let (mut pasta, mut pasta_identity) = (None, None);
            let holder = start_holder(&caller_mappings(), |userns, netns| {
                fs::create_dir_all(&run_dir).map_err(|e| e.to_string())?;
                let pid = files
                    .spawn_into(userns.as_fd(), netns.as_fd())
                    .map_err(|e| e.to_string())?;
                pasta = Some(pid);
                // Taken at once: the PID alone could be reused later.
                pasta_identity = Some(ProcessIdentity::of(pid).ok_or_else(|| files_ended(&files))?);
                Ok(())
            });
            let holder = holder.map_err(|e| failed(e.to_string()));
            let holder_pid = holder.as_ref().ok().copied();
            let started = holder.and_then(|holder| {
                Ok(SharedNetns {
                    holder: ProcessIdentity::of(holder)
                        .ok_or_else(|| failed("its holder ended at once".into()))?,
                    pasta: pasta_identity,
                })
            });
            match started {
                Ok(shared) => shared,
                Err(e) => {
                    // Nothing may outlive a failed start: the pasta holds
                    // the namespaces even without their holder.
                    for pid in [holder_pid, pasta].into_iter().flatten() {
                        kill_now(pid);
                    }
                    return Err(e);
                }
            }
        }
    };
    let json = serde_json::to_vec(&shared).expect("serializes");
    fs::write(record_path(dirs), json).map_err(|e| {
        for process in [Some(shared.holder), shared.pasta].into_iter().flatten() {
            kill_now(process.pid);
        }
        failed(e.to_string())
    })?;
    Ok(shared)
}

fn files_ended(files: &DetachedPasta) -> String {
    let log = fs::read_to_string(&files.log_file).unwrap_or_default();
    format!("pasta ended at once: {}", log.trim())
}

fn joining_dir(dirs: &StorageDirs) -> PathBuf {
    dir(dirs).join("joining")
}

/// Marks container `id` as on its way into the shared namespace: from
/// `prepare_spec` (which put the holder's namespace into its spec) to
/// `join` (which leases its addresses) it holds no lease, and the last
/// container leaving meanwhile must not end the namespace under it. The
/// marker names the starting process, so one left by a start that died
/// counts for nothing. The caller holds the networks lock.
pub fn mark_joining(dirs: &StorageDirs, id: &str) -> Result<(), EngineError> {
    let joining = joining_dir(dirs);
    let write = || -> std::io::Result<()> {
        fs::create_dir_all(&joining)?;
        let json = serde_json::to_vec(&ProcessIdentity::current()).expect("serializes");
        fs::write(joining.join(id), json)
    };
    write().map_err(EngineError::io(format!(
        "marking container {id} as joining the rootless network namespace"
    )))
}

/// Container `id` has its leases now (or gave up): its marker goes.
pub fn joined(dirs: &StorageDirs, id: &str) {
    let _ = fs::remove_file(joining_dir(dirs).join(id));
}

/// Whether a start is on its way in; markers of starts that died are
/// removed on the way. The caller holds the networks lock.
pub fn starts_under_way(dirs: &StorageDirs) -> bool {
    let Ok(entries) = fs::read_dir(joining_dir(dirs)) else {
        return false;
    };
    let mut under_way = false;
    for entry in entries.flatten() {
        let starter = fs::read(entry.path())
            .ok()
            .and_then(|b| serde_json::from_slice::<ProcessIdentity>(&b).ok());
        if starter.is_some_and(|p| p.is_alive()) {
            under_way = true;
        } else {
            let _ = fs::remove_file(entry.path());
        }
    }
    under_way
}

/// Ends the shared namespace (its last container left, or the start that
/// made it failed): holder and pasta killed, whether or not pasta has
/// configured the namespace yet. The caller holds the networks lock.
pub fn stop(dirs: &StorageDirs) {
    let shared = recorded(dirs);
    // The files first: once its processes are gone, nothing names them.
    let files = DetachedPasta::in_dir(&dir(dirs));
    let _ = fs::remove_file(record_path(dirs));
    let _ = fs::remove_file(files.pid_file);
    let _ = fs::remove_file(files.log_file);
    // Whatever of it lives: a pasta outlives a holder killed by hand.
    if let Some(shared) = shared {
        for process in [Some(shared.holder), shared.pasta].into_iter().flatten() {
            if process.is_alive() {
                let _ = kill(Pid::from_raw(process.pid), Signal::SIGKILL);
            }
        }
    }
}

/// `spec` entering the holder's user namespace instead of making one
/// (no ID maps: the holder's are the same as the container's would be).
pub fn enter_shared_userns(spec: &Spec, holder: i32) -> Result<Spec, EngineError> {
    let mut spec = spec.clone();
    if let Some(linux) = spec.linux_mut() {
        let mut namespaces = linux.namespaces().clone().unwrap_or_default();
        namespaces.retain(|ns| ns.typ() != LinuxNamespaceType::User);
        namespaces.push(
            LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::User)
                .path(format!("/proc/{holder}/ns/user"))
                .build()
                .map_err(|e| EngineError::Invalid(e.to_string()))?,
        );
        linux.set_namespaces(Some(namespaces));
        linux.set_uid_mappings(None);
        linux.set_gid_mappings(None);
    }
    Ok(spec)
}
