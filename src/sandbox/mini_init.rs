//! `--init`: the container's PID 1 stays this small loop instead of
//! becoming the command. It forwards every signal it gets to the command,
//! real-time ones (`SIGRTMIN+3`, …) included (PID 1 would otherwise ignore
//! those it has no handler for), and reaps orphaned processes, which the
//! kernel re-parents to PID 1.

use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

/// Runs until `command` exits, then exits with its status (128+N when
/// killed by signal N).
pub fn supervise(command: Pid) -> ! {
    let _ = nix::sys::prctl::set_name(c"skiff-init");
    // nix's `Signal` has no real-time signals, so the set and the wait use
    // raw numbers.
    // SAFETY: sigset_t is plain data; sigfillset initialises it fully.
    let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `all` is a valid sigset_t we own; the mask blocks every
    // signal so each one arrives through sigwait below.
    unsafe {
        libc::sigfillset(&mut all);
        libc::sigprocmask(libc::SIG_SETMASK, &all, std::ptr::null_mut());
    }
    loop {
        let mut signal: libc::c_int = 0;
        // SAFETY: `all` and `signal` are valid for the call.
        if unsafe { libc::sigwait(&all, &mut signal) } != 0 {
            continue;
        }
        if signal != libc::SIGCHLD {
            // SAFETY: kill(2) has no memory effects.
            unsafe { libc::kill(command.as_raw(), signal) };
            continue;
        }
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) if pid == command => exit(code),
                Ok(WaitStatus::Signaled(pid, sig, _)) if pid == command => exit(128 + sig as i32),
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }
}

fn exit(code: i32) -> ! {
    // SAFETY: PID 1 of the container ends here; nothing to unwind.
    unsafe { libc::_exit(code) }
}
