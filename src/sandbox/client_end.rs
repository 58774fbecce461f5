//! What ends a client that streams a container's output (`logs -f`,
//! `attach`, a foreground `run`, `exec`, `stats`): the reader of its
//! stdout or stderr going away (a pipeline's `head`), or a signal.
//!
//! Such a client ends as any process in a pipeline does: it dies of the
//! signal (SIGPIPE when its reader went away), so a shell or `timeout`
//! sees 128+N. The library only reports the signal
//! (`SandboxError::Interrupted`); `main` dies of it once every guard (raw
//! terminal mode, signal mask, the container's record) was dropped.

use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use nix::fcntl::{FcntlArg, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigHandler, SigSet, Signal};

/// A second SIGINT within this time of the first ends a client that
/// forwards signals (a PID 1 without a handler ignores SIGINT).
pub const SECOND_INTERRUPT_WINDOW: Duration = Duration::from_secs(1);

/// The client's own stdout and stderr, watched for their readers.
pub struct OutputWatch {
    fds: Vec<BorrowedFd<'static>>,
}

impl OutputWatch {
    /// Watches fds 1 and 2, those that are open.
    pub fn stdio() -> OutputWatch {
        // SAFETY: skiff never closes its fds 1 and 2, so they stay open for
        // the life of the process.
        let stdio = unsafe { [BorrowedFd::borrow_raw(1), BorrowedFd::borrow_raw(2)] };
        let fds = stdio
            .into_iter()
            .filter(|fd| fcntl(fd, FcntlArg::F_GETFD).is_ok())
            .collect();
        OutputWatch { fds }
    }

    /// Entries for poll(2) that ask for no event: the kernel still reports
    /// POLLERR on a pipe whose readers all closed, POLLHUP on a socket
    /// shut down both ways or a terminal hung up; a regular file or
    /// /dev/null reports nothing.
    pub fn poll_fds(&self) -> Vec<PollFd<'static>> {
        self.fds
            .iter()
            .map(|fd| PollFd::new(*fd, PollFlags::empty()))
            .collect()
    }

    /// Whether one of the entries `poll_fds` made says its reader is gone.
    pub fn reader_gone(entries: &[PollFd]) -> bool {
        entries.iter().any(|e| {
            e.revents()
                .is_some_and(|r| r.intersects(PollFlags::POLLERR | PollFlags::POLLHUP))
        })
    }

    /// Sleeps for `timeout`, or less when a reader goes away (true then).
    pub fn wait(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let mut entries = self.poll_fds();
            let ms = PollTimeout::try_from(left.as_millis().min(i32::MAX as u128) as i32)
                .unwrap_or(PollTimeout::NONE);
            match poll(&mut entries, ms) {
                Ok(0) => return false,
                Ok(_) if Self::reader_gone(&entries) => return true,
                // POLLNVAL: not a reader going away; sleep as asked.
                Ok(_) => {
                    std::thread::sleep(left);
                    return false;
                }
                Err(nix::Error::EINTR) => continue,
                Err(_) => {
                    std::thread::sleep(left);
                    return false;
                }
            }
        }
    }
}

/// Writes all of `data` to `fd`. An error other than EINTR means the
/// output is lost for good (EPIPE: the reader went away; EIO: the
/// terminal hung up); a non-blocking fd is waited on.
pub fn write_all(fd: BorrowedFd, mut data: &[u8]) -> Result<(), nix::Error> {
    while !data.is_empty() {
        match nix::unistd::write(fd, data) {
            Ok(n) => data = &data[n..],
            Err(nix::Error::EINTR) => continue,
            Err(nix::Error::EAGAIN) => {
                let mut entry = [PollFd::new(fd, PollFlags::POLLOUT)];
                let _ = poll(&mut entry, PollTimeout::NONE);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// What a client does with a signal it received (other than SIGWINCH
/// and SIGCHLD, which it handles itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalAction {
    /// Pass it on to the container's process.
    Forward,
    /// End the client, as the signal's default action would.
    End,
}

/// docker's `--sig-proxy`: forward what the client receives, or let it
/// end the client. Forwarding, a second SIGINT within
/// `SECOND_INTERRUPT_WINDOW` ends the client.
pub struct SignalPolicy {
    proxy: bool,
    last_interrupt: Option<Instant>,
}

impl SignalPolicy {
    pub fn new(proxy: bool) -> SignalPolicy {
        SignalPolicy {
            proxy,
            last_interrupt: None,
        }
    }

    pub fn decide(&mut self, signal: Signal, now: Instant) -> SignalAction {
        if !self.proxy {
            return SignalAction::End;
        }
        if signal == Signal::SIGINT {
            if self
                .last_interrupt
                .is_some_and(|t| now.duration_since(t) < SECOND_INTERRUPT_WINDOW)
            {
                return SignalAction::End;
            }
            self.last_interrupt = Some(now);
        }
        SignalAction::Forward
    }
}

/// Ends this process by `signal`'s default action, so its parent sees
/// it killed by the signal; a signal whose default would dump core
/// becomes an exit with 128+N instead.
pub fn die_of(signal: Signal) -> ! {
    let code = 128 + signal as i32;
    if matches!(
        signal,
        Signal::SIGPIPE
            | Signal::SIGINT
            | Signal::SIGTERM
            | Signal::SIGHUP
            | Signal::SIGUSR1
            | Signal::SIGUSR2
    ) {
        // SAFETY: the default disposition installs no handler, so no code
        // of ours runs in signal context.
        let _ = unsafe { nix::sys::signal::signal(signal, SigHandler::SigDfl) };
        let mut set = SigSet::empty();
        set.add(signal);
        let _ = set.thread_unblock();
        let _ = nix::sys::signal::raise(signal);
    }
    std::process::exit(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::{AsFd, AsRawFd, OwnedFd};

    #[test]
    fn without_proxy_every_signal_ends_the_client() {
        let mut policy = SignalPolicy::new(false);
        let now = Instant::now();
        assert_eq!(policy.decide(Signal::SIGTERM, now), SignalAction::End);
        assert_eq!(policy.decide(Signal::SIGHUP, now), SignalAction::End);
    }

    #[test]
    fn forwarding_a_second_interrupt_soon_after_the_first_ends_the_client() {
        let mut policy = SignalPolicy::new(true);
        let start = Instant::now();
        assert_eq!(policy.decide(Signal::SIGINT, start), SignalAction::Forward);
        assert_eq!(policy.decide(Signal::SIGTERM, start), SignalAction::Forward);
        let late = start + SECOND_INTERRUPT_WINDOW + Duration::from_millis(1);
        assert_eq!(policy.decide(Signal::SIGINT, late), SignalAction::Forward);
        let soon = late + Duration::from_millis(300);
        assert_eq!(policy.decide(Signal::SIGINT, soon), SignalAction::End);
    }

    #[test]
    fn a_pipe_without_readers_is_seen_and_one_with_a_reader_is_not() {
        let (read, write) = nix::unistd::pipe().unwrap();
        let watch = OutputWatch {
            fds: vec![unsafe_static(&write)],
        };
        assert!(!watch.wait(Duration::from_millis(20)));
        drop(read);
        assert!(watch.wait(Duration::from_secs(5)));
        assert_eq!(write_all(write.as_fd(), b"x"), Err(nix::Error::EPIPE));
    }

    fn unsafe_static(fd: &OwnedFd) -> BorrowedFd<'static> {
        // SAFETY: the test keeps the fd open until the watch is dropped.
        unsafe { BorrowedFd::borrow_raw(fd.as_raw_fd()) }
    }
}
