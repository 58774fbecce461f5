//! The integration-test harness: every file in `tests/` drives the real
//! `skiff` binary through it.
//!
//! - [`for_each_user`] runs a test body once as root and once rootless (as the
//!   unprivileged user `skifftest` that `scripts/test` creates). It is the one
//!   place that decides who a test runs as.
//! - [`Ctx`] is one user's sandbox for one test: a fresh store (`--root`) and
//!   runroot (`--runroot`), a scratch directory the user owns, and
//!   preconfigured `skiff` commands.
//! - The busybox image is built once per test process by
//!   `scripts/busybox-image.sh` into a directory every user can read.
//! - Every command has a deadline; waits poll a condition with a deadline.
//!
//! Environment knobs: `CI` or `SKIFF_TEST_REQUIRE_ROOTLESS` make a missing
//! test user a failure instead of a skip; `SKIFF_OVERLAY` is passed through to
//! every skiff command (run the suite with `SKIFF_OVERLAY=fuse` to exercise
//! fuse-overlayfs everywhere); `SKIFF_TEST_KEEP=1` keeps the per-test
//! directories under /tmp/skiff-tests for inspection.

// Each test crate uses a different subset of the harness.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

/// The unprivileged user rootless tests run as (created by `scripts/test`).
pub const TEST_USER: &str = "skifftest";
/// Parent of every directory the harness creates. Mode 0755 so the test user
/// can reach its own directories below it.
pub const TESTS_DIR: &str = "/tmp/skiff-tests";
/// How long one skiff command may take before the test fails.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// The name `skiff load` reports for the docker-archive busybox image.
pub const BUSYBOX_REF: &str = "docker.io/library/busybox:latest";
/// The name baked into the oci-archive busybox image.
pub const BUSYBOX_OCI_REF: &str = "localhost/skiff-test/busybox:oci";
/// PATH for skiff itself (not the container's: that comes from the image).
const HOST_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Variables passed from the test's environment to every skiff command.
const PASSED_THROUGH_ENV: &[&str] = &["SKIFF_OVERLAY", "RUST_BACKTRACE", "RUST_LOG", "SKIFF_LOG"];

// ---------------------------------------------------------------------------
// Who a test runs as
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum User {
    /// uid 0: skiff runs with real privileges.
    Root,
    /// The unprivileged `skifftest` user: skiff maps its subuid range.
    Rootless,
}

impl fmt::Display for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            User::Root => "root",
            User::Rootless => "rootless",
        })
    }
}

/// Runs `test` once as root and once rootless, each with a fresh [`Ctx`].
/// Both runs happen even when the first fails, so a failure report says
/// whether the problem is rootless-only; the test then fails naming who.
pub fn for_each_user(test: impl Fn(&Ctx)) {
    for_users(&users_to_test(), test)
}

/// Like [`for_each_user`] for an explicit list; tests that make sense for
/// one kind of user only call this and say why in a comment.
pub fn for_users(users: &[User], test: impl Fn(&Ctx)) {
    let mut failed = Vec::new();
    for &user in users {
        eprintln!("=== {user}: start");
        let ctx = Ctx::new(user);
        let result = panic::catch_unwind(AssertUnwindSafe(|| test(&ctx)));
        if result.is_err() {
            if keep_dirs() {
                eprintln!("=== {user}: FAILED (kept {})", ctx.dir.display());
            } else {
                eprintln!(
                    "=== {user}: FAILED (SKIFF_TEST_KEEP=1 keeps {})",
                    ctx.dir.display()
                );
            }
            failed.push(user.to_string());
        } else {
            eprintln!("=== {user}: ok");
        }
        drop(ctx);
    }
    if !failed.is_empty() {
        panic!("test failed as: {} (messages above)", failed.join(", "));
    }
}

