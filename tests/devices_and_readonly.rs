//! `--read-only`, `--read-only-tmpfs`, `--security-opt mask=/unmask=`,
//! `--device` and the devices `--privileged` brings, as a user checks
//! them from inside the container.

mod common;

use common::*;

fn sh(ctx: &Ctx, flags: &[&str], script: &str) -> std::process::Output {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["busybox", "sh", "-c", script]);
    ctx.run_status(&args)
}

#[test]
fn a_read_only_root_keeps_tmp_and_volumes_writable() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let data = ctx.make_dir("data");
        let volume = format!("{}:/data", data.display());
        let out = sh(
            ctx,
            &["--read-only", "-v", &volume],
            "touch /x 2>&1; for d in /tmp /var/tmp /run /data; do touch $d/f && echo $d ok; done",
        );
        let stdout = stdout_of(&out);
        assert!(
            stdout.contains("Read-only file system"),
            "{}: {stdout}",
            ctx.user
        );
        for dir in ["/tmp", "/var/tmp", "/run", "/data"] {
            assert!(
                stdout.contains(&format!("{dir} ok")),
                "{}: {dir}: {stdout}",
                ctx.user
            );
        }
        assert!(data.join("f").exists());

        let out = sh(
            ctx,
            &["--read-only", "--read-only-tmpfs=false"],
            "touch /tmp/f 2>&1; echo done",
        );
        let stdout = stdout_of(&out);
        assert!(
            stdout.contains("Read-only file system"),
            "{}: {stdout}",
            ctx.user
        );

        // Without --read-only the root stays writable.
        let out = sh(ctx, &[], "touch /x && echo written");
        assert_eq!(stdout_of(&out).trim(), "written");

        let id = ctx.run_ok(&["create", "--read-only", "busybox", "true"]);
        assert_eq!(
            ctx.inspect_format(id.trim(), "{{.HostConfig.ReadonlyRootfs}}"),
            "true"
        );
        ctx.run_ok(&["rm", id.trim()]);
    });
}

/// The first of docker's masked /proc files this kernel has.
fn a_masked_proc_file() -> Option<&'static str> {
    [
        "/proc/timer_list",
        "/proc/keys",
        "/proc/sched_debug",
        "/proc/kcore",
    ]
    .into_iter()
    .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file()))
}

#[test]
fn masks_can_be_added_and_removed() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let Some(masked) = a_masked_proc_file() else {
            eprintln!("no masked /proc file on this kernel");
            return;
        };
        // A masked file is /dev/null: empty, character device 1:3.
        let probe = format!("stat -c %t:%T {masked}; head -c 1 {masked} | wc -c");
        let default = stdout_of(&sh(ctx, &[], &probe));
        assert_eq!(
            default.split_whitespace().collect::<Vec<_>>(),
            ["1:3", "0"],
            "{default}"
        );
        let unmasked = stdout_of(&sh(
            ctx,
            &["--security-opt", &format!("unmask={masked}")],
            &probe,
        ));
        assert_ne!(
            unmasked.lines().next(),
            Some("1:3"),
            "{}: {unmasked}",
            ctx.user
        );
        let all = stdout_of(&sh(ctx, &["--security-opt", "unmask=ALL"], &probe));
        assert_ne!(all.lines().next(), Some("1:3"), "{}: {all}", ctx.user);

        let out = sh(
            ctx,
            &["--security-opt", "mask=/etc/hostname:/etc/passwd"],
            "wc -c < /etc/hostname; wc -c < /etc/passwd",
        );
        assert_eq!(
            stdout_of(&out).split_whitespace().collect::<Vec<_>>(),
            ["0", "0"],
            "{}",
            ctx.user
        );
    });
}

#[test]
fn a_device_can_be_added_under_another_name() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let out = sh(
            ctx,
            &["--device", "/dev/null:/dev/mynull"],
            "echo x > /dev/mynull && stat -c %t:%T /dev/mynull",
        );
        assert_eq!(
            stdout_of(&out).trim(),
            "1:3",
            "{}: {}",
            ctx.user,
            stderr_of(&out)
        );
        let id = ctx.run_ok(&[
            "create",
            "--device",
            "/dev/null:/dev/mynull:rw",
            "busybox",
            "true",
        ]);
        assert_eq!(
            ctx.inspect_format(
                id.trim(),
                "{{range .HostConfig.Devices}}{{.PathOnHost}} {{.PathInContainer}} {{.CgroupPermissions}}{{end}}"
            ),
            "/dev/null /dev/mynull rw"
        );
        ctx.run_ok(&["rm", id.trim()]);
    });
}

#[test]
fn privileged_sees_the_hosts_devices_and_no_masks() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        // A device no container gets by default, that the host has.
        let Some(device) = ["/dev/loop-control", "/dev/kmsg", "/dev/fuse"]
            .into_iter()
            .find(|d| std::path::Path::new(d).exists())
        else {
            eprintln!("no candidate host device");
            return;
        };
        let probe = format!("test -e {device} && echo present");
        assert_eq!(stdout_of(&sh(ctx, &[], &probe)).trim(), "");
        assert_eq!(
            stdout_of(&sh(ctx, &["--privileged"], &probe)).trim(),
            "present",
            "{}",
            ctx.user
        );
        if let Some(masked) = a_masked_proc_file() {
            let out = sh(ctx, &["--privileged"], &format!("stat -c %t:%T {masked}"));
            assert_ne!(stdout_of(&out).trim(), "1:3", "{}", ctx.user);
        }
        let id = ctx.run_ok(&["create", "--privileged", "busybox", "true"]);
        assert_eq!(
            ctx.inspect_format(id.trim(), "{{.HostConfig.Privileged}}"),
            "true"
        );
        ctx.run_ok(&["rm", id.trim()]);
    });
}

#[test]
fn bad_values_are_refused_with_one_line() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        for (flags, subject) in [
            (&["--device", "dev/null"][..], "dev/null"),
            (&["--device", "/dev/null:/x:rwx"][..], "/dev/null:/x:rwx"),
            (&["--device", "/no/such/device"][..], "/no/such/device"),
            (&["--security-opt", "mask=relative"][..], "relative"),
            (&["--read-only-tmpfs=false"][..], "--read-only"),
        ] {
            let mut args = vec!["run", "--rm"];
            args.extend_from_slice(flags);
            args.extend_from_slice(&["busybox", "true"]);
            let out = ctx.run_status(&args);
            let what = format!("{}: {flags:?}", ctx.user);
            assert_exit_code(&out, 125, &what);
            assert_one_error_mentioning(&out, subject, &what);
        }
        assert_eq!(ctx.run_ok(&["ps", "-a", "-q"]), "");
    });
}
