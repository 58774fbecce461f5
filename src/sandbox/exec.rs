//! `skiff exec`: a new process inside a running container, started by
//! `setns::spawn_in_namespaces` in all of the container's namespaces
//! (its user namespace first, so joining the others is permitted
//! rootless), after joining its cgroup.

use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Instant;

use nix::fcntl::{OFlag, open};
use nix::pty::Winsize;
use nix::sched::CloneFlags;
use nix::sys::signal::{Signal, kill};
use nix::sys::stat::Mode;
use nix::sys::wait::waitpid;
use nix::unistd::{Pid, dup2_stdin};
use oci_spec::runtime::Process;

use super::SandboxError;
use super::init::attach_terminal;
use super::last_steps::{LastSteps, exec_process, prepare_process, report_failure};
use super::message::{Channel, Message, channel_pair};
use super::process::SETUP_DEADLINE;
use super::setns::{open_all_namespaces, spawn_in_namespaces};

/// What runs, and how it is wired, for one `exec`.
pub struct ExecRequest<'a> {
    pub container_pid: i32,
    pub process: &'a Process,
    pub interactive: bool,
    /// `exec -d`: the process gets /dev/null for stdout and stderr too,
    /// so it holds nothing of the caller's open.
    pub detach: bool,
    pub winsize: Option<Winsize>,
    /// The container's cgroup, joined before its namespaces.
    pub cgroup: Option<&'a super::cgroups::Cgroup>,
    /// The container's compiled seccomp filter, loaded last as in init.
    pub seccomp: Option<&'a super::seccomp::SeccompProgram>,
}

/// An exec'd process: skiff's child, inside the container.
pub struct ExecProcess {
    pub pid: Pid,
    pub pty_master: Option<OwnedFd>,
}

/// Starts `req.process` in the container; returns once it was exec'd.
pub fn exec_in_container(req: &ExecRequest) -> Result<ExecProcess, SandboxError> {
    let namespaces = open_all_namespaces(req.container_pid)?;
    let (parent_end, child_end) =
        channel_pair().map_err(SandboxError::sys("creating the exec channel"))?;
    let helper = spawn_in_namespaces(
        &namespaces,
        CloneFlags::empty(),
        None,
        child_end,
        |chan| join_cgroup(req, chan),
        |chan| run_process(req, chan),
    )?;
    let _ = waitpid(helper, None);
    let mut pid = None;
    let mut pty_master = None;
    let deadline = Instant::now() + SETUP_DEADLINE;
    loop {
        match parent_end.recv_before(deadline) {
            Ok(None) => break,
            Ok(Some((Message::Started { pid: p }, _))) => pid = Some(Pid::from_raw(p)),
            Ok(Some((Message::PtyMaster, fd))) => pty_master = fd,
            Ok(Some((Message::Failed { exit_code, text }, _))) => {
                if let Some(p) = pid {
                    let _ = waitpid(p, None);
                }
                return Err(SandboxError::Init { exit_code, text });
            }
            Ok(Some((Message::Go | Message::Warning(_), _))) => {}
            Err(e) => {
                if let Some(p) = pid {
                    let _ = kill(p, Signal::SIGKILL);
                    let _ = waitpid(p, None);
                }
                return Err(SandboxError::sys("waiting for the exec'd process")(e));
            }
        }
    }
    let pid = pid.ok_or_else(|| SandboxError::Setup("the exec helper ended early".into()))?;
    Ok(ExecProcess { pid, pty_master })
}

/// In the helper, first, while its view of the cgroup filesystem is
/// still the host's; the process cloned after it inherits the cgroup.
/// A rootless caller outside the delegated subtree the container was
/// started from may not move itself there (as runc, the process then runs
/// outside it); any other failure is an error.
fn join_cgroup(req: &ExecRequest, chan: &Channel) {
    if let Some(cgroup) = req.cgroup
        && let Err(e) = cgroup.join(0)
        && !e.is_permission_denied()
    {
        report_failure(chan, 125, format!("joining the container's cgroup: {e}"));
    }
}

/// In the new process: its own session and terminal (or /dev/null),
/// then the last steps it shares with the container's init, then exec.
fn run_process(req: &ExecRequest, chan: Channel) -> ! {
    let process = req.process;
    let setup = || -> Result<(), String> {
        nix::unistd::setsid().map_err(|e| format!("setsid: {e}"))?;
        if process.terminal() == Some(true) {
            attach_terminal(&chan, req.winsize, process.user().uid()).map_err(|e| e.to_string())?;
        } else if !req.interactive || req.detach {
            let null = open("/dev/null", OFlag::O_RDWR | OFlag::O_CLOEXEC, Mode::empty())
                .map_err(|e| format!("opening /dev/null: {e}"))?;
            dup2_stdin(&null).map_err(|e| format!("redirecting stdin: {e}"))?;
            if req.detach {
                for target in [1, 2] {
                    // SAFETY: dup2 onto a standard fd; `null` stays open.
                    if unsafe { libc::dup2(null.as_raw_fd(), target) } < 0 {
                        return Err(format!("redirecting output: {}", nix::Error::last()));
                    }
                }
            }
        }
        let steps = LastSteps {
            create_workdir: false,
            die_with_parent: false,
            seccomp: req.seccomp,
        };
        prepare_process(process, &steps).map_err(|e| e.to_string())
    };
    if let Err(text) = setup() {
        report_failure(&chan, 125, text);
    }
    exec_process(process, &chan)
}
