//! `skiff attach` and `start -a`: connect to a detached container's
//! monitor and stream its output here and this terminal's input there.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::Instant;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::Signal;
use nix::sys::socket::{MsgFlags, recv, send};
use nix::unistd::Pid;

use super::EngineError;
use super::lookup::{UNKNOWN_EXIT_CODE, find_container, refresh};
use super::monitor::attach_protocol::{Frame, MAX_PAYLOAD, connect_to};
use crate::sandbox::SandboxError;
use crate::sandbox::client_end::OutputWatch;
use crate::sandbox::client_end::{SignalAction, SignalPolicy, write_all as write_output};
use crate::sandbox::foreground::{RawMode, SignalGuard, terminal_size};
use crate::state::{ContainerRecord, ContainerStore, StorageDirs};

/// docker's default detach sequence.
pub const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";

#[derive(Debug, Clone)]
pub struct AttachOptions {
    /// Stream our stdin to the container.
    pub stdin: bool,
    /// Forward the signals we receive to the container's PID 1.
    pub sig_proxy: bool,
    /// `--detach-keys`; `None` is docker's default, `Some("")` disables.
    pub detach_keys: Option<String>,
}

impl Default for AttachOptions {
    fn default() -> Self {
        AttachOptions {
            stdin: true,
            sig_proxy: true,
            detach_keys: None,
        }
    }
}

/// Parses `--detach-keys` (`ctrl-p,ctrl-q`, `a`, `ctrl-@`) into bytes.
pub fn parse_detach_keys(text: &str) -> Result<Vec<u8>, EngineError> {
    let invalid = || EngineError::Invalid(format!("invalid detach keys \"{text}\""));
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|key| {
            if let Some(c) = key.strip_prefix("ctrl-") {
                match c.as_bytes() {
                    [b @ b'a'..=b'z'] => Ok(b - b'a' + 1),
                    [b'@'] => Ok(0),
                    [b @ (b'[' | b'\\' | b']' | b'^' | b'_')] => Ok(b - b'@'),
                    _ => Err(invalid()),
                }
            } else if key.len() == 1 {
                Ok(key.as_bytes()[0])
            } else {
                Err(invalid())
            }
        })
        .collect()
}

/// Finds the detach sequence in what the user typed. Bytes that might
/// begin the sequence are held back until it is clear they do not.
struct DetachMatcher {
    keys: Vec<u8>,
    held: usize,
}

impl DetachMatcher {
    /// Returns the bytes to forward, and whether the sequence completed.
    fn feed(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(input.len());
        if self.keys.is_empty() {
            return (input.to_vec(), false);
        }
        for &byte in input {
            if byte == self.keys[self.held] {
                self.held += 1;
                if self.held == self.keys.len() {
                    return (out, true);
                }
            } else {
                out.extend_from_slice(&self.keys[..self.held]);
                self.held = 0;
                if byte == self.keys[0] {
                    self.held = 1;
                } else {
                    out.push(byte);
                }
            }
        }
        (out, false)
    }
}

fn send_frame(socket: &OwnedFd, frame: &Frame) -> bool {
    send(socket.as_raw_fd(), &frame.encode(), MsgFlags::MSG_NOSIGNAL).is_ok()
}

/// Attaches to a running container until it exits (returns its exit
/// code) or the user detaches (returns 0).
pub fn attach_container(
    dirs: &StorageDirs,
    name: &str,
    options: &AttachOptions,
) -> Result<i32, EngineError> {
    let store = ContainerStore::new(dirs);
    let record = find_container(&store, name)?;
    if !record.status().is_active() {
        return Err(EngineError::Invalid(format!(
            "you can only attach to running containers: container {} is {}",
            record.short_id(),
            record.status().as_str()
        )));
    }
    let paths = store.paths(&record.id);
    let socket = connect_to(&paths.attach_socket()).map_err(|e| {
        EngineError::Invalid(format!(
            "attaching to {}: the container's monitor does not accept connections: {e}",
            record.short_id()
        ))
    })?;
    attach_connected(dirs, &record, socket, options)
}

