//! `--init`: the container's PID 1 stays this small loop instead of
//! becoming the command. It forwards every signal it gets to the command
//! (PID 1 would otherwise ignore those it has no handler for) and reaps
//! orphaned processes, which the kernel re-parents to PID 1.

use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, sigprocmask};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

/// Runs until `command` exits, then exits with its status (128+N when
/// killed by signal N).
pub fn supervise(command: Pid) -> ! {
    let _ = nix::sys::prctl::set_name(c"skiff-init");
    let all = SigSet::all();
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&all), None);
    loop {
        let Ok(signal) = all.wait() else { continue };
        if signal != Signal::SIGCHLD {
            let _ = kill(command, signal);
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
