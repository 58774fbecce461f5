//! The monitor's poll loop for one run of the container: output to the
//! log and to attached clients, clients' input to the container, signals,
//! reaping, and the healthcheck timer.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill};
use nix::sys::signalfd::SignalFd;
use nix::sys::socket::{MsgFlags, SockFlag, accept4, recv, send, setsockopt, sockopt::SendTimeout};
use nix::sys::time::TimeVal;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::attach_protocol::{Frame, MAX_PAYLOAD, listen_at};
use super::trim::Trimmer;
use crate::sandbox::foreground::write_all;
use crate::state::log::{LogWriter, Stream};
use crate::state::{ContainerRecord, StorageDirs};

/// How long output is still drained after PID 1 exited. Its other
/// processes die with it, so the pipes close at once unless something
/// outside the container holds them.
const DRAIN_LIMIT: Duration = Duration::from_secs(2);
/// A client that does not read for this long is dropped, so one stuck
/// `attach` cannot stall the container's output.
const CLIENT_SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// The container's ends of its stdio, seen from the monitor.
#[derive(Default)]
pub struct Streams {
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
    pub pty: Option<OwnedFd>,
    /// The write end of the container's stdin pipe (`-i` without `-t`).
    pub stdin: Option<OwnedFd>,
}

struct HealthTimer {
    interval: Duration,
    next: Instant,
    running: Option<Pid>,
}

pub struct Relay {
    log: LogWriter,
    signals: SignalFd,
    socket_path: PathBuf,
    listener: Option<OwnedFd>,
    clients: Vec<OwnedFd>,
    pid: Option<Pid>,
    exit_code: Option<i32>,
    streams: Streams,
    pending_stdin: Vec<u8>,
    health: Option<HealthTimer>,
    trimmer: Trimmer,
}

fn exit_code_of(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(128 + sig as i32),
        _ => None,
    }
}

fn read_chunk(fd: BorrowedFd, buf: &mut [u8]) -> Option<usize> {
    loop {
        match nix::unistd::read(fd, buf) {
            Ok(0) => return None,
            Ok(n) => return Some(n),
            Err(nix::Error::EINTR) => continue,
            Err(nix::Error::EAGAIN) => return Some(0),
            // EIO: a terminal whose last slave fd closed.
            Err(_) => return None,
        }
    }
}

impl Relay {
    pub fn new(log: LogWriter, signals: SignalFd, socket_path: PathBuf) -> Relay {
        Relay {
            log,
            signals,
            socket_path,
            listener: None,
            clients: Vec::new(),
            pid: None,
            exit_code: None,
            streams: Streams::default(),
            pending_stdin: Vec::new(),
            health: None,
            trimmer: Trimmer::new(),
        }
    }

    /// Gives back what start-up (or the last burst of work) left resident.
    pub fn trim(&mut self) {
        self.trimmer.trim();
    }

    /// Starts relaying for a freshly started container process.
    pub fn begin(&mut self, pid: Pid, streams: Streams, record: &ContainerRecord) {
        if let Some(stdin) = &streams.stdin {
            let _ = fcntl(stdin, FcntlArg::F_SETFL(OFlag::O_NONBLOCK));
        }
        self.pid = Some(pid);
        self.exit_code = None;
        self.streams = streams;
        self.pending_stdin.clear();
        self.health = record.config.healthcheck.as_ref().map(|h| {
            let interval = Duration::from_nanos(h.interval_ns.max(1_000_000));
            HealthTimer {
                interval,
                next: Instant::now() + interval,
                running: None,
            }
        });
        if self.listener.is_none() {
            self.listener = listen_at(&self.socket_path).ok();
        }
    }

    /// Opens the attach socket before the container starts (`start -a`).
    pub fn listen(&mut self) -> std::io::Result<()> {
        if let Some(dir) = self.socket_path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        self.listener = Some(listen_at(&self.socket_path)?);
        Ok(())
    }

    /// Waits for the first client to connect, up to `timeout`.
    pub fn wait_for_client(&mut self, timeout: Duration) -> bool {
        let Some(listener) = &self.listener else {
            return false;
        };
        let mut fds = [PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
        let timeout = PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX);
        if !matches!(poll(&mut fds, timeout), Ok(n) if n > 0) {
            return false;
        }
        self.accept_client();
        !self.clients.is_empty()
    }

    fn output_open(&self) -> bool {
        self.streams.stdout.is_some() || self.streams.stderr.is_some() || self.streams.pty.is_some()
    }

    fn broadcast(&mut self, frame: &Frame) {
        let bytes = frame.encode();
        self.clients
            .retain(|c| send(c.as_raw_fd(), &bytes, MsgFlags::MSG_NOSIGNAL).is_ok());
    }

