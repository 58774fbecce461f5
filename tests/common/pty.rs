//! Pseudo-terminals: [`PtySession`] plays the terminal emulator for a
//! process started as if typed into an interactive shell.

use std::fs;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::processes::{Collected, describe};

/// How long the terminal may stay open after the process on it exited.
const READER_TIMEOUT: Duration = Duration::from_secs(10);

/// A process running with a pseudo-terminal as its controlling terminal and
/// stdin/stdout/stderr, like `skiff run -it` typed in a terminal emulator.
/// The test plays the terminal: it writes keys to the master and reads what
/// the process prints.
pub struct PtySession {
    child: Child,
    what: String,
    master: fs::File,
    output: Collected,
    reader: Option<JoinHandle<()>>,
    status: Option<ExitStatus>,
}

impl PtySession {
    /// `owner`: (uid, gid) to chown the terminal to, as login does for the
    /// user who logs in.
    pub fn start(mut cmd: Command, rows: u16, cols: u16, owner: Option<(u32, u32)>) -> PtySession {
        let what = describe(&cmd);
        let (master, slave) = open_pty().expect("opening a pseudo-terminal");
        set_window_size(&master, rows, cols).expect("TIOCSWINSZ");
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::fchown(&slave, Some(uid), Some(gid)).expect("chown of the pty");
        }
        cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        // SAFETY: setsid and ioctl are async-signal-safe and touch no memory
        // of the parent; the closure allocates nothing.
        unsafe {
            cmd.pre_exec(|| {
                // A new session without a terminal, then take the pty (fd 0)
                // as its controlling terminal: the process becomes the
                // terminal's foreground process group, so Ctrl-C and window
                // changes reach it.
                nix::unistd::setsid().map_err(io::Error::from)?;
                if libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {what} on a pty: {e}"));
        // Our copies of the slave went with `cmd`: from now on only the
        // child holds it, so reading the master ends (EIO) when it is done.
        drop(cmd);
        let master = fs::File::from(master);
        let (output, reader) = Collected::spawn_reader(master.try_clone().unwrap());
        PtySession {
            child,
            what,
            master,
            output,
            reader: Some(reader),
            status: None,
        }
    }

    /// Types `bytes` on the terminal.
    pub fn write(&mut self, bytes: &[u8]) {
        self.master
            .write_all(bytes)
            .expect("writing to the pty master");
    }

    /// Resizes the terminal; the kernel sends SIGWINCH to the foreground
    /// process group (skiff).
    pub fn resize(&self, rows: u16, cols: u16) {
        set_window_size(&self.master, rows, cols).expect("TIOCSWINSZ");
    }

    /// Everything printed so far, with `\r\n` turned into `\n`.
    pub fn output(&self) -> String {
        self.output.text().replace("\r\n", "\n")
    }

    /// Polls until the output contains `needle`.
    pub fn wait_for_output(&mut self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.output().contains(needle) {
            if self.status.is_none() {
                self.status = self.child.try_wait().expect("waitpid");
            }
            if let Some(status) = self.status {
                // What it printed last may still be on its way through the
                // reader: all of it is in once the reader has seen the end.
                self.finish_reader(status);
                if self.output().contains(needle) {
                    return;
                }
                panic!(
                    "{} exited ({status}) before printing {needle:?}\noutput: {:?}",
                    self.what,
                    self.output()
                );
            }
            if Instant::now() >= deadline {
                panic!(
                    "timed out after {timeout:?} waiting for {needle:?} from {}\noutput: {:?}",
                    self.what,
                    self.output()
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the exit; returns the status and the whole output.
    pub fn wait(mut self, timeout: Duration) -> (ExitStatus, String) {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self
                .status
                .or_else(|| self.child.try_wait().expect("waitpid"))
            {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                self.status = Some(ExitStatus::from_raw(9));
                panic!(
                    "{} did not finish within {timeout:?}\noutput: {:?}",
                    self.what,
                    self.output()
                );
            }
            thread::sleep(Duration::from_millis(5));
        };
        self.status = Some(status);
        self.finish_reader(status);
        (status, self.output())
    }
}

impl PtySession {
    /// Waits (with a deadline) for the terminal reader to see the end of
    /// the output, which comes when the last process holding the terminal
    /// is gone. Fails if something still holds it: output could be missing,
    /// and a process the command started has outlived it.
    fn finish_reader(&mut self, status: ExitStatus) {
        let Some(reader) = self.reader.take() else {
            return;
        };
        let deadline = Instant::now() + READER_TIMEOUT;
        while !reader.is_finished() {
            if Instant::now() >= deadline {
                panic!(
                    "{} exited ({status}) but its terminal was still open {READER_TIMEOUT:?} later \
                     (a process it started still holds it?), so its output may be incomplete\n\
                     output so far: {:?}",
                    self.what,
                    self.output()
                );
            }
            thread::sleep(Duration::from_millis(5));
        }
        reader.join().expect("the terminal reader panicked");
    }
}

impl Drop for PtySession {
    fn drop(&mut self) {
        if self.status.is_none() && self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A pty pair with both ends close-on-exec, so processes other test threads
/// start at the same moment do not inherit them (libc's openpty would leak).
fn open_pty() -> nix::Result<(OwnedFd, OwnedFd)> {
    use nix::fcntl::OFlag;
    let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)?;
    nix::pty::grantpt(&master)?;
    nix::pty::unlockpt(&master)?;
    let slave_path = nix::pty::ptsname_r(&master)?;
    let slave = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(&slave_path)
        .map_err(|e| nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
    Ok((OwnedFd::from(master), OwnedFd::from(slave)))
}

fn set_window_size(fd: &impl AsRawFd, rows: u16, cols: u16) -> io::Result<()> {
    let size = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize from the pointer, which is valid
    // for the duration of the call.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &size) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
