//! cgroup v2 on a pure unified host. This machine class has a hybrid
//! layout (v1 controllers), so the test boots Debian's kernel under
//! `qemu-system-x86_64 -accel tcg` with an initramfs of busybox, skiff and
//! the busybox image (`tests/vm/`). Inside, the same story runs as root
//! (containers below `/sys/fs/cgroup/skiff`) and as a user with a cgroup
//! subtree delegated the way systemd's `user@.service` does it: limits in
//! the v2 files, a cgroup namespace with the container's cgroup read-only
//! at /sys/fs/cgroup, pause through `cgroup.freeze`, stats from the counters,
//! exec in the container's cgroup, OOM kills recorded, the cgroup removed;
//! and a user outside any delegated subtree gets clear refusals.
//! `scripts/test` installs `qemu-system-x86` and `linux-image-amd64`.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

const INIT: &str = include_str!("vm/cgroup-v2-init.sh");
const STORY: &str = include_str!("vm/cgroup-v2-story.sh");
/// Booting and running both stories under emulation takes about a minute.
const VM_TIMEOUT: Duration = Duration::from_secs(600);

/// The newest `/boot/vmlinuz-*`.
fn kernel() -> PathBuf {
    let mut kernels: Vec<PathBuf> = fs::read_dir("/boot")
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    kernels.retain(|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("vmlinuz-"))
    });
    kernels.sort();
    kernels
        .pop()
        .expect("no /boot/vmlinuz-*: scripts/test installs linux-image-amd64")
}

fn copy_executable(from: &Path, to: &Path) {
    fs::create_dir_all(to.parent().unwrap()).unwrap();
    fs::copy(from, to).unwrap_or_else(|e| panic!("copying {}: {e}", from.display()));
    fs::set_permissions(to, fs::Permissions::from_mode(0o755)).unwrap();
}

/// The shared libraries `binary` loads, from `ldd`.
fn libraries_of(binary: &Path) -> Vec<PathBuf> {
    let out = Command::new("ldd")
        .arg(binary)
        .output()
        .expect("running ldd");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let path = match line.split_once("=>") {
                Some((_, right)) => right.split_whitespace().next()?,
                None => line.split_whitespace().next()?,
            };
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

/// Lays out the VM's root: busybox, skiff and its libraries, the image,
/// the scripts; returns the initramfs (an uncompressed newc cpio: nothing
/// to inflate under emulation).
fn build_initramfs(dir: &Path) -> PathBuf {
    let root = dir.join("root");
    copy_executable(Path::new("/bin/busybox"), &root.join("bin/busybox"));
    let skiff = skiff_bin();
    // Without debug info the binary is a fifth of the size.
    let status = Command::new("strip")
        .arg("-o")
        .arg(root.join("skiff"))
        .arg(skiff)
        .status()
        .expect("running strip");
    assert!(status.success(), "strip failed");
    for lib in libraries_of(skiff) {
        copy_executable(&lib, &root.join(lib.strip_prefix("/").unwrap()));
    }
    fs::copy(busybox_docker_archive(), root.join("busybox.tar")).unwrap();
    fs::write(root.join("init"), INIT).unwrap();
    fs::set_permissions(root.join("init"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(root.join("story.sh"), STORY).unwrap();
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    fs::write(root.join("etc/group"), "root:x:0:\n").unwrap();
    let initramfs = dir.join("initramfs.cpio");
    let out = Command::new("sh")
        .arg("-c")
        .arg("find . | /bin/busybox cpio -o -H newc > ../initramfs.cpio")
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cpio: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    initramfs
}

/// `RESULT <who> <key> <value…>` lines: (who, key) → value.
fn results(console: &str) -> BTreeMap<(String, String), String> {
    console
        .lines()
        .filter_map(|line| {
            let rest = line.trim_end_matches('\r').split_once("RESULT ")?.1;
            let mut parts = rest.splitn(3, ' ');
            let who = parts.next()?.to_string();
            let key = parts.next().unwrap_or_default().to_string();
            Some((
                (who, key),
                parts.next().unwrap_or_default().trim().to_string(),
            ))
        })
        .collect()
}

#[test]
fn v01_cgroup_v2_limits_pause_stats_and_oom_as_root_and_as_a_delegated_user() {
    let ctx = Ctx::new(User::Root);
    let initramfs = build_initramfs(&ctx.dir);
    let mut qemu = Command::new("qemu-system-x86_64");
    qemu.args([
        "-accel",
        "tcg",
        "-m",
        "1024",
        "-smp",
        "2",
        "-nographic",
        "-no-reboot",
    ])
    .arg("-kernel")
    .arg(kernel())
    .arg("-initrd")
    .arg(&initramfs)
    .args(["-append", "console=ttyS0 panic=-1 rdinit=/init quiet"]);
    let out = Running::start(qemu, None).wait(VM_TIMEOUT);
    let console = String::from_utf8_lossy(&out.stdout).into_owned();
    let found = results(&console);
    assert!(
        found.contains_key(&("done".into(), "".into())),
        "the VM did not finish its story:\n{console}"
    );
    let get = |who: &str, key: &str| -> String {
        found
            .get(&(who.to_string(), key.to_string()))
            .cloned()
            .unwrap_or_else(|| panic!("no result {who} {key} in:\n{console}"))
    };
    for who in ["root", "rootless"] {
        let context = format!("{who}, console:\n{console}");
        assert_eq!(get(who, "run-d").split(':').next(), Some("0"), "{context}");
        let path = get(who, "path");
        let expected_parent = if who == "root" {
            "/skiff/"
        } else {
            "/user.slice/user@1000.service/skiff/"
        };
        assert!(path.starts_with(expected_parent), "{path} {context}");
        assert_eq!(get(who, "memory.max"), "33554432", "{context}");
        assert_eq!(get(who, "pids.max"), "10", "{context}");
        assert_eq!(get(who, "cpu.max"), "50000_100000", "{context}");
        assert_eq!(get(who, "pid1-cgroup"), "0::/", "{context}");
        assert_eq!(get(who, "exec-cgroup"), "0::/", "{context}");
        assert_eq!(get(who, "inside-memory.max"), "33554432", "{context}");
        assert_eq!(get(who, "inside-read-only"), "1", "{context}");
        assert_eq!(get(who, "exec-in-cgroup"), "1", "{context}");
        assert_eq!(get(who, "paused-status"), "paused", "{context}");
        assert_eq!(get(who, "frozen"), "frozen_1", "{context}");
        assert_eq!(get(who, "unpaused-status"), "running", "{context}");
        assert_eq!(get(who, "thawed"), "frozen_0", "{context}");
        assert_eq!(get(who, "stats-limit"), "1", "{context}");
        assert_eq!(get(who, "stats-note"), "0", "{context}");
        assert_eq!(get(who, "cgroup-after-rm"), "gone", "{context}");
        assert_eq!(get(who, "oom-exit"), "137", "{context}");
        assert_eq!(get(who, "oom-killed"), "true", "{context}");
        let kmsg = if who == "root" { "refused" } else { "no-mknod" };
        assert_eq!(get(who, "kmsg"), kmsg, "{context}");
        assert_eq!(get(who, "dev-null"), "null-ok", "{context}");
    }
    // Outside a delegated subtree: limits and pause are refused, clearly.
    assert_eq!(get("undelegated", "limits-exit"), "125", "{console}");
    assert_eq!(get("undelegated", "limits-error"), "1", "{console}");
    assert_eq!(get("undelegated", "pause-exit"), "125", "{console}");
    assert_eq!(get("undelegated", "pause-error"), "1", "{console}");
}
