//! [`Ctx`]: one user's sandbox for one test: a fresh store (`--root`) and
//! runroot (`--runroot`), a scratch directory the user owns, and
//! preconfigured `skiff` commands.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::fixtures::{BUSYBOX_REF, TESTS_DIR, busybox_docker_archive, shared, skiff_bin};
use super::processes::{Running, assert_success, describe, output_of};
use super::pty::PtySession;
use super::users::{TEST_USER, User, keep_dirs, test_user};

/// How long one skiff command may take before the test fails.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// PATH for skiff itself (not the container's: that comes from the image).
const HOST_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Variables passed from the test's environment to every skiff command.
const PASSED_THROUGH_ENV: &[&str] = &["SKIFF_OVERLAY", "RUST_BACKTRACE", "RUST_LOG", "SKIFF_LOG"];

static COUNTER: AtomicUsize = AtomicUsize::new(0);

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
    /// Set by `enable_networking`: real default networks, and root's
    /// commands inside the test's own network namespace.
    net: std::sync::OnceLock<super::netns::NetSandbox>,
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
            net: std::sync::OnceLock::new(),
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
        let mut cmd = match self.net.get() {
            Some(net) => net.command(&skiff_bin().display().to_string()),
            None => Command::new(skiff_bin()),
        };
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
        if self.net.get().is_none() {
            // Only network tests create links, rules or pasta processes.
            cmd.env("SKIFF_DEFAULT_NETWORK", "none");
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

impl Ctx {
    /// Opts this test into real networking (see `netns.rs`).
    pub fn enable_networking(&self) -> &super::netns::NetSandbox {
        self.net
            .get_or_init(|| super::netns::NetSandbox::new(self.user == User::Root))
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

pub(super) fn make_dir(path: &Path, mode: u32) {
    fs::create_dir_all(path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
    // Explicit: create_dir_all is subject to the umask.
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}
