//! What every test shares within one test process, made once: a copy of
//! the skiff binary every user can execute, and the busybox image archives
//! `scripts/busybox-image.sh` builds offline, in a 0755 directory below
//! [`TESTS_DIR`] that is removed when the process exits.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use super::ctx::{make_dir, remove_tree};
use super::processes::output_of;
use super::users::{TEST_USER, keep_dirs};

/// Parent of every directory the harness creates. Mode 0755 so the test user
/// can reach its own directories below it.
pub const TESTS_DIR: &str = "/tmp/skiff-tests";
/// The name `skiff load` reports for the docker-archive busybox image.
pub const BUSYBOX_REF: &str = "docker.io/library/busybox:latest";
/// The name baked into the oci-archive busybox image.
pub const BUSYBOX_OCI_REF: &str = "localhost/skiff-test/busybox:oci";

pub(super) struct Shared {
    /// Directory (0755) holding the copied binary and the built archives.
    dir: PathBuf,
    bin: PathBuf,
    docker_archive: PathBuf,
}

static SHARED: OnceLock<Shared> = OnceLock::new();
static OCI_ARCHIVE: OnceLock<PathBuf> = OnceLock::new();
static ROOTFS_TAR: OnceLock<PathBuf> = OnceLock::new();

/// Everything every test needs, set up once per test process. Every test
/// passes through here (via `Ctx::new`) before it starts a process: the
/// binary copy happens while no other thread can fork, so no child inherits
/// a write descriptor to it (which would make exec fail with ETXTBSY).
pub(super) fn shared() -> &'static Shared {
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
