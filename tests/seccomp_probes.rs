//! Syscalls busybox cannot make, probed by a small static C program the
//! test compiles: under docker's default profile `keyctl` and a
//! personality with flags docker does not list are refused with EPERM,
//! while the 32-bit personality docker allows (`PER_LINUX32`) works;
//! `mount` needs CAP_SYS_ADMIN, granted by `--cap-add`. Unconfined, the
//! same calls succeed, so each refusal is the filter's. Root and rootless.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::*;

const PROBE_SOURCE: &str = r#"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/syscall.h>
#include <unistd.h>

static int report(long rc) {
    if (rc < 0) printf("%s\n", strerror(errno));
    else printf("ok\n");
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    /* KEYCTL_GET_KEYRING_ID of the session keyring, creating it. */
    if (!strcmp(argv[1], "keyctl")) return report(syscall(SYS_keyctl, 0, -3, 1));
    /* ADDR_NO_RANDOMIZE: not one of the personalities docker allows. */
    if (!strcmp(argv[1], "no-randomize")) return report(personality(0x0040000));
    if (!strcmp(argv[1], "linux32")) return report(personality(PER_LINUX32));
    return 2;
}
"#;

/// The compiled probe, once per test binary, in a directory every test
/// user may read.
fn probe() -> &'static Path {
    static PROBE: OnceLock<PathBuf> = OnceLock::new();
    PROBE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("skiff-seccomp-probe-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let source = dir.join("probe.c");
        fs::write(&source, PROBE_SOURCE).unwrap();
        let binary = dir.join("probe");
        let status = Command::new("cc")
            .args(["-static", "-O1", "-o"])
            .arg(&binary)
            .arg(&source)
            .status()
            .expect("cc (the C compiler scripts/test installs)");
        assert!(status.success(), "compiling the probe failed");
        fs::set_permissions(&binary, fs::Permissions::from_mode(0o755)).unwrap();
        binary
    })
}

fn probe_says(ctx: &Ctx, options: &[&str], call: &str) -> String {
    let bind = format!("{}:/probe:ro", probe().display());
    let mut args = vec!["run", "--rm", "-v", &bind];
    args.extend_from_slice(options);
    args.extend_from_slice(&["busybox", "/probe", call]);
    ctx.run_ok(&args).trim().to_string()
}

#[test]
fn keyctl_and_unlisted_personalities_are_refused_by_the_default_filter() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let unconfined = ["--security-opt", "seccomp=unconfined"];
        for call in ["keyctl", "no-randomize"] {
            assert_eq!(
                probe_says(ctx, &[], call),
                "Operation not permitted",
                "{call} under the default filter"
            );
            assert_eq!(
                probe_says(ctx, &unconfined, call),
                "ok",
                "{call} unconfined"
            );
        }
        // The 32-bit personality is on docker's allow list.
        assert_eq!(probe_says(ctx, &[], "linux32"), "ok");
        let machine = ctx.run_ok(&["run", "--rm", "busybox", "linux32", "uname", "-m"]);
        assert_eq!(machine.trim(), "i686");
    });
}

#[test]
fn mount_needs_cap_sys_admin() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let mount = ["busybox", "mount", "-t", "tmpfs", "none", "/tmp"];
        let mut plain = vec!["run", "--rm"];
        plain.extend_from_slice(&mount);
        let out = ctx.run_status(&plain);
        assert_ne!(out.status.code(), Some(0), "mount without CAP_SYS_ADMIN");
        assert!(
            stderr_of(&out).contains("permission denied"),
            "{}",
            stderr_of(&out)
        );
        // docker's profile allows mount when the capability is granted.
        let mut granted = vec!["run", "--rm", "--cap-add", "SYS_ADMIN"];
        granted.extend_from_slice(&mount);
        ctx.run_ok(&granted);
    });
}
