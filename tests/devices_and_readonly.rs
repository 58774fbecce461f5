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
        if ctx.is_rootless() && std::path::Path::new("/dev/kmsg").exists() {
            // Root-only writable on the host: the user may not pass it on.
            let out = ctx.run_status(&[
                "run",
                "--rm",
                "--device",
                "/dev/kmsg:/dev/kmsg:rw",
                "busybox",
                "true",
            ]);
            assert_exit_code(&out, 125, "rootless --device /dev/kmsg");
            assert_one_error_mentioning(&out, "/dev/kmsg", "rootless --device /dev/kmsg");
        }
        assert_eq!(ctx.run_ok(&["ps", "-a", "-q"]), "");
    });
}

/// The `Groups:` line of a status file, as numbers.
fn groups_of(status: &str) -> Vec<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Groups:"))
        .unwrap_or_default()
        .split_whitespace()
        .map(|g| g.parse().unwrap())
        .collect()
}

#[test]
fn group_add_takes_gids_and_image_group_names() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        // busybox's /etc/group has tester:x:1000.
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "--group-add",
            "42",
            "--group-add",
            "tester",
            "-u",
            "1000:1000",
            "busybox",
            "cat",
            "/proc/self/status",
        ]);
        let mut groups = groups_of(&out);
        groups.sort();
        assert_eq!(groups, [42, 1000], "{}", ctx.user);

        let id = ctx.run_ok(&["create", "--group-add", "keep-groups", "busybox", "true"]);
        assert_eq!(
            ctx.inspect_format(id.trim(), "{{.HostConfig.GroupAdd}}"),
            "[keep-groups]"
        );
        ctx.run_ok(&["rm", id.trim()]);

        let out = ctx.run_status(&[
            "run",
            "--rm",
            "--group-add",
            "nosuchgroup",
            "busybox",
            "true",
        ]);
        assert_exit_code(&out, 125, "unknown group");
        assert_one_error_mentioning(&out, "nosuchgroup", "unknown group");
    });
}

#[test]
fn keep_groups_keeps_the_callers_groups() {
    // Root only: the harness starts the rootless user without
    // supplementary groups (std's setgroups(0)), so there is nothing to
    // keep there.
    for_users(&[User::Root], |ctx| {
        ctx.load_busybox();
        let ours = groups_of(&std::fs::read_to_string("/proc/self/status").unwrap());
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "--group-add",
            "keep-groups",
            "busybox",
            "cat",
            "/proc/self/status",
        ]);
        assert_eq!(groups_of(&out), ours);
    });
}

#[test]
fn a_device_cgroup_rule_opens_a_bound_device_for_root_only() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let rule = ["--device-cgroup-rule", "c 1:3 rw"];
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(&rule);
        args.extend_from_slice(&["busybox", "true"]);
        let out = ctx.run_status(&args);
        if ctx.is_rootless() {
            assert_exit_code(&out, 125, "rootless --device-cgroup-rule");
            assert_one_error_mentioning(&out, "rootless", "rootless --device-cgroup-rule");
            return;
        }
        assert_exit_code(&out, 0, "--device-cgroup-rule");
        // /dev/loop-control (10:237) is not in docker's default policy: a
        // bind of it cannot be opened until a rule allows it.
        if !std::path::Path::new("/dev/loop-control").exists() {
            return;
        }
        let probe = "cat /dev/lc 2>&1; true";
        let denied = stdout_of(&sh(ctx, &["-v", "/dev/loop-control:/dev/lc"], probe));
        assert!(denied.contains("Operation not permitted"), "{denied}");
        let allowed = stdout_of(&sh(
            ctx,
            &[
                "-v",
                "/dev/loop-control:/dev/lc",
                "--device-cgroup-rule",
                "c 10:237 rw",
            ],
            probe,
        ));
        assert!(!allowed.contains("Operation not permitted"), "{allowed}");
        for bad in ["c 10:237", "x 1:3 r", "c a:b rwm", "c 1:3 rwx"] {
            let out = ctx.run_status(&[
                "run",
                "--rm",
                "--device-cgroup-rule",
                bad,
                "busybox",
                "true",
            ]);
            assert_exit_code(&out, 125, bad);
            assert_one_error_mentioning(&out, bad, bad);
        }
    });
}
