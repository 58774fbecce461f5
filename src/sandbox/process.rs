//! Starting a container: clone the child into its namespaces, write its ID
//! maps, release it, and learn whether its exec succeeded.

use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use super::SandboxError;
use super::init::{InitContext, container_init};
use super::message::{Message, channel_pair};
use super::namespaces::{clone_flags, clone_into_namespaces_and_cgroup};
use super::setns::{open_spec_namespaces, spawn_in_namespaces};
use super::userns::{IdMapping, write_id_maps};

/// A container whose command has been exec'd.
pub struct StartedContainer {
    pub pid: Pid,
    /// Held open (rootless) so the namespace outlives the container and
    /// its files can be removed from inside it afterwards.
    pub user_namespace: Option<OwnedFd>,
    /// The container terminal's master side, with `-t`.
    pub pty_master: Option<OwnedFd>,
    /// What init reported that the user should hear (driver fallbacks).
    pub warnings: Vec<String>,
}

/// Work done from outside the container, with its PID 1's PID, after its
/// ID maps are written and it is in its cgroup, and before its init goes
/// on: whatever needs the container's namespaces to exist while nothing
/// runs in them yet (moving a veth into its network namespace, starting
/// pasta on it). A failure aborts the start: the child is killed.
pub trait ParentSteps {
    fn before_go(&mut self, child: Pid) -> Result<(), SandboxError>;

    /// With `InitContext::wait_for_network`: runs after `Go`, while init
    /// does its own setup; returns once the network is ready, after which
    /// init is told so (`Message::NetworkReady`).
    fn network_ready(&mut self) -> Result<(), SandboxError> {
        Ok(())
    }
}

/// A start with no parent-side steps of its own.
pub struct NoParentSteps;

impl ParentSteps for NoParentSteps {
    fn before_go(&mut self, _child: Pid) -> Result<(), SandboxError> {
        Ok(())
    }
}

/// How long init may take from `Go` to exec. Its slowest legitimate work
/// is the copying root filesystem driver's copy of a large image.
pub const SETUP_DEADLINE: Duration = Duration::from_secs(300);

/// The spec's ID mappings (host IDs), when it has a user namespace.
pub fn mappings(spec: &oci_spec::runtime::Spec) -> Option<(Vec<IdMapping>, Vec<IdMapping>)> {
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

fn has_user_namespace(spec: &oci_spec::runtime::Spec) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|n| {
            n.iter()
                .any(|ns| ns.typ() == oci_spec::runtime::LinuxNamespaceType::User)
        })
}

/// The PID of init as its helper reports it.
fn started_pid(chan: &super::message::Channel) -> Result<Pid, SandboxError> {
    match chan.recv_before(Instant::now() + SETUP_DEADLINE) {
        Ok(Some((Message::Started { pid }, _))) => Ok(Pid::from_raw(pid)),
        Ok(Some((Message::Failed { exit_code, text }, _))) => {
            Err(SandboxError::Init { exit_code, text })
        }
        Ok(_) => Err(SandboxError::Setup(
            "the namespace helper ended without starting the container".into(),
        )),
        Err(e) => Err(SandboxError::sys("waiting for the namespace helper")(e)),
    }
}

/// Starts the container described by `ctx`; returns once its command runs.
/// `steps` run with the child's PID just before it is released.
pub fn start(
    ctx: &InitContext,
    steps: &mut dyn ParentSteps,
) -> Result<StartedContainer, SandboxError> {
    let (parent_end, child_end) =
        channel_pair().map_err(SandboxError::sys("creating the setup channel"))?;
    let flags = clone_flags(ctx.spec);
    let cgroup_fd = ctx.cgroup.and_then(|c| c.directory_fd());
    let joined = open_spec_namespaces(ctx.spec)?;
    let pid = if joined.is_empty() {
        let Some(pid) =
            clone_into_namespaces_and_cgroup(flags, cgroup_fd.as_ref().map(|f| f.as_fd()))
                .map_err(SandboxError::sys("creating the container's namespaces"))?
        else {
            drop(parent_end);
            container_init(ctx, child_end);
        };
        drop(child_end);
        pid
    } else {
        // Another container's namespaces are entered by a helper, and
        // init cloned from there (a PID namespace only takes children).
        let helper = spawn_in_namespaces(
            &joined,
            flags,
            cgroup_fd.as_ref().map(|f| f.as_fd()),
            child_end,
            |_| {},
            |chan| container_init(ctx, chan),
        )?;
        let _ = waitpid(helper, None);
        started_pid(&parent_end)?
    };

    let abort = |err: SandboxError| {
        let _ = kill(pid, Signal::SIGKILL);
        let _ = waitpid(pid, None);
        err
    };
    if let Some(cgroup) = ctx.cgroup
        && cgroup_fd.is_none()
    {
        cgroup.join(pid.as_raw()).map_err(|e| abort(e.into()))?;
    }
    let mut user_namespace = None;
    if let Some((uids, gids)) = mappings(ctx.spec) {
        write_id_maps(pid.as_raw(), &uids, &gids).map_err(|e| abort(e.into()))?;
    }
    // Created or entered (`--userns container:X`, rootless joins).
    if has_user_namespace(ctx.spec) {
        let ns = std::fs::File::open(format!("/proc/{pid}/ns/user")).map_err(|e| {
            abort(SandboxError::Setup(format!(
                "holding the user namespace: {e}"
            )))
        })?;
        user_namespace = Some(OwnedFd::from(ns));
    }
    steps.before_go(pid).map_err(abort)?;
    parent_end
        .send(&Message::Go)
        .map_err(|e| abort(SandboxError::sys("releasing the container")(e)))?;
    if ctx.wait_for_network {
        steps.network_ready().map_err(abort)?;
        // An init that failed meanwhile has closed its end: its own
        // error is read below.
        let _ = parent_end.send(&Message::NetworkReady);
    }

    let mut pty_master = None;
    let mut warnings = Vec::new();
    let deadline = Instant::now() + SETUP_DEADLINE;
    loop {
        match parent_end.recv_before(deadline) {
            Ok(None) => break, // init exec'd: its end closed on exec
            Ok(Some((Message::PtyMaster, fd))) => pty_master = fd,
            Ok(Some((Message::Failed { exit_code, text }, _))) => {
                let _ = waitpid(pid, None);
                return Err(SandboxError::Init { exit_code, text });
            }
            Ok(Some((Message::Warning(text), _))) => warnings.push(text),
            Ok(Some((Message::Go | Message::NetworkReady | Message::Started { .. }, _))) => {}
            Err(nix::Error::ETIMEDOUT) => {
                return Err(abort(SandboxError::Setup(format!(
                    "the container's init did not finish its setup within {} s",
                    SETUP_DEADLINE.as_secs()
                ))));
            }
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
        warnings,
    })
}
