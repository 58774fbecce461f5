//! The last steps of every process skiff starts in a container, shared by
//! the container's init and `exec`: working directory, rlimits and umask,
//! identity and privileges (user, groups, capabilities, no_new_privs),
//! signal dispositions, inherited fds, the seccomp filter, then exec. A security
//! feature written here holds for both.

use nix::sys::signal::Signal;
use oci_spec::runtime::Process;

use super::SetupError;
use super::command::exec_command;
use super::init::reset_signals;
use super::message::{Channel, Message};
use super::seccomp::SeccompProgram;

/// Where the last steps differ between init and `exec`.
pub struct LastSteps<'a> {
    /// Create the working directory when missing (docker does for the
    /// container's command; `exec` only enters it).
    pub create_workdir: bool,
    /// Die with the parent (init: a killed `skiff run` or monitor must
    /// not leave an orphaned container; an exec'd process outlives its
    /// client, as in docker).
    pub die_with_parent: bool,
    /// The container's compiled seccomp filter (the same for init and
    /// every `exec`); `None` for `seccomp=unconfined`.
    pub seccomp: Option<&'a SeccompProgram>,
}

/// Runs the last steps before exec, in their security-relevant order.
pub fn prepare_process(process: &Process, steps: &LastSteps) -> Result<(), SetupError> {
    // The working directory is created as container root, before the
    // identity switch, as docker does.
    let cwd = process.cwd();
    if steps.create_workdir {
        std::fs::create_dir_all(cwd).map_err(|source| SetupError::Io {
            what: format!("creating working directory {}", cwd.display()),
            source,
        })?;
    }
    std::env::set_current_dir(cwd).map_err(|source| SetupError::Io {
        what: format!("entering working directory {}", cwd.display()),
        source,
    })?;

    // rlimits (`--ulimit`) and the umask before the identity switch: it
    // drops the capabilities raising a limit back up to ours may need.
    super::limits::apply_process_limits(process)?;
    // When the seccomp filter is loaded, as runc and crun decide it: with
    // no_new_privs (skiff's default) any process may load a filter, so it
    // comes last, right before exec, and constrains nothing of skiff's
    // own set-up. Without no_new_privs the kernel wants CAP_SYS_ADMIN in
    // the user namespace, which the identity switch below drops (a
    // non-root user, or root with docker's capability set): then it is
    // loaded now, while init still holds every capability, and the
    // filter must allow the switch's own calls (setgroups, setresuid,
    // capset, prctl; docker's default profile does).
    let no_new_privs = process.no_new_privileges() == Some(true);
    if let (false, Some(filter)) = (no_new_privs, steps.seccomp) {
        super::seccomp::load(filter)?;
    }

    // Identity and privileges last: every step before needed root in the
    // namespace.
    super::security::apply_identity(process)?;

    // A setuid above cleared the parent-death signal; set it only now.
    if steps.die_with_parent {
        let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    }

    // skiff blocked some signals and ignores SIGPIPE; the process starts
    // with defaults, like any freshly exec'd program.
    reset_signals();

    // No fd of skiff's reaches the process (the channel is close-on-exec,
    // so its end-of-file tells the parent the exec happened).
    super::init::close_inherited_fds();

    if let (true, Some(filter)) = (no_new_privs, steps.seccomp) {
        super::seccomp::load(filter)?;
    }
    Ok(())
}

/// Execs the process's command; on failure reports why (126/127) to the
/// parent and exits with that code.
pub fn exec_process(process: &Process, chan: &Channel) -> ! {
    let args = process.args().clone().unwrap_or_default();
    let env = process.env().clone().unwrap_or_default();
    let failed = exec_command(&args, &env);
    report_failure(chan, failed.exit_code, failed.text)
}

/// Tells the parent why this child cannot go on, and exits with the code.
pub fn report_failure(chan: &Channel, exit_code: u8, text: String) -> ! {
    let _ = chan.send(&Message::Failed { exit_code, text });
    // SAFETY: leave the forked child without running the parent's
    // destructors or atexit handlers.
    unsafe { libc::_exit(exit_code as i32) }
}