/// Root always; rootless when the test user exists. A missing user is a
/// loud skip on a developer machine and a failure in CI.
fn users_to_test() -> Vec<User> {
    let mut users = vec![User::Root];
    if test_user().is_some() {
        users.push(User::Rootless);
    } else if std::env::var_os("CI").is_some()
        || std::env::var_os("SKIFF_TEST_REQUIRE_ROOTLESS").is_some()
    {
        panic!("the test user {TEST_USER:?} does not exist; scripts/test creates it");
    } else {
        eprintln!(
            "\n!!! SKIPPING ROOTLESS: user {TEST_USER:?} does not exist. \
             Run scripts/test (it creates the user with subuid/subgid ranges).\n"
        );
    }
    users
}

fn test_user() -> Option<nix::unistd::User> {
    nix::unistd::User::from_name(TEST_USER).ok().flatten()
}

fn keep_dirs() -> bool {
    std::env::var_os("SKIFF_TEST_KEEP").is_some_and(|v| !v.is_empty() && v != "0")
}

// ---------------------------------------------------------------------------
// Per-process shared state: the binary and the images
// ---------------------------------------------------------------------------

struct Shared {
    /// Directory (0755) holding the copied binary and the built archives.
    dir: PathBuf,
    bin: PathBuf,
    docker_archive: PathBuf,
}

static SHARED: OnceLock<Shared> = OnceLock::new();
static OCI_ARCHIVE: OnceLock<PathBuf> = OnceLock::new();
static ROOTFS_TAR: OnceLock<PathBuf> = OnceLock::new();
static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Everything every test needs, set up once per test process. Every test
/// passes through here (via `Ctx::new`) before it starts a process: the
/// binary copy happens while no other thread can fork, so no child inherits
/// a write descriptor to it (which would make exec fail with ETXTBSY).
fn shared() -> &'static Shared {
    SHARED.get_or_init(|| {
        assert!(
            nix::unistd::geteuid().is_root(),
            "the integration tests must run as root (they run skiff as root and as {TEST_USER:?}); use scripts/test"
        );
        make_dir(Path::new(TESTS_DIR), 0o755);
        remove_stale_dirs();
        let dir = Path::new(TESTS_DIR).join(format!("p{}-shared", std::process::id()));
        make_dir(&dir, 0o755);

        // A copy the test user can execute even when the checkout is private.
        let bin = dir.join("skiff");
        fs::copy(env!("CARGO_BIN_EXE_skiff"), &bin).expect("copying the skiff binary");
        fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();

        // SAFETY: registering a plain `extern "C" fn` with no captured state.
        unsafe { libc::atexit(remove_shared_dir) };

        let docker_archive = dir.join("busybox-docker.tar");
        build_image(&docker_archive, &["--format", "docker-archive"]);
        Shared {
            dir,
            bin,
            docker_archive,
        }
    })
}

/// Runs when the test process exits (the test harness calls `exit` after
/// the last test): removes the shared binary and images.
extern "C" fn remove_shared_dir() {
    if keep_dirs() {
        return;
    }
    if let Some(shared) = SHARED.get() {
        let _ = fs::remove_dir_all(&shared.dir);
    }
}

/// Removes the directories of earlier test processes that are gone (a
/// process killed mid-test cannot clean up after itself).
fn remove_stale_dirs() {
    let Ok(entries) = fs::read_dir(TESTS_DIR) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix('p')
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            remove_tree(&entry.path());
        }
    }
}

fn build_image(out: &Path, args: &[&str]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/busybox-image.sh");
    let mut cmd = Command::new(&script);
    cmd.arg(out).args(args);
    let output = output_of(cmd, None, Duration::from_secs(120));
    assert!(
        output.status.success(),
        "{} failed: {}\n{}",
        script.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    fs::set_permissions(out, fs::Permissions::from_mode(0o644)).unwrap();
}

/// The skiff binary every test runs (a 0755 copy of the cargo-built one).
pub fn skiff_bin() -> &'static Path {
    &shared().bin
}

/// busybox as a docker-archive, `RepoTags: ["busybox:latest"]`.
pub fn busybox_docker_archive() -> &'static Path {
    &shared().docker_archive
}