/// Streams over an attach connection already made (`start -a` connects
/// before the container starts, so no output is missed).
pub fn attach_connected(
    dirs: &StorageDirs,
    record: &ContainerRecord,
    socket: OwnedFd,
    options: &AttachOptions,
) -> Result<i32, EngineError> {
    let store = ContainerStore::new(dirs);
    let tty = record.config.tty;
    let keys = parse_detach_keys(
        options
            .detach_keys
            .as_deref()
            .unwrap_or(DEFAULT_DETACH_KEYS),
    )?;
    let mut matcher = DetachMatcher { keys, held: 0 };
    let signals = SignalGuard::block()?;
    let stdin = std::io::stdin();
    let _raw = (tty && options.stdin)
        .then(|| RawMode::enter(stdin.as_fd()))
        .flatten();
    if tty && let Some(ws) = terminal_size() {
        send_frame(
            &socket,
            &Frame::Resize {
                rows: ws.ws_row,
                cols: ws.ws_col,
            },
        );
    }
    let output = OutputWatch::stdio();
    let mut policy = SignalPolicy::new(options.sig_proxy);
    let ended = |signal: Signal| -> EngineError {
        SandboxError::Interrupted {
            signal,
            container_exit: None,
        }
        .into()
    };
    let mut stdin_open = options.stdin;
    let mut buf = vec![0u8; MAX_PAYLOAD + 16];
    loop {
        let mut fds = vec![
            PollFd::new(signals.fd().as_fd(), PollFlags::POLLIN),
            PollFd::new(socket.as_fd(), PollFlags::POLLIN),
        ];
        if stdin_open {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        let output_idx = fds.len();
        fds.extend(output.poll_fds());
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(EngineError::sys("attaching")(e)),
            Ok(_) => {}
        }
        let ready: Vec<bool> = fds[..output_idx]
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        let output_gone = OutputWatch::reader_gone(&fds[output_idx..]);
        drop(fds);
        // The client ends; the container goes on, as with docker.
        if output_gone {
            return Err(ended(Signal::SIGPIPE));
        }

        if ready[0] {
            while let Ok(Some(info)) = signals.fd().read_signal() {
                let Ok(sig) = Signal::try_from(info.ssi_signo as i32) else {
                    continue;
                };
                match sig {
                    Signal::SIGWINCH => {
                        if let Some(ws) = terminal_size() {
                            send_frame(
                                &socket,
                                &Frame::Resize {
                                    rows: ws.ws_row,
                                    cols: ws.ws_col,
                                },
                            );
                        }
                    }
                    Signal::SIGCHLD => {}
                    other => match policy.decide(other, Instant::now()) {
                        SignalAction::Forward => {
                            // podman's rule: a signal that cannot reach the
                            // container any more is this client's own.
                            let delivered = refresh(&store, &record.id)
                                .ok()
                                .and_then(|r| r.state.pid)
                                .is_some_and(|pid| {
                                    nix::sys::signal::kill(Pid::from_raw(pid.pid), other).is_ok()
                                });
                            if !delivered {
                                return Err(ended(other));
                            }
                        }
                        SignalAction::End => return Err(ended(other)),
                    },
                }
            }
        }
        if ready[1] {
            let n = match recv(socket.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Ok(n) => n,
                Err(nix::Error::EINTR) => continue,
                Err(_) => 0,
            };
            if n == 0 {
                // The monitor went away without a final frame.
                return Ok(refresh(&store, &record.id)
                    .ok()
                    .and_then(|r| r.state.exit_code)
                    .unwrap_or(UNKNOWN_EXIT_CODE));
            }
            let written = match Frame::decode(&buf[..n]) {
                Some(Frame::Stdout(data)) => write_output(std::io::stdout().as_fd(), &data),
                Some(Frame::Stderr(data)) => write_output(std::io::stderr().as_fd(), &data),
                Some(Frame::Exited(code)) => return Ok(code),
                _ => Ok(()),
            };
            if written.is_err() {
                return Err(ended(Signal::SIGPIPE));
            }
        }
        if stdin_open && ready.get(2).copied().unwrap_or(false) {
            match nix::unistd::read(stdin.as_fd(), &mut buf[..MAX_PAYLOAD]) {
                Ok(0) | Err(_) => {
                    stdin_open = false;
                    send_frame(&socket, &Frame::StdinClosed);
                }
                Ok(n) => {
                    let (forward, detached) = if tty {
                        matcher.feed(&buf[..n])
                    } else {
                        (buf[..n].to_vec(), false)
                    };
                    if !forward.is_empty() {
                        send_frame(&socket, &Frame::Stdin(forward));
                    }
                    if detached {
                        return Ok(0);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_parse_like_docker() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q").unwrap(), vec![16, 17]);
        assert_eq!(parse_detach_keys("ctrl-@,x").unwrap(), vec![0, b'x']);
        assert_eq!(parse_detach_keys("").unwrap(), Vec::<u8>::new());
        assert!(parse_detach_keys("ctrl-").is_err());
        assert!(parse_detach_keys("abc").is_err());
    }

    #[test]
    fn the_detach_sequence_is_held_back_and_found() {
        let mut m = DetachMatcher {
            keys: vec![16, 17],
            held: 0,
        };
        assert_eq!(m.feed(b"ab\x10"), (b"ab".to_vec(), false));
        assert_eq!(m.feed(b"c"), (b"\x10c".to_vec(), false));
        assert_eq!(m.feed(b"\x10\x10"), (b"\x10".to_vec(), false));
        assert_eq!(m.feed(b"\x11rest"), (Vec::new(), true));
    }
}
