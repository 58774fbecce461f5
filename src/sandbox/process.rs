//! Starting a container: clone the child into its namespaces, write its ID
//! maps, release it, and learn whether its exec succeeded.

use std::os::fd::OwnedFd;

use nix::sched::CloneFlags;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use super::SandboxError;
use super::init::{InitContext, container_init};
use super::message::{Message, channel_pair};
use super::namespaces::clone_flags;
use super::userns::{IdMapping, write_id_maps};

/// A container whose command has been exec'd.
pub struct StartedContainer {
    pub pid: Pid,
    /// Held open (rootless) so the namespace outlives the container and
    /// its files can be removed from inside it afterwards.
    pub user_namespace: Option<OwnedFd>,
    /// The container terminal's master side, with `-t`.
    pub pty_master: Option<OwnedFd>,
}

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// clone3 with fork semantics (no new stack: the child continues here on a
/// copy of our memory) but with all namespaces created at once, so the
/// child is PID 1 of its PID namespace without a second fork.
fn clone_into_namespaces(flags: CloneFlags) -> nix::Result<Option<Pid>> {
    let args = CloneArgs {
        flags: flags.bits() as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    // SAFETY: skiff is single-threaded on this path (no async runtime, no
    // helper threads), so the child may keep running Rust code; `args`
    // lives across the call and its size is passed.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match ret {
        -1 => Err(nix::Error::last()),
        0 => Ok(None),
        pid => Ok(Some(Pid::from_raw(pid as i32))),
    }
}

fn mappings(spec: &oci_spec::runtime::Spec) -> Option<(Vec<IdMapping>, Vec<IdMapping>)> {
    let linux = spec.linux().as_ref()?;
    let convert = |maps: &Vec<oci_spec::runtime::LinuxIdMapping>| {
        maps.iter()
            .map(|m| IdMapping {
                container_id: m.container_id(),
                host_id: m.host_id(),
                size: m.size(),
            })
            .collect::<Vec<_>>()
    };
    Some((
        convert(linux.uid_mappings().as_ref()?),
        convert(linux.gid_mappings().as_ref()?),
    ))
}

/// Starts the container described by `ctx`; returns once its command runs.
pub fn start(ctx: &InitContext) -> Result<StartedContainer, SandboxError> {
    let (parent_end, child_end) =
        channel_pair().map_err(SandboxError::sys("creating the setup channel"))?;
    let flags = clone_flags(ctx.spec);
    let Some(pid) = clone_into_namespaces(flags)
        .map_err(SandboxError::sys("creating the container's namespaces"))?
    else {
        drop(parent_end);
        container_init(ctx, child_end);
    };
    drop(child_end);

    let abort = |err: SandboxError| {
        let _ = kill(pid, Signal::SIGKILL);
        let _ = waitpid(pid, None);
        err
    };
    let mut user_namespace = None;
    if let Some((uids, gids)) = mappings(ctx.spec) {
        write_id_maps(pid.as_raw(), &uids, &gids).map_err(|e| abort(e.into()))?;
        let ns = std::fs::File::open(format!("/proc/{pid}/ns/user")).map_err(|e| {
            abort(SandboxError::Setup(format!(
                "holding the user namespace: {e}"
            )))
        })?;
        user_namespace = Some(OwnedFd::from(ns));
    }
    parent_end
        .send(&Message::Go)
        .map_err(|e| abort(SandboxError::sys("releasing the container")(e)))?;

    let mut pty_master = None;
    loop {
        match parent_end.recv() {
            Ok(None) => break, // init exec'd: its end closed on exec
            Ok(Some((Message::PtyMaster, fd))) => pty_master = fd,
            Ok(Some((Message::Failed { exit_code, text }, _))) => {
                let _ = waitpid(pid, None);
                return Err(SandboxError::Init { exit_code, text });
            }
            Ok(Some((Message::Go, _))) => {}
            Err(e) => {
                return Err(abort(SandboxError::sys(
                    "waiting for the container to start",
                )(e)));
            }
        }
    }
    Ok(StartedContainer {
        pid,
        user_namespace,
        pty_master,
    })
}