/// busybox as an oci-archive (gzip layer) named [`BUSYBOX_OCI_REF`].
pub fn busybox_oci_archive() -> &'static Path {
    OCI_ARCHIVE.get_or_init(|| {
        let out = shared().dir.join("busybox-oci.tar");
        build_image(
            &out,
            &["--format", "oci-archive", "--name", BUSYBOX_OCI_REF],
        );
        out
    })
}

/// The busybox root filesystem as a plain tarball (input for `skiff import`).
pub fn busybox_rootfs_tar() -> &'static Path {
    ROOTFS_TAR.get_or_init(|| {
        let out = shared().dir.join("busybox-rootfs.tar");
        build_image(&out, &["--format", "rootfs"]);
        out
    })
}

// ---------------------------------------------------------------------------
// Ctx: one user's store for one test
// ---------------------------------------------------------------------------

pub struct Ctx {
    pub user: User,
    pub uid: u32,
    pub gid: u32,
    user_name: String,
    home: PathBuf,
    /// Everything below belongs to this context and is removed on drop.
    pub dir: PathBuf,
    /// `--root`: the image and container store.
    pub root: PathBuf,
    /// `--runroot`: runtime state.
    pub runroot: PathBuf,
    /// Scratch space for test data (bind-mount sources, env files), owned by
    /// the user.
    pub work: PathBuf,
    xdg_runtime_dir: PathBuf,
}

impl Ctx {
    pub fn new(user: User) -> Ctx {
        shared(); // the binary and image exist before any test forks
        let (uid, gid, user_name, home) = match user {
            User::Root => (0, 0, "root".to_string(), PathBuf::from("/root")),
            User::Rootless => {
                let u = test_user()
                    .unwrap_or_else(|| panic!("the test user {TEST_USER:?} does not exist"));
                (u.uid.as_raw(), u.gid.as_raw(), u.name, u.dir)
            }
        };
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = Path::new(TESTS_DIR).join(format!("p{}-{n}-{user}", std::process::id()));
        let ctx = Ctx {
            user,
            uid,
            gid,
            user_name,
            home,
            root: dir.join("root"),
            runroot: dir.join("runroot"),
            work: dir.join("work"),
            xdg_runtime_dir: dir.join("xdg-runtime"),
            dir,
        };
        ctx.make_owned_dir(&ctx.dir, 0o755);
        ctx.make_owned_dir(&ctx.root, 0o700);
        ctx.make_owned_dir(&ctx.runroot, 0o700);
        ctx.make_owned_dir(&ctx.work, 0o755);
        ctx.make_owned_dir(&ctx.xdg_runtime_dir, 0o700);
        eprintln!("    {user}: store {}", ctx.dir.display());
        ctx
    }

    pub fn is_rootless(&self) -> bool {
        self.user == User::Rootless
    }

    /// `skiff --root R --runroot RR ARGS…` as this user: uid/gid dropped for
    /// the rootless user, a clean login-like environment (HOME, USER,
    /// LOGNAME, XDG_RUNTIME_DIR, PATH), the context dir as cwd.
    pub fn skiff(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(skiff_bin());
        cmd.arg("--root")
            .arg(&self.root)
            .arg("--runroot")
            .arg(&self.runroot)
            .args(args)
            .current_dir(&self.dir)
            .env_clear()
            .env("PATH", HOST_PATH)
            .env("HOME", &self.home)
            .env("USER", &self.user_name)
            .env("LOGNAME", &self.user_name)
            .env("XDG_RUNTIME_DIR", &self.xdg_runtime_dir);
        for name in PASSED_THROUGH_ENV {
            if let Some(value) = std::env::var_os(name) {
                cmd.env(name, value);
            }
        }
        if self.user == User::Rootless {
            // std also drops supplementary groups (setgroups(0)) when root
            // switches uid, so the process looks like a login of the user.
            cmd.uid(self.uid).gid(self.gid);
        }
        cmd
    }

    /// Runs `skiff ARGS…` with empty stdin; returns its output whatever the
    /// exit status.
    pub fn run_status(&self, args: &[&str]) -> Output {
        output_of(self.skiff(args), None, COMMAND_TIMEOUT)
    }

