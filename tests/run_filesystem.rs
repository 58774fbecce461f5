//! The filesystem of a `skiff run` container: writes stay out of the
//! image, bind mounts (`:ro` and read-write), tmpfs, and every root
//! filesystem driver (kernel overlay, fuse-overlayfs, copy). Each test runs
//! as root and rootless.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;

use common::proc_files::*;
use common::*;

// --- filesystem ---------------------------------------------------------------

#[test]
fn writes_do_not_reach_image() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "echo x > /marker && echo changed > /etc/os-release && rm /bin/true && cat /marker",
        ]);
        assert_eq!(out, "x\n");
        let out = ctx.run_ok(&[
            "run", "--rm", "busybox", "sh", "-c",
            "test ! -e /marker && grep -q skiff-busybox /etc/os-release && test -e /bin/true && echo pristine",
        ]);
        assert_eq!(out, "pristine\n");
    });
}

#[test]
fn bind_mount_read_only() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let dir = ctx.make_dir("ro-src");
        ctx.write_file("ro-src/hello.txt", "from host\n");
        let volume = format!("{}:/src:ro", dir.display());
        let out = ctx.run_ok(&[
            "run", "--rm", "-v", &volume, "busybox", "sh", "-c",
            "cat /src/hello.txt; if touch /src/new 2>/dev/null; then echo WRITABLE; fi; grep ' /src ' /proc/mounts",
        ]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "from host");
        assert!(
            !out.contains("WRITABLE"),
            "a :ro volume was writable: {out}"
        );
        let mounts = parse_mounts(&lines[1..].join("\n"));
        let mount = mount_at(&mounts, "/src").expect("/src in /proc/mounts");
        assert!(
            mount.has_option("ro"),
            "/src should be mounted ro: {mount:?}"
        );
        assert!(!dir.join("new").exists());
    });
}

#[test]
fn bind_mount_read_write() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let dir = ctx.make_dir("rw-src");
        let volume = format!("{}:/data", dir.display());
        ctx.run_ok(&[
            "run",
            "--rm",
            "--volume",
            &volume,
            "busybox",
            "sh",
            "-c",
            "echo from container > /data/out",
        ]);
        let written = dir.join("out");
        assert_eq!(fs::read_to_string(&written).unwrap(), "from container\n");
        // Root in a rootless container is the user on the host.
        assert_eq!(
            fs::metadata(&written).unwrap().uid(),
            ctx.uid,
            "owner of a file root wrote"
        );
    });
}

#[test]
fn tmpfs_mount() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let script = "echo x > /scratch/f && cat /scratch/f; cat /proc/mounts";
        let out = ctx.run_ok(&[
            "run", "--rm", "--tmpfs", "/scratch", "busybox", "sh", "-c", script,
        ]);
        assert!(out.starts_with("x\n"), "{out}");
        let mounts = parse_mounts(&out);
        let mount = mount_at(&mounts, "/scratch").expect("/scratch in /proc/mounts");
        assert_eq!(mount.fstype, "tmpfs");

        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "--tmpfs",
            "/sized:size=1m",
            "busybox",
            "cat",
            "/proc/mounts",
        ]);
        let mounts = parse_mounts(&out);
        let mount = mount_at(&mounts, "/sized").expect("/sized in /proc/mounts");
        assert_eq!(mount.fstype, "tmpfs");
        assert!(
            mount.has_option("size=1024k"),
            "size option not applied: {mount:?}"
        );
    });
}

// --- rootfs drivers -----------------------------------------------------------

/// Runs with `SKIFF_OVERLAY=driver` and checks the root filesystem works:
/// writable, image owners intact, writes gone after the container.
/// `fstype`: what / must be mounted as, when the driver determines it.
fn check_rootfs_driver(ctx: &Ctx, driver: &str, fstype: Option<&str>) {
    ctx.load_busybox();
    let mut cmd = ctx.skiff(&[
        "run", "--rm", "busybox", "sh", "-c",
        "echo written > /etc/new && cat /etc/new && stat -c %u:%g /home/tester/owned && echo --- && cat /proc/mounts",
    ]);
    cmd.env("SKIFF_OVERLAY", driver);
    let out = ctx.ok(cmd);
    let (head, mounts) = out.split_once("---\n").unwrap();
    assert_eq!(head, "written\n1000:1000\n", "SKIFF_OVERLAY={driver}");
    let mounts = parse_mounts(mounts);
    let root = mount_at(&mounts, "/").expect("/ in /proc/mounts");
    match fstype {
        Some(fstype) => assert_eq!(root.fstype, fstype, "SKIFF_OVERLAY={driver}: / is {root:?}"),
        None => assert!(
            root.fstype != "overlay" && !root.fstype.starts_with("fuse"),
            "SKIFF_OVERLAY={driver}: / should be a plain directory, is {root:?}"
        ),
    }
    let mut cmd = ctx.skiff(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "test ! -e /etc/new && echo clean",
    ]);
    cmd.env("SKIFF_OVERLAY", driver);
    assert_eq!(
        ctx.ok(cmd),
        "clean\n",
        "SKIFF_OVERLAY={driver}: a write reached the image"
    );
}

#[test]
fn kernel_overlay_driver_works() {
    for_each_user(|ctx| check_rootfs_driver(ctx, "kernel", Some("overlay")));
}

#[test]
fn fuse_overlay_driver_works() {
    // Rootless needs /dev/fuse usable by the user: scripts/test makes it 0666.
    for_each_user(|ctx| check_rootfs_driver(ctx, "fuse", Some("fuse.fuse-overlayfs")));
}

#[test]
fn copy_overlay_fallback_works() {
    for_each_user(|ctx| check_rootfs_driver(ctx, "copy", None));
}

#[test]
fn chown_in_container_does_not_change_image() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        // The store's image layer must not be changed by a container that
        // chowns and deletes image files (the upper layer takes the change).
        ctx.run_ok(&[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "chown 0:0 /home/tester/owned && rm /bin/sh",
        ]);
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "busybox",
            "stat",
            "-c",
            "%u:%g",
            "/home/tester/owned",
        ]);
        assert_eq!(out, "1000:1000\n");
    });
}
