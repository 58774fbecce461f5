//! Running processes with deadlines: [`Running`] (a background process
//! whose output is collected), [`output_of`], [`wait_for`], and the
//! assertions on what a finished command printed.

use std::io::{self, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

/// Bytes a reader thread has collected so far.
#[derive(Clone, Default)]
pub struct Collected(Arc<Mutex<Vec<u8>>>);

impl Collected {
    pub(super) fn spawn_reader(
        mut source: impl Read + Send + 'static,
    ) -> (Collected, JoinHandle<()>) {
        let collected = Collected::default();
        let sink = collected.clone();
        let handle = thread::spawn(move || {
            let mut buf = [0u8; 16 * 1024];
            loop {
                match source.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => sink.0.lock().unwrap().extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    // EIO on a pty master once the last slave fd closes.
                    Err(_) => break,
                }
            }
        });
        (collected, handle)
    }

    pub(super) fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }
}

/// A process started in the background (in its own process group, so a
/// timeout can kill it with everything it started). Killed on drop if still
/// running, so a failing test leaves nothing behind.
pub struct Running {
    child: Child,
    what: String,
    stdout: Collected,
    stderr: Collected,
    readers: Vec<JoinHandle<()>>,
    stdin_writer: Option<JoinHandle<()>>,
    status: Option<ExitStatus>,
}

impl Running {
    pub fn start(mut cmd: Command, input: Option<Vec<u8>>) -> Running {
        let what = describe(&cmd);
        cmd.stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {what}: {e}"));
        let stdin_writer = input.map(|data| {
            let mut stdin = child.stdin.take().unwrap();
            // Writing may fail with EPIPE when the container does not read
            // everything; the test judges the output, not this write.
            thread::spawn(move || {
                let _ = stdin.write_all(&data);
            })
        });
        let (stdout, out_reader) = Collected::spawn_reader(child.stdout.take().unwrap());
        let (stderr, err_reader) = Collected::spawn_reader(child.stderr.take().unwrap());
        Running {
            child,
            what,
            stdout,
            stderr,
            readers: vec![out_reader, err_reader],
            stdin_writer,
            status: None,
        }
    }

    pub fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    /// Sends `signal` to the skiff process (not its group).
    pub fn signal(&self, signal: Signal) {
        kill(self.pid(), signal).unwrap_or_else(|e| panic!("kill -{signal} {}: {e}", self.pid()));
    }

    /// The exit status if the process has exited.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().expect("waitpid");
        }
        self.status
    }

    pub fn stdout_so_far(&self) -> String {
        self.stdout.text()
    }

    /// A handle on the stdout collected so far that stays readable while
    /// [`Running::wait_until`] borrows the process.
    pub fn stdout_buffer(&self) -> Collected {
        self.stdout.clone()
    }

    /// Polls until `condition` holds; fails early, with the process's
    /// output, if the process exits first.
    pub fn wait_until(
        &mut self,
        what: &str,
        timeout: Duration,
        mut condition: impl FnMut() -> bool,
    ) {
        let deadline = Instant::now() + timeout;
        loop {
            if condition() {
                return;
            }
            if let Some(status) = self.try_status() {
                panic!(
                    "{} exited ({status}) before {what}\nstdout: {}\nstderr: {}",
                    self.what,
                    self.stdout.text(),
                    self.stderr.text()
                );
            }
            if Instant::now() >= deadline {
                panic!(
                    "timed out after {timeout:?} waiting for {what} from {}\nstdout: {}\nstderr: {}",
                    self.what,
                    self.stdout.text(),
                    self.stderr.text()
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the exit (killing the process group at the deadline, which
    /// fails the test) and returns everything it printed.
    pub fn wait(mut self, timeout: Duration) -> Output {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.try_status() {
                break status;
            }
            if Instant::now() >= deadline {
                self.kill_group();
                panic!(
                    "{} did not finish within {timeout:?}\nstdout: {}\nstderr: {}",
                    self.what,
                    self.stdout.text(),
                    self.stderr.text()
                );
            }
            thread::sleep(Duration::from_millis(5));
        };
        // The pipes reach EOF when the last writer closes; a container
        // process that outlives skiff would keep them open, so the readers
        // get a deadline too.
        let reader_deadline = Instant::now() + Duration::from_secs(10);
        for reader in std::mem::take(&mut self.readers) {
            while !reader.is_finished() {
                if Instant::now() >= reader_deadline {
                    panic!(
                        "{} exited ({status}) but something still holds its stdout/stderr open \
                         (a container process outlived skiff?)\nstdout: {}\nstderr: {}",
                        self.what,
                        self.stdout.text(),
                        self.stderr.text()
                    );
                }
                thread::sleep(Duration::from_millis(5));
            }
            let _ = reader.join();
        }
        if let Some(writer) = self.stdin_writer.take() {
            let _ = writer.join();
        }
        Output {
            status,
            stdout: self.stdout.bytes(),
            stderr: self.stderr.bytes(),
        }
    }

    fn kill_group(&mut self) {
        let _ = killpg(self.pid(), Signal::SIGKILL);
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.status = Some(ExitStatus::from_raw(9));
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.try_status().is_none() {
            self.kill_group();
        }
    }
}

/// Runs `cmd` to completion with a deadline.
pub fn output_of(cmd: Command, input: Option<Vec<u8>>, timeout: Duration) -> Output {
    Running::start(cmd, input).wait(timeout)
}

/// Asserts exit 0 and returns stdout; otherwise fails showing both streams.
pub fn assert_success(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: expected success, got {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts the exit code, showing both streams when it differs.
pub fn assert_exit_code(out: &Output, expected: i32, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(expected),
        "{what}: expected exit code {expected}, got {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The stderr lines that start with `Error: `.
pub fn error_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.starts_with("Error: "))
        .map(str::to_string)
        .collect()
}

/// Asserts skiff reported exactly one `Error: ` line and that it mentions
/// `subject` (case-insensitive), as podman does.
pub fn assert_one_error_mentioning(out: &Output, subject: &str, what: &str) {
    let errors = error_lines(out);
    assert_eq!(
        errors.len(),
        1,
        "{what}: expected exactly one `Error: ` line on stderr, got {errors:?}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        errors[0].to_lowercase().contains(&subject.to_lowercase()),
        "{what}: the error should mention {subject:?}: {:?}",
        errors[0]
    );
}

pub fn stdout_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `skiff run …` as a readable string for messages (no env noise).
pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        let arg = arg.to_string_lossy();
        if arg.is_empty() || arg.contains([' ', '\'', '"', '$', '\n']) {
            s.push_str(&format!(" {arg:?}"));
        } else {
            s.push(' ');
            s.push_str(&arg);
        }
    }
    s
}

/// Polls `condition` every 20 ms until it holds; panics naming `what` after
/// `timeout`. The harness's only way to wait: never sleep and hope.
pub fn wait_for(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        thread::sleep(Duration::from_millis(20));
    }
}