    /// Runs `skiff ARGS…` feeding `input` on stdin.
    pub fn run_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        output_of(self.skiff(args), Some(input.to_vec()), COMMAND_TIMEOUT)
    }

    /// Runs `skiff ARGS…`, asserts exit 0, returns stdout.
    pub fn run_ok(&self, args: &[&str]) -> String {
        let cmd = self.skiff(args);
        let what = describe(&cmd);
        let out = output_of(cmd, None, COMMAND_TIMEOUT);
        assert_success(&out, &what)
    }

    /// Asserts `cmd` (usually from [`Ctx::skiff`] with extra env) exits 0;
    /// returns stdout.
    pub fn ok(&self, cmd: Command) -> String {
        let what = describe(&cmd);
        let out = output_of(cmd, None, COMMAND_TIMEOUT);
        assert_success(&out, &what)
    }

    /// Loads the busybox docker-archive into this store (once per test and
    /// user: loading is cheap, building the archive is not and happens once).
    pub fn load_busybox(&self) {
        let archive = busybox_docker_archive().to_str().unwrap().to_string();
        let out = self.run_ok(&["load", "-i", &archive]);
        assert!(
            out.contains(&format!("Loaded image: {BUSYBOX_REF}")),
            "{}: `skiff load` did not report the image: {out:?}",
            self.user
        );
    }

    /// `skiff images -q`, one ID per element.
    pub fn image_ids(&self) -> Vec<String> {
        self.run_ok(&["images", "-q"])
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// Writes `contents` to `work/<rel>`, owned by the user, mode 0644.
    pub fn write_file(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.work.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(&path, contents).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        self.chown(&path);
        path
    }

    /// Creates `work/<rel>` (mode 0755), owned by the user.
    pub fn make_dir(&self, rel: &str) -> PathBuf {
        let path = self.work.join(rel);
        self.make_owned_dir(&path, 0o755);
        path
    }

    fn make_owned_dir(&self, path: &Path, mode: u32) {
        make_dir(path, mode);
        self.chown(path);
    }

    fn chown(&self, path: &Path) {
        std::os::unix::fs::chown(path, Some(self.uid), Some(self.gid))
            .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
    }

    /// Starts `cmd` (from [`Ctx::skiff`]) in the background with empty stdin.
    pub fn start(&self, cmd: Command) -> Running {
        Running::start(cmd, None)
    }

    /// Starts `skiff ARGS…` on a new pseudo-terminal of `rows`×`cols` that
    /// becomes its controlling terminal, as an interactive shell would.
    pub fn start_on_tty(&self, args: &[&str], rows: u16, cols: u16) -> PtySession {
        let owner = (self.user == User::Rootless).then_some((self.uid, self.gid));
        PtySession::start(self.skiff(args), rows, cols, owner)
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        if keep_dirs() {
            eprintln!("    kept {}", self.dir.display());
            return;
        }
        remove_tree(&self.dir);
    }
}

/// Removes a directory tree as root: first detaches anything still mounted
/// below it (a crashed skiff may leave overlay mounts), then deletes. The
/// rootless user's store holds subuid-owned files; root may delete them.
/// Never panics (it runs in `Drop`, possibly while unwinding).
pub fn remove_tree(dir: &Path) {
    if let Ok(mountinfo) = fs::read_to_string("/proc/self/mountinfo") {
        let mut below: Vec<&str> = mountinfo
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|target| Path::new(target).starts_with(dir))
            .collect();
        below.sort_by_key(|t| std::cmp::Reverse(t.len()));
        for target in below {
            let _ = nix::mount::umount2(target, nix::mount::MntFlags::MNT_DETACH);
        }
    }
    if let Err(e) = fs::remove_dir_all(dir)
        && e.kind() != io::ErrorKind::NotFound
    {
        eprintln!("warning: could not remove {}: {e}", dir.display());
    }
}

