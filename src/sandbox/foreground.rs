//! A foreground container: skiff itself waits for it, forwards the signals
//! it receives, relays the terminal with `-t`, and returns its exit code.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::Instant;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::pty::Winsize;
use nix::sys::signal::{SigSet, Signal, kill};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::termios::{SetArg, Termios, cfmakeraw, tcgetattr, tcsetattr};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::SandboxError;
use super::client_end::{self, OutputWatch, SignalAction, SignalPolicy};

/// Signals a foreground `skiff run` passes on to the container.
pub const FORWARDED_SIGNALS: [Signal; 7] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
];

/// Blocks the forwarded signals and SIGCHLD so none is lost between the
/// start of the container and the wait loop; they are read from a signalfd.
pub struct SignalGuard {
    fd: SignalFd,
    old_mask: SigSet,
}

impl SignalGuard {
    pub fn block() -> Result<SignalGuard, SandboxError> {
        let mut set = SigSet::empty();
        FORWARDED_SIGNALS.iter().for_each(|s| set.add(*s));
        set.add(Signal::SIGCHLD);
        let old_mask = set
            .thread_swap_mask(nix::sys::signal::SigmaskHow::SIG_BLOCK)
            .map_err(SandboxError::sys("blocking signals"))?;
        let fd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
            .map_err(SandboxError::sys("creating a signalfd"))?;
        Ok(SignalGuard { fd, old_mask })
    }
}

impl SignalGuard {
    /// The signalfd the blocked signals arrive on.
    pub fn fd(&self) -> &SignalFd {
        &self.fd
    }
}

impl Drop for SignalGuard {
    fn drop(&mut self) {
        let _ = self.old_mask.thread_set_mask();
    }
}

/// Puts the caller's terminal in raw mode while the container owns it.
pub struct RawMode {
    saved: Termios,
}

impl RawMode {
    pub fn enter(fd: BorrowedFd) -> Option<RawMode> {
        let saved = tcgetattr(fd).ok()?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(fd, SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = tcsetattr(std::io::stdin().as_fd(), SetArg::TCSAFLUSH, &self.saved);
    }
}

/// The size of skiff's own terminal, if it has one.
pub fn terminal_size() -> Option<Winsize> {
    for fd in [0, 1, 2] {
        // SAFETY: TIOCGWINSZ writes a winsize struct we own.
        let mut ws: Winsize = unsafe { std::mem::zeroed() };
        if unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == 0 && ws.ws_row > 0 {
            return Some(ws);
        }
    }
    None
}

fn exit_code(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(128 + sig as i32),
        _ => None,
    }
}

/// Writes all of `data` to `fd`, retrying on EINTR/EAGAIN; gives up
/// silently on other errors (the reader went away).
pub fn write_all(fd: BorrowedFd, mut data: &[u8]) {
    while !data.is_empty() {
        match nix::unistd::write(fd, data) {
            Ok(n) => data = &data[n..],
            Err(nix::Error::EINTR) | Err(nix::Error::EAGAIN) => continue,
            Err(_) => return,
        }
    }
}

