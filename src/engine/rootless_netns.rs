//! Rootless bridge networks: one shared network namespace per user
//! (`sandbox::netns_holder`), connected to the host by a pasta of its
//! own, holding the bridges; recorded in `<runroot>/networks/rootless-netns.json`
//! (holder and pasta, PID and start time). Made by the first rootless
//! container that joins a bridge network, ended (holder and pasta killed)
//! when the last one leaves. Rootless containers on bridge networks enter
//! the holder's user namespace instead of making their own.

use std::fs;
use std::path::PathBuf;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxNamespaceBuilder, LinuxNamespaceType, Spec};
use serde::{Deserialize, Serialize};

use super::EngineError;
use crate::net::pasta;
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

/// The shared namespace when its holder lives.
pub fn current(dirs: &StorageDirs) -> Option<SharedNetns> {
    let bytes = fs::read(record_path(dirs)).ok()?;
    let shared: SharedNetns = serde_json::from_slice(&bytes).ok()?;
    shared.holder.is_alive().then_some(shared)
}

/// The shared namespace, made (with its pasta) when there is none. The
/// caller holds the networks lock.
pub fn ensure(dirs: &StorageDirs) -> Result<SharedNetns, EngineError> {
    if let Some(shared) = current(dirs) {
        return Ok(shared);
    }
    let failed = |e: String| EngineError::Invalid(format!("the rootless network namespace: {e}"));
    let holder = start_holder(&caller_mappings()).map_err(|e| failed(e.to_string()))?;
    let holder_identity =
        ProcessIdentity::of(holder).ok_or_else(|| failed("its holder ended at once".into()))?;
    let run_dir = dir(dirs);
    fs::create_dir_all(&run_dir).map_err(|e| failed(e.to_string()))?;
    let pasta = pasta::spawn(holder, &[], &run_dir)
        .and_then(|p| p.wait_ready())
        .map_err(|e| {
            let _ = kill(Pid::from_raw(holder), Signal::SIGKILL);
            failed(e.to_string())
        })?;
    let shared = SharedNetns {
        holder: holder_identity,
        pasta: ProcessIdentity::of(pasta),
    };
    let json = serde_json::to_vec(&shared).expect("serializes");
    fs::write(record_path(dirs), json).map_err(|e| failed(e.to_string()))?;
    Ok(shared)
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

/// Ends the shared namespace (its last container left). The caller holds
/// the networks lock.
pub fn stop(dirs: &StorageDirs) {
    if let Some(shared) = current(dirs) {
        for process in [Some(shared.holder), shared.pasta].into_iter().flatten() {
            if process.is_alive() {
                let _ = kill(Pid::from_raw(process.pid), Signal::SIGKILL);
            }
        }
    }
    let _ = fs::remove_file(record_path(dirs));
    let _ = fs::remove_file(dir(dirs).join("pasta.pid"));
    let _ = fs::remove_file(dir(dirs).join("pasta.log"));
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
