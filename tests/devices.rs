//! Device nodes inside containers: docker's default policy. Root may
//! mknod any node but open only the standard pseudo-devices and
//! terminals (the container's devices cgroup); rootless, the kernel
//! refuses mknod and every mount is nodev. The cgroup v2 side runs in
//! tests/cgroup_v2_vm.rs.

mod common;

use common::archives::*;
use common::hostile_layers::header;
use common::*;

#[test]
fn a_container_may_make_but_not_open_a_host_device() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let out = ctx.run_ok(&[
            "run", "--rm", "busybox", "sh", "-c",
            "if mknod /tmp/k c 1 11 2>/dev/null; then echo hi >/tmp/k && echo open; else echo no-mknod; fi; \
             echo x >/dev/null && head -c 3 /dev/urandom | wc -c",
        ]);
        let lines: Vec<&str> = out.lines().collect();
        if ctx.is_rootless() {
            assert_eq!(lines, ["no-mknod", "3"], "{out}");
        } else {
            // The write's error goes to stderr; nothing says "open".
            assert_eq!(lines, ["3"], "{out}");
        }
    });
}

#[test]
fn a_device_node_from_an_image_layer_cannot_be_opened() {
    for_each_user(|ctx| {
        let mut entries = read_tar_entries(&std::fs::read(busybox_rootfs_tar()).unwrap());
        let mut node = header("kmsg", tar::EntryType::Char, 0o666, 0, None);
        node.set_device_major(1).unwrap();
        node.set_device_minor(11).unwrap();
        node.set_cksum();
        entries.push((node, Vec::new()));
        let rootfs = ctx.write_file("rootfs.tar", write_tar_entries(&entries));
        ctx.run_ok(&["import", rootfs.to_str().unwrap(), "withdev:1"]);
        let out = ctx.run_status(&[
            "run",
            "--rm",
            "withdev:1",
            "sh",
            "-c",
            "test -c /kmsg && echo node; echo hi >/kmsg && echo open",
        ]);
        let stdout = stdout_of(&out);
        if ctx.is_rootless() {
            // Rootless unpacking cannot mknod: the node never exists.
            assert!(!stdout.contains("node"), "{stdout}");
        } else {
            assert_eq!(
                stdout.trim(),
                "node",
                "the layer's node was opened: {stdout}"
            );
            assert!(
                stderr_of(&out).contains("Operation not permitted"),
                "{}",
                stderr_of(&out)
            );
        }
    });
}