fn make_dir(path: &Path, mode: u32) {
    fs::create_dir_all(path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
    // Explicit: create_dir_all is subject to the umask.
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

// ---------------------------------------------------------------------------
// Running processes with deadlines
// ---------------------------------------------------------------------------

/// Bytes a reader thread has collected so far.
#[derive(Clone, Default)]
struct Collected(Arc<Mutex<Vec<u8>>>);

impl Collected {
    fn spawn_reader(mut source: impl Read + Send + 'static) -> (Collected, JoinHandle<()>) {
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

    fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }

    fn text(&self) -> String {
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

    pub fn stderr_so_far(&self) -> String {
        self.stderr.text()
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

// ---------------------------------------------------------------------------
// Pseudo-terminals
// ---------------------------------------------------------------------------

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
                // Give the reader a moment to drain what was printed last.
                thread::sleep(Duration::from_millis(100));
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
        if let Some(reader) = self.reader.take() {
            let reader_deadline = Instant::now() + Duration::from_secs(10);
            while !reader.is_finished() && Instant::now() < reader_deadline {
                thread::sleep(Duration::from_millis(5));
            }
            if reader.is_finished() {
                let _ = reader.join();
            }
        }
        (status, self.output())
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

// ---------------------------------------------------------------------------
// Reading what a container printed
// ---------------------------------------------------------------------------

/// One line of /proc/mounts.
#[derive(Debug, Clone)]
pub struct MountEntry {
    pub source: String,
    pub target: String,
    pub fstype: String,
    pub options: Vec<String>,
}

impl MountEntry {
    pub fn has_option(&self, option: &str) -> bool {
        self.options.iter().any(|o| o == option)
    }
}

/// Parses /proc/mounts text.
pub fn parse_mounts(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            Some(MountEntry {
                source: fields.next()?.to_string(),
                target: unescape_mount_path(fields.next()?),
                fstype: fields.next()?.to_string(),
                options: fields.next()?.split(',').map(str::to_string).collect(),
            })
        })
        .collect()
}

/// The mount visible at `target`: the last (topmost) entry for it.
pub fn mount_at<'a>(mounts: &'a [MountEntry], target: &str) -> Option<&'a MountEntry> {
    mounts.iter().rev().find(|m| m.target == target)
}

fn unescape_mount_path(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// Interface names in /proc/net/dev text.
pub fn interfaces(proc_net_dev: &str) -> Vec<String> {
    let mut names: Vec<String> = proc_net_dev
        .lines()
        .skip(2)
        .filter_map(|l| l.split_once(':').map(|(name, _)| name.trim().to_string()))
        .collect();
    names.sort();
    names
}

/// `Key:\tvalue` lines of /proc/<pid>/status.
pub fn parse_status(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// Host pids whose argv is exactly `argv`.
pub fn pids_with_argv(argv: &[&str]) -> Vec<Pid> {
    let mut expected = Vec::new();
    for arg in argv {
        expected.extend_from_slice(arg.as_bytes());
        expected.push(0);
    }
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == expected))
        .map(Pid::from_raw)
        .collect()
}

// ---------------------------------------------------------------------------
// Crafting archives
// ---------------------------------------------------------------------------

/// The names in `dir`, sorted; empty when it is missing.
pub fn dir_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Reads every entry of a tar archive: (header, data).
pub fn read_tar_entries(archive: &[u8]) -> Vec<(tar::Header, Vec<u8>)> {
    let mut tar = tar::Archive::new(archive);
    tar.entries()
        .expect("reading tar")
        .map(|entry| {
            let mut entry = entry.expect("reading tar entry");
            let header = entry.header().clone();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            (header, data)
        })
        .collect()
}

/// Writes entries back as a tar archive, headers unchanged.
pub fn write_tar_entries(entries: &[(tar::Header, Vec<u8>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (header, data) in entries {
        builder.append(header, data.as_slice()).unwrap();
    }
    builder.into_inner().unwrap()
}

/// The config digest hex (= the image ID) of a docker-archive.
pub fn docker_archive_config_hex(archive: &Path) -> String {
    let entries = read_tar_entries(&fs::read(archive).unwrap());
    let (_, manifest) = entries
        .iter()
        .find(|(h, _)| h.path().unwrap().to_str() == Some("manifest.json"))
        .expect("manifest.json in the docker-archive");
    let manifest: serde_json::Value = serde_json::from_slice(manifest).unwrap();
    manifest[0]["Config"]
        .as_str()
        .unwrap()
        .trim_end_matches(".json")
        .to_string()
}

/// The kinds of raw layer entries [`LayerBuilder`] writes.
pub enum RawEntry<'a> {
    File(&'a [u8]),
    Dir,
    Symlink(&'a str),
    Hardlink(&'a str),
}

/// Builds a layer tar byte by byte, including entries the `tar` crate's
/// checked API refuses (`../x`, absolute names): hostile input for the
/// unpacker.
pub struct LayerBuilder(tar::Builder<Vec<u8>>);

impl Default for LayerBuilder {
    fn default() -> Self {
        LayerBuilder(tar::Builder::new(Vec::new()))
    }
}

impl LayerBuilder {
    pub fn entry(mut self, name: &str, kind: RawEntry<'_>) -> Self {
        let mut header = tar::Header::new_gnu();
        assert!(
            name.len() < 100,
            "raw entry names must fit the 100-byte field"
        );
        header.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
        let (entry_type, data, mode): (tar::EntryType, &[u8], u32) = match kind {
            RawEntry::File(data) => (tar::EntryType::Regular, data, 0o644),
            RawEntry::Dir => (tar::EntryType::Directory, &[], 0o755),
            RawEntry::Symlink(target) => {
                header.set_link_name(target).unwrap();
                (tar::EntryType::Symlink, &[], 0o777)
            }
            RawEntry::Hardlink(target) => {
                header.set_link_name(target).unwrap();
                (tar::EntryType::Link, &[], 0o644)
            }
        };
        header.set_entry_type(entry_type);
        header.set_size(data.len() as u64);
        header.set_mode(mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_cksum();
        self.0.append(&header, data).unwrap();
        self
    }

    pub fn finish(self) -> Vec<u8> {
        self.0.into_inner().unwrap()
    }
}

/// Writes a docker-archive with one uncompressed layer whose diff_id is
/// correct (so digest checks pass and only the layer's content is on trial).
pub fn write_docker_archive(path: &Path, repo_tag: &str, layer: &[u8]) {
    write_docker_archive_claiming(path, repo_tag, layer, &sha256_hex(layer));
}

/// Like [`write_docker_archive`], with the config claiming `diff_id` (hex)
/// for the layer, whatever it holds.
pub fn write_docker_archive_claiming(path: &Path, repo_tag: &str, layer: &[u8], diff_id: &str) {
    let config = serde_json::json!({
        "architecture": std::env::consts::ARCH.replace("x86_64", "amd64").replace("aarch64", "arm64"),
        "os": "linux",
        "created": "2024-01-01T00:00:00Z",
        "config": { "Cmd": ["sh"], "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"] },
        "rootfs": { "type": "layers", "diff_ids": [format!("sha256:{diff_id}")] },
    })
    .to_string();
    let config_hex = sha256_hex(config.as_bytes());
    let manifest = serde_json::json!([{
        "Config": format!("{config_hex}.json"),
        "RepoTags": [repo_tag],
        "Layers": [format!("{diff_id}/layer.tar")],
    }])
    .to_string();
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data) in [
        (format!("{diff_id}/layer.tar"), layer),
        (format!("{config_hex}.json"), config.as_bytes()),
        ("manifest.json".to_string(), manifest.as_bytes()),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        builder.append_data(&mut header, name, data).unwrap();
    }
    fs::write(path, builder.into_inner().unwrap()).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o644)).unwrap();
}

// ---------------------------------------------------------------------------
// Container lifecycle helpers (ps, inspect, logs, processes)
// ---------------------------------------------------------------------------

pub mod containers;
pub mod hostile_layers;
pub mod image_output;
pub mod registry;
pub mod token_server;