    fn reap(&mut self) {
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(status) => {
                    let pid = status.pid();
                    if pid.is_some() && pid == self.pid {
                        if let Some(code) = exit_code_of(status) {
                            self.exit_code = Some(code);
                        }
                    } else if let Some(h) = &mut self.health
                        && pid.is_some()
                        && pid == h.running
                    {
                        h.running = None;
                    }
                }
            }
        }
    }

    fn handle_signals(&mut self) -> bool {
        let mut terminate = false;
        while let Ok(Some(info)) = self.signals.read_signal() {
            match Signal::try_from(info.ssi_signo as i32) {
                Ok(Signal::SIGCHLD) => self.reap(),
                Ok(sig @ (Signal::SIGTERM | Signal::SIGINT | Signal::SIGHUP)) => match self.pid {
                    Some(pid) if self.exit_code.is_none() => {
                        let _ = kill(pid, sig);
                    }
                    _ => terminate = true,
                },
                _ => {}
            }
        }
        terminate
    }

    fn spawn_healthcheck(&mut self, dirs: &StorageDirs, record: &ContainerRecord) {
        let Some(h) = &mut self.health else { return };
        if h.running.is_some() || Instant::now() < h.next {
            return;
        }
        h.next = Instant::now() + h.interval;
        let child = std::process::Command::new("/proc/self/exe")
            .arg("--root")
            .arg(&dirs.root)
            .arg("--runroot")
            .arg(&dirs.runroot)
            .args(["healthcheck", "run", &record.id])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        if let Ok(child) = child {
            h.running = Some(Pid::from_raw(child.id() as i32));
        }
    }

    fn accept_client(&mut self) {
        let Some(listener) = &self.listener else {
            return;
        };
        if let Ok(fd) = accept4(listener.as_raw_fd(), SockFlag::SOCK_CLOEXEC) {
            // SAFETY: accept4 returned a new fd that nothing else owns.
            let client = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
            let timeout = TimeVal::new(CLIENT_SEND_TIMEOUT.as_secs() as i64, 0);
            let _ = setsockopt(&client, SendTimeout, &timeout);
            self.clients.push(client);
        }
    }

    /// Handles what client `index` sent; false when it went away.
    fn serve_client(&mut self, index: usize) -> bool {
        let mut buf = vec![0u8; MAX_PAYLOAD + 16];
        let n = match recv(
            self.clients[index].as_raw_fd(),
            &mut buf,
            MsgFlags::MSG_DONTWAIT,
        ) {
            Ok(0) => return false,
            Ok(n) => n,
            Err(nix::Error::EAGAIN) | Err(nix::Error::EINTR) => return true,
            Err(_) => return false,
        };
        match Frame::decode(&buf[..n]) {
            Some(Frame::Stdin(data)) => {
                if let Some(pty) = &self.streams.pty {
                    write_all(pty.as_fd(), &data);
                } else if self.streams.stdin.is_some() {
                    self.pending_stdin.extend_from_slice(&data);
                }
            }
            // Close only once everything the client sent was delivered.
            Some(Frame::StdinClosed) if self.pending_stdin.is_empty() => {
                self.streams.stdin = None;
            }
            Some(Frame::Resize { rows, cols }) => {
                if let Some(pty) = &self.streams.pty {
                    let ws = nix::pty::Winsize {
                        ws_row: rows,
                        ws_col: cols,
                        ws_xpixel: 0,
                        ws_ypixel: 0,
                    };
                    // SAFETY: TIOCSWINSZ reads a winsize struct we own.
                    unsafe { libc::ioctl(pty.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
                }
            }
            _ => {}
        }
        true
    }

    fn flush_stdin(&mut self) {
        let Some(stdin) = &self.streams.stdin else {
            self.pending_stdin.clear();
            return;
        };
        match nix::unistd::write(stdin, &self.pending_stdin) {
            Ok(n) => {
                self.pending_stdin.drain(..n);
            }
            Err(nix::Error::EAGAIN) | Err(nix::Error::EINTR) => {}
            Err(_) => {
                self.pending_stdin.clear();
                self.streams.stdin = None;
            }
        }
    }

    /// Relays until the container's PID 1 exited and its output is
    /// drained; returns its exit code (128+N when killed by signal N).
    pub fn run(&mut self, dirs: &StorageDirs, record: &ContainerRecord) -> i32 {
        let mut buf = vec![0u8; MAX_PAYLOAD];
        let mut drain_deadline: Option<Instant> = None;
        loop {
            if let Some(code) = self.exit_code {
                let deadline = *drain_deadline.get_or_insert(Instant::now() + DRAIN_LIMIT);
                if !self.output_open() || Instant::now() >= deadline {
                    self.streams = Streams::default();
                    return code;
                }
            }
            self.spawn_healthcheck(dirs, record);

            let mut fds = vec![PollFd::new(self.signals.as_fd(), PollFlags::POLLIN)];
            let stdout_i = slot(self.streams.stdout.as_ref(), PollFlags::POLLIN, &mut fds);
            let stderr_i = slot(self.streams.stderr.as_ref(), PollFlags::POLLIN, &mut fds);
            let pty_i = slot(self.streams.pty.as_ref(), PollFlags::POLLIN, &mut fds);
            let stdin_i = if self.pending_stdin.is_empty() {
                None
            } else {
                slot(self.streams.stdin.as_ref(), PollFlags::POLLOUT, &mut fds)
            };
            let listener_i = slot(self.listener.as_ref(), PollFlags::POLLIN, &mut fds);
            let first_client = fds.len();
            for c in &self.clients {
                fds.push(PollFd::new(c.as_fd(), PollFlags::POLLIN));
            }
            self.trimmer.trim_if_due();
            let wake_at = [
                drain_deadline,
                self.health
                    .as_ref()
                    .filter(|h| h.running.is_none())
                    .map(|h| h.next),
                self.trimmer.due_at(),
            ]
            .into_iter()
            .flatten()
            .min();
            let timeout = match wake_at {
                Some(t) => PollTimeout::try_from(t.saturating_duration_since(Instant::now()))
                    .unwrap_or(PollTimeout::MAX),
                None => PollTimeout::NONE,
            };
            match poll(&mut fds, timeout) {
                Ok(_) => self.trimmer.note_activity(),
                Err(nix::Error::EINTR) => continue,
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
            let ready: Vec<bool> = fds
                .iter()
                .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
                .collect();
            drop(fds);
            let is_ready = |i: Option<usize>| i.is_some_and(|i| ready[i]);

            if ready[0]
                && self.handle_signals()
                && let Some(pid) = self.pid
            {
                let _ = kill(pid, Signal::SIGKILL);
            }
            for (index, stream) in [(stdout_i, Stream::Stdout), (stderr_i, Stream::Stderr)] {
                if !is_ready(index) {
                    continue;
                }
                let fd = match stream {
                    Stream::Stdout => &mut self.streams.stdout,
                    Stream::Stderr => &mut self.streams.stderr,
                };
                match fd.as_ref().and_then(|f| read_chunk(f.as_fd(), &mut buf)) {
                    None => *fd = None,
                    Some(0) => {}
                    Some(n) => {
                        let _ = self.log.write(stream, &buf[..n]);
                        let frame = match stream {
                            Stream::Stdout => Frame::Stdout(buf[..n].to_vec()),
                            Stream::Stderr => Frame::Stderr(buf[..n].to_vec()),
                        };
                        self.broadcast(&frame);
                    }
                }
            }
            if is_ready(pty_i) {
                match self
                    .streams
                    .pty
                    .as_ref()
                    .and_then(|f| read_chunk(f.as_fd(), &mut buf))
                {
                    None => self.streams.pty = None,
                    Some(0) => {}
                    Some(n) => {
                        let _ = self.log.write(Stream::Stdout, &buf[..n]);
                        self.broadcast(&Frame::Stdout(buf[..n].to_vec()));
                    }
                }
            }
            if is_ready(stdin_i) {
                self.flush_stdin();
            }
            if is_ready(listener_i) {
                self.accept_client();
            }
            let client_count = ready.len() - first_client;
            for index in (0..client_count).rev() {
                if ready[first_client + index] && !self.serve_client(index) {
                    self.clients.remove(index);
                }
            }
        }
    }

    /// Tells attached clients the container is gone for good.
    pub fn finish(&mut self, exit_code: i32) {
        self.broadcast(&Frame::Exited(exit_code));
        self.clients.clear();
        self.listener = None;
        let _ = std::fs::remove_file(&self.socket_path);
    }

    /// Waits out a restart back-off; false if the monitor was told to end.
    pub fn sleep(&mut self, duration: Duration) -> bool {
        let deadline = Instant::now() + duration;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            let mut fds = [PollFd::new(self.signals.as_fd(), PollFlags::POLLIN)];
            let timeout = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
            if let Ok(n) = poll(&mut fds, timeout)
                && n > 0
                && self.handle_signals()
            {
                return false;
            }
        }
    }
}

/// Adds `fd` to the poll set if present; returns its index.
fn slot<'a>(fd: Option<&'a OwnedFd>, flags: PollFlags, fds: &mut Vec<PollFd<'a>>) -> Option<usize> {
    fd.map(|f| {
        fds.push(PollFd::new(f.as_fd(), flags));
        fds.len() - 1
    })
}