/// Waits for the container, forwarding signals and relaying its terminal.
/// Returns the exit code as docker reports it (128+N when killed by N).
///
/// This process is the container's parent, so the container cannot
/// outlive it (init's parent-death signal). When the relay's output
/// loses its reader, or a signal ends the client (`sig_proxy` off, or a
/// second SIGINT soon after the first), the
/// container is killed and reaped here and the end is reported as
/// `SandboxError::Interrupted` (the caller records the container's exit,
/// then `main` dies of the signal). Without `-t` the container writes to
/// our stdout itself and meets a closed pipe as any process would.
pub fn wait_foreground(
    pid: Pid,
    signals: &SignalGuard,
    pty_master: Option<&OwnedFd>,
    interactive: bool,
    sig_proxy: bool,
) -> Result<i32, SandboxError> {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let _raw = match (pty_master, interactive) {
        (Some(_), true) => RawMode::enter(stdin.as_fd()),
        _ => None,
    };
    let output = OutputWatch::stdio();
    let mut policy = SignalPolicy::new(sig_proxy);
    let mut stdin_open = pty_master.is_some() && interactive;
    let mut master_open = pty_master.is_some();
    let mut status = None;
    let mut buf = vec![0u8; 64 * 1024];
    let end = |signal: Signal| {
        let _ = kill(pid, Signal::SIGKILL);
        let container_exit = loop {
            match waitpid(pid, None) {
                Err(nix::Error::EINTR) => continue,
                Ok(st) => match exit_code(st) {
                    Some(code) => break Some(code),
                    None => continue,
                },
                Err(_) => break None,
            }
        };
        SandboxError::Interrupted {
            signal,
            container_exit,
        }
    };
    loop {
        if let Some(code) = status
            && !master_open
        {
            return Ok(code);
        }
        let mut fds = vec![PollFd::new(signals.fd.as_fd(), PollFlags::POLLIN)];
        let master_idx = match (master_open, pty_master) {
            (true, Some(m)) => {
                fds.push(PollFd::new(m.as_fd(), PollFlags::POLLIN));
                Some(fds.len() - 1)
            }
            _ => None,
        };
        let stdin_idx = (stdin_open && status.is_none()).then(|| {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            fds.len() - 1
        });
        // Only a relay has output of its own to lose.
        let output_idx = fds.len();
        if master_idx.is_some() && status.is_none() {
            fds.extend(output.poll_fds());
        }
        // Once the container has exited, only drain what its terminal still
        // holds; don't wait for more.
        let timeout = if status.is_some() {
            PollTimeout::ZERO
        } else {
            PollTimeout::NONE
        };
        match poll(&mut fds, timeout) {
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(SandboxError::sys("waiting for the container")(e)),
            Ok(0) => master_open = false,
            Ok(_) => {}
        }
        let ready = |i: Option<usize>| {
            i.and_then(|i| fds[i].revents())
                .is_some_and(|r| !r.is_empty())
        };
        let (sig_ready, master_ready, stdin_ready) =
            (ready(Some(0)), ready(master_idx), ready(stdin_idx));
        let output_gone = OutputWatch::reader_gone(&fds[output_idx..]);
        drop(fds);
        if output_gone {
            return Err(end(Signal::SIGPIPE));
        }

        if sig_ready {
            while let Ok(Some(info)) = signals.fd.read_signal() {
                let Ok(sig) = Signal::try_from(info.ssi_signo as i32) else {
                    continue;
                };
                match sig {
                    Signal::SIGCHLD => {
                        if let Ok(st) = waitpid(pid, Some(WaitPidFlag::WNOHANG))
                            && let Some(code) = exit_code(st)
                        {
                            status = Some(code);
                        }
                    }
                    Signal::SIGWINCH if pty_master.is_some() => {
                        if let (Some(ws), Some(m)) = (terminal_size(), pty_master) {
                            // SAFETY: TIOCSWINSZ reads a winsize we own.
                            unsafe { libc::ioctl(m.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
                        }
                    }
                    Signal::SIGWINCH => {}
                    other => match policy.decide(other, Instant::now()) {
                        SignalAction::Forward => {
                            let _ = kill(pid, other);
                        }
                        SignalAction::End if status.is_none() => return Err(end(other)),
                        SignalAction::End => {}
                    },
                }
            }
        }
        if master_ready && let Some(m) = pty_master {
            match nix::unistd::read(m.as_fd(), &mut buf) {
                Ok(0) | Err(nix::Error::EIO) => master_open = false,
                Ok(n) => {
                    if client_end::write_all(stdout.as_fd(), &buf[..n]).is_err() {
                        if status.is_some() {
                            master_open = false;
                        } else {
                            return Err(end(Signal::SIGPIPE));
                        }
                    }
                }
                Err(nix::Error::EINTR) | Err(nix::Error::EAGAIN) => {}
                Err(_) => master_open = false,
            }
        }
        if stdin_ready && let Some(m) = pty_master {
            match nix::unistd::read(stdin.as_fd(), &mut buf) {
                Ok(0) | Err(_) => stdin_open = false,
                Ok(n) => write_all(m.as_fd(), &buf[..n]),
            }
        }
    }
}
