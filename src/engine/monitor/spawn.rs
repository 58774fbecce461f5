//! Starting a monitor: `skiff` forks twice (the monitor is re-parented
//! away from the caller's shell and in its own session) and the grandchild
//! re-executes this binary as the hidden `container-monitor` command. A
//! fresh exec keeps the resident monitor small: it maps only what its own
//! code touches, not the caller's heap.

use std::ffi::CString;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::fcntl::{FcntlArg, FdFlag, OFlag, fcntl, open};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::stat::Mode;
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, execv, fork, pipe2, setsid};
use serde::{Deserialize, Serialize};

use super::attach_protocol::connect_to;
use crate::engine::EngineError;
use crate::sandbox::close_inherited_fds;
use crate::state::{ContainerStore, StorageDirs};

/// The hidden subcommand the monitor runs as.
pub const MONITOR_COMMAND: &str = "container-monitor";

/// How long a caller waits for the monitor to start the container.
const START_DEADLINE: Duration = Duration::from_secs(60);

/// The monitor's messages to the process that spawned it, one JSON
/// object per line.
#[derive(Debug, Serialize, Deserialize)]
pub enum StartReport {
    /// With `--attach`: the attach socket listens; connect, and the
    /// container starts once the monitor accepted the connection (so no
    /// early output is lost).
    Listening,
    Started {
        pid: i32,
        /// What the container's init reported on the way (driver
        /// fallbacks), for the spawner's reporter.
        warnings: Vec<String>,
    },
    Failed {
        exit_code: i32,
        error: String,
    },
}

impl StartReport {
    /// The report of a start that failed with `err`.
    pub fn failed(err: &EngineError) -> StartReport {
        StartReport::Failed {
            exit_code: err.exit_code(),
            error: err.to_string(),
        }
    }
}

fn cstring(text: &str) -> Result<CString, EngineError> {
    CString::new(text).map_err(|_| EngineError::Invalid(format!("NUL byte in {text:?}")))
}

/// Spawns the monitor of container `id` and waits until it reports that
/// the container's command runs (or why it could not start). With
/// `attach`, also returns a connection to its attach socket, made before
/// the container started.
pub fn spawn_monitor(
    dirs: &StorageDirs,
    id: &str,
    attach: bool,
) -> Result<(StartReport, Option<OwnedFd>), EngineError> {
    let (report_read, report_write) =
        pipe2(OFlag::O_CLOEXEC).map_err(EngineError::sys("creating the monitor's pipe"))?;
    let report_fd = report_write.as_raw_fd().to_string();
    let root = dirs.root.display().to_string();
    let runroot = dirs.runroot.display().to_string();
    let mut args = vec![
        "skiff",
        "--root",
        &root,
        "--runroot",
        &runroot,
        MONITOR_COMMAND,
        "--report-fd",
        &report_fd,
    ];
    if attach {
        args.push("--attach");
    }
    args.push(id);
    let argv = args
        .iter()
        .map(|a| cstring(a))
        .collect::<Result<Vec<_>, _>>()?;
    let exe = cstring("/proc/self/exe")?;
    let null: OwnedFd = open("/dev/null", OFlag::O_RDWR | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(EngineError::sys("opening /dev/null"))?;

    // SAFETY: skiff is single-threaded on every path that starts a monitor
    // (no tokio, no helper threads), so the child may run any code.
    match unsafe { fork() }.map_err(EngineError::sys("forking the monitor"))? {
        ForkResult::Child => {
            let _ = setsid();
            // SAFETY: as above; the middle child only forks and exits.
            if let Ok(ForkResult::Child) = unsafe { fork() } {
                for target in 0..=2 {
                    // SAFETY: dup2 onto the standard fds; `null` stays open.
                    unsafe { libc::dup2(null.as_raw_fd(), target) };
                }
                // Nothing else of the caller's stays open in the monitor:
                // a pipe it holds would never see end-of-file (a script's
                // `$(…)`, a CI runner) while the container lives.
                close_inherited_fds();
                let _ = fcntl(&report_write, FcntlArg::F_SETFD(FdFlag::empty()));
                let _ = execv(&exe, &argv);
            }
            // SAFETY: leave without running the parent's destructors.
            unsafe { libc::_exit(0) }
        }
        ForkResult::Parent { child } => {
            drop(report_write);
            let _ = waitpid(child, None);
        }
    }
    let socket_path = ContainerStore::new(dirs).paths(id).attach_socket();
    let mut reader = ReportReader {
        file: std::fs::File::from(report_read),
        buffer: Vec::new(),
        deadline: Instant::now() + START_DEADLINE,
    };
    let mut socket = None;
    loop {
        match reader.next()? {
            StartReport::Listening => {
                socket = Some(
                    connect_to(&socket_path)
                        .map_err(EngineError::sys("connecting to the container's monitor"))?,
                );
            }
            report => return Ok((report, socket)),
        }
    }
}

struct ReportReader {
    file: std::fs::File,
    buffer: Vec<u8>,
    deadline: Instant,
}

impl ReportReader {
    fn next(&mut self) -> Result<StartReport, EngineError> {
        loop {
            if let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).collect();
                return serde_json::from_slice(&line).map_err(|_| {
                    EngineError::Invalid("the container's monitor sent a malformed report".into())
                });
            }
            let left = self.deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(EngineError::Invalid(
                    "the container's monitor did not report within 60 seconds".into(),
                ));
            }
            let mut fds = [PollFd::new(self.file.as_fd(), PollFlags::POLLIN)];
            let timeout = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
            match poll(&mut fds, timeout) {
                Err(nix::Error::EINTR) | Ok(0) => continue,
                Err(e) => return Err(EngineError::sys("waiting for the monitor")(e)),
                Ok(_) => {}
            }
            let mut chunk = [0u8; 4096];
            match self.file.read(&mut chunk) {
                Ok(0) => {
                    return Err(EngineError::Invalid(
                        "the container's monitor exited without starting the container".into(),
                    ));
                }
                Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(EngineError::io("reading the monitor's report")(e)),
            }
        }
    }
}
