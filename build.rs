//! Facts about this build for `skiff version`: the rustc that compiled it,
//! when, and from which git commit (when built from a git checkout).
//!
//! The script reruns only when the sources, the manifest or git's HEAD
//! change, so editing a test does not rebuild the binary for a new time.

use std::process::Command;

fn output_of(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let rustc_version = output_of(&rustc, &["--version"]).unwrap_or_default();
    // SOURCE_DATE_EPOCH makes the build time reproducible when set.
    let built = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        });
    let commit = output_of("git", &["rev-parse", "HEAD"]).unwrap_or_default();
    println!("cargo:rustc-env=SKIFF_RUSTC_VERSION={rustc_version}");
    println!("cargo:rustc-env=SKIFF_BUILT={built}");
    println!("cargo:rustc-env=SKIFF_GIT_COMMIT={commit}");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=Cargo.toml");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    // HEAD and the branch it points at (a worktree has its own HEAD).
    for name in ["HEAD", "logs/HEAD"] {
        if let Some(path) = output_of("git", &["rev-parse", "--git-path", name]) {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}
