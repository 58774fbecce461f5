//! The shared rootless network namespace's pasta: started by whichever
//! start makes the namespace, waited for by every start that finds it not
//! configured yet, ended by whichever run leaves last. So it is nobody's
//! child: it runs in the foreground (`--foreground`: no fork of its own,
//! its PID is known at once and recorded before it is ready) of a session
//! of its own (a terminal's Ctrl-C must not reach it), double-forked so
//! it is reparented away from the start that made it (a long-lived monitor
//! would collect zombies of it). Ready = its `-P` file holds its PID: pasta
//! writes it once the namespace is configured (in the foreground as after
//! forking into the background), and removes nothing on exit, so the file
//! is removed before every start and its content must be this PID.

use std::fs;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

use super::NetError;
use super::pasta::arguments;

/// How long pasta may take to configure the namespace (it takes ~20-60 ms).
pub const READY_DEADLINE: Duration = Duration::from_secs(30);

/// Where a detached pasta for the namespace of some PID keeps its files.
#[derive(Debug, Clone)]
pub struct DetachedPasta {
    pub pid_file: PathBuf,
    pub log_file: PathBuf,
}

impl DetachedPasta {
    pub fn in_dir(run_dir: &Path) -> DetachedPasta {
        DetachedPasta {
            pid_file: run_dir.join("pasta.pid"),
            log_file: run_dir.join("pasta.log"),
        }
    }

    /// Starts pasta on the namespaces of process `target` (no published
    /// ports); returns its PID without waiting for it.
    pub fn spawn(&self, target: i32) -> Result<i32, NetError> {
        self.start(arguments(target, &[], &self.pid_file), &[])
    }

    /// Starts pasta on the user and network namespaces behind `userns`
    /// and `netns` (open fds, passed on to it), which need no process in
    /// them and no ID maps yet; returns its PID without waiting for it.
    pub fn spawn_into(&self, userns: BorrowedFd, netns: BorrowedFd) -> Result<i32, NetError> {
        let args = super::pasta::arguments_for_fds(&[], &self.pid_file, userns, netns);
        self.start(args, &[userns.as_raw_fd(), netns.as_raw_fd()])
    }

    fn start(&self, pasta_args: Vec<String>, inherit: &[RawFd]) -> Result<i32, NetError> {
        let failed = |what: &str, e: std::io::Error| NetError::Pasta(format!("{what}: {e}"));
        // A previous pasta's PID must not read as this one being ready.
        match fs::remove_file(&self.pid_file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(failed(&format!("removing {}", self.pid_file.display()), e)),
        }
        let log = fs::File::create(&self.log_file)
            .map_err(|e| failed(&format!("creating {}", self.log_file.display()), e))?;
        let (pid_read, pid_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| failed("creating a pipe", e.into()))?;
        let raw_write = pid_write.as_raw_fd();
        // IPv4 only: the bridges behind it carry IPv4 alone, and pasta
        // configures the namespace in 13-14 ms instead of 17-21 (measured).
        let mut args = vec!["--foreground".to_string(), "-4".to_string()];
        args.extend(pasta_args);
        let inherit = inherit.to_vec();
        let mut command = super::pasta::pasta_command(args, log);
        // SAFETY: runs between fork and exec in the child: only fork,
        // write, setsid, fcntl and _exit, all async-signal-safe, and no
        // allocation. The middle
        // process reports the grandchild's PID and exits; the grandchild
        // goes on to exec pasta (an exec failure reaches `spawn` through
        // std's own error pipe, which the middle process's exit and the
        // grandchild's exec both close).
        unsafe {
            command.pre_exec(move || {
                let pid = libc::fork();
                if pid < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if pid > 0 {
                    let bytes = pid.to_ne_bytes();
                    libc::write(raw_write, bytes.as_ptr().cast(), bytes.len());
                    libc::_exit(0);
                }
                libc::close(raw_write);
                libc::setsid();
                // The namespaces' fds reach pasta (close-on-exec cleared
                // in this process only), nothing else does.
                super::pasta::pass_only(&inherit)
            });
        }
        let mut middle = command
            .spawn()
            .map_err(|e| NetError::Pasta(format!("starting pasta: {e}")))?;
        drop(pid_write);
        let _ = middle.wait();
        let mut bytes = [0u8; 4];
        fs::File::from(pid_read)
            .read_exact(&mut bytes)
            .map_err(|e| failed("reading the PID of pasta", e))?;
        Ok(i32::from_ne_bytes(bytes))
    }

    /// Whether pasta `pid` has configured the namespace.
    pub fn is_ready(&self, pid: i32) -> bool {
        fs::read_to_string(&self.pid_file).is_ok_and(|t| t.trim().parse() == Ok(pid))
    }

    /// Waits until pasta `pid` has configured the namespace. `same` says
    /// whether `pid` is still that pasta (not a reused PID); it is asked
    /// once the process is held by a pidfd.
    pub fn wait_ready(&self, pid: i32, same: impl Fn() -> bool) -> Result<(), NetError> {
        if self.is_ready(pid) {
            return Ok(());
        }
        let dir = self.pid_file.parent().unwrap_or(Path::new("/"));
        let inotify = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)
            .map_err(|e| NetError::Pasta(format!("watching for pasta: {e}")))?;
        inotify
            .add_watch(
                dir,
                AddWatchFlags::IN_MODIFY | AddWatchFlags::IN_CLOSE_WRITE,
            )
            .map_err(|e| NetError::Pasta(format!("watching {}: {e}", dir.display())))?;
        let process = pidfd(pid).filter(|_| same());
        let deadline = Instant::now() + READY_DEADLINE;
        loop {
            // Checked after the watch is set: a write before it is seen here.
            if self.is_ready(pid) {
                return Ok(());
            }
            let Some(process) = &process else {
                return Err(self.ended());
            };
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(NetError::Pasta(format!(
                    "pasta did not configure the network within {} s",
                    READY_DEADLINE.as_secs()
                )));
            }
            let timeout = PollTimeout::try_from(left.as_millis().min(60_000) as i32)
                .unwrap_or(PollTimeout::MAX);
            let mut fds = [
                PollFd::new(inotify.as_fd(), PollFlags::POLLIN),
                PollFd::new(process.as_fd(), PollFlags::POLLIN),
            ];
            match poll(&mut fds, timeout) {
                Ok(_) | Err(nix::Error::EINTR) => {}
                Err(e) => return Err(NetError::Pasta(format!("waiting for pasta: {e}"))),
            }
            let exited = fds[1]
                .revents()
                .is_some_and(|r| r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP));
            let _ = inotify.read_events();
            if exited && !self.is_ready(pid) {
                return Err(self.ended());
            }
        }
    }

    fn ended(&self) -> NetError {
        let text = fs::read_to_string(&self.log_file).unwrap_or_default();
        let text: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        NetError::Pasta(format!(
            "pasta ended before it configured the network: {}",
            text.join("; ")
        ))
    }
}

/// A pidfd of `pid` (readable once it exits); `None` when it is gone.
fn pidfd(pid: i32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a PID and flags and returns a new fd or -1.
    let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    // SAFETY: a fresh fd that nothing else owns.
    (raw >= 0).then(|| unsafe { OwnedFd::from_raw_fd(raw as i32) })
}
