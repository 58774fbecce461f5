//! Each container in a cgroup of its own: resource limits the kernel
//! enforces, OOM kills recorded, `pause`/`unpause` through the freezer,
//! `stats` from the cgroup's counters, `exec` joining the cgroup, and clear
//! refusals where there is no cgroup. Runs on this host's cgroups (v1
//! controllers on the hybrid layout, v2 on a unified host) as root, and
//! rootless: `scripts/test` gives the test user no delegated cgroup subtree
//! (there is no systemd user session), so rootless containers get no cgroup
//! on any host and must say so. The rootless v2 story with delegation runs
//! in a VM (`tests/cgroup_v2_vm.rs`).

mod common;

use std::path::PathBuf;

use common::containers::*;
use common::proc_files::*;
use common::*;

/// Whether this user's containers get cgroups here (see the module doc).
fn has_cgroups(ctx: &Ctx) -> bool {
    !ctx.is_rootless()
}

/// A file of the container's cgroup on the host: `/sys/fs/cgroup/<path>`
/// on a unified host, `/sys/fs/cgroup/<controller>/<path>` with v1.
fn cgroup_file(controller: &str, cgroup_path: &str, file: &str) -> PathBuf {
    let base = PathBuf::from("/sys/fs/cgroup");
    let relative = cgroup_path.trim_start_matches('/');
    if base.join("cgroup.controllers").exists() {
        base.join(relative).join(file)
    } else {
        base.join(controller).join(relative).join(file)
    }
}

fn read_cgroup_file(controller: &str, cgroup_path: &str, file: &str) -> String {
    let path = cgroup_file(controller, cgroup_path, file);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
        .trim()
        .to_string()
}

fn unified() -> bool {
    std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// The cgroup host process `pid` is in for `controller`, read from
/// /proc/<pid>/cgroup by the test, which runs in the host's cgroup
/// namespace: the same answer on a unified (v2) host, where the container
/// itself may see only `0::/` in a cgroup namespace of its own, and on a v1
/// or hybrid host. v2: the `0::PATH` line; v1: the line of the hierarchy
/// that has `controller`.
fn host_cgroup_of(pid: i32, controller: &str) -> String {
    let path = format!("/proc/{pid}/cgroup");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let found = text.lines().find_map(|line| {
        let mut fields = line.splitn(3, ':');
        let (id, controllers, cgroup) = (fields.next()?, fields.next()?, fields.next()?);
        let wanted = if unified() {
            id == "0" && controllers.is_empty()
        } else {
            controllers.split(',').any(|c| c == controller)
        };
        wanted.then(|| cgroup.to_string())
    });
    found.unwrap_or_else(|| panic!("no {controller} cgroup in {path}:\n{text}"))
}

/// Every directory named `id` below a `skiff` directory in any cgroup
/// hierarchy (v2, or a v1 controller's).
fn skiff_cgroup_dirs_named(id: &str) -> Vec<PathBuf> {
    let mut hierarchies = vec![PathBuf::from("/sys/fs/cgroup")];
    if let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup") {
        hierarchies.extend(entries.flatten().map(|e| e.path()));
    }
    hierarchies
        .into_iter()
        .map(|h| h.join("skiff").join(id))
        .filter(|dir| dir.exists())
        .collect()
}

#[test]
fn g01_limits_reach_the_kernel_and_an_oom_kill_is_recorded() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        let limits = [
            "--memory",
            "32m",
            "--pids-limit",
            "10",
            "--cpus",
            "0.5",
            "--name",
            "l",
        ];
        if !has_cgroups(ctx) {
            let mut args = vec!["run", "--rm"];
            args.extend_from_slice(&limits);
            args.extend(["busybox", "true"]);
            let out = ctx.run_status(&args);
            assert_exit_code(&out, 125, "run with limits and no cgroup");
            assert_one_error_mentioning(&out, "cannot apply resource limits", "run -m");
            assert!(
                ctx.all_short_ids().is_empty(),
                "a refused run creates nothing"
            );
            return;
        }
        let mut args = limits.to_vec();
        args.extend(["busybox", "sleep", "30"]);
        ctx.run_detached(&args);
        let path = ctx.inspect_format("l", "{{.State.CgroupPath}}");
        let id = ctx.inspect_format("l", "{{.Id}}");
        assert!(
            path.ends_with(&id),
            "cgroup path {path:?} names the container"
        );
        // The container's process is in that cgroup, as the host sees it
        // (inside, a cgroup namespace may show it as `/`).
        let pid: i32 = ctx.inspect_format("l", "{{.State.Pid}}").parse().unwrap();
        for controller in ["memory", "pids", "cpu"] {
            assert_eq!(
                host_cgroup_of(pid, controller),
                path,
                "/proc/{pid}/cgroup ({controller}) of the container's PID 1"
            );
        }
        if unified() {
            assert_eq!(read_cgroup_file("memory", &path, "memory.max"), "33554432");
            assert_eq!(read_cgroup_file("pids", &path, "pids.max"), "10");
            assert_eq!(read_cgroup_file("cpu", &path, "cpu.max"), "50000 100000");
        } else {
            assert_eq!(
                read_cgroup_file("memory", &path, "memory.limit_in_bytes"),
                "33554432"
            );
            assert_eq!(read_cgroup_file("pids", &path, "pids.max"), "10");
            assert_eq!(read_cgroup_file("cpu", &path, "cpu.cfs_quota_us"), "50000");
        }
        assert_eq!(
            ctx.inspect_format(
                "l",
                "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.NanoCpus}}"
            ),
            "33554432 10 500000000"
        );
        let stats = ctx.run_status(&["stats", "--no-stream", "l"]);
        assert_exit_code(&stats, 0, "stats");
        let usage = stdout_of(&stats);
        assert!(
            usage.contains("/ 33.6 MB"),
            "stats shows the limit:\n{usage}"
        );
        assert!(
            !stderr_of(&stats).contains("/proc"),
            "a container with a cgroup is measured by it: {}",
            stderr_of(&stats)
        );

        // The kernel enforces the PIDs limit.
        let forks = "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 5 & done; wait";
        let out = ctx.run_status(&[
            "run",
            "--rm",
            "--pids-limit",
            "5",
            "busybox",
            "sh",
            "-c",
            forks,
        ]);
        assert!(
            stderr_of(&out).contains("can't fork"),
            "forks beyond --pids-limit fail: {}",
            stderr_of(&out)
        );

        // A process killed by the OOM killer: exit 137 and OOMKilled.
        let out = ctx.run_status(&[
            "run",
            "--name",
            "oom",
            "-m",
            "16m",
            "busybox",
            "dd",
            "if=/dev/zero",
            "of=/dev/null",
            "bs=64M",
            "count=1",
        ]);
        assert_exit_code(&out, 137, "a run past its memory limit");
        assert_eq!(
            ctx.inspect_format("oom", "{{.State.OOMKilled}} {{.State.ExitCode}}"),
            "true 137"
        );
        ctx.run_ok(&["run", "--name", "fine", "-m", "16m", "busybox", "true"]);
        assert_eq!(ctx.inspect_format("fine", "{{.State.OOMKilled}}"), "false");

        // The cgroup goes with the run.
        ctx.run_ok(&["rm", "-f", "l"]);
        assert!(
            !cgroup_file("memory", &path, "").exists(),
            "{path} is removed after the container ended"
        );
    });
}

#[test]
fn g02_pause_freezes_the_container_and_unpause_resumes_it() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        let ticker = "i=0; while :; do i=$((i+1)); echo tick; usleep 20000; done";
        ctx.run_detached(&["--name", "p", "busybox", "sh", "-c", ticker]);
        ctx.wait_for_log_lines("p", "tick", 1);
        if !has_cgroups(ctx) {
            let out = ctx.run_status(&["pause", "p"]);
            assert_exit_code(&out, 125, "pause without a cgroup");
            assert_one_error_mentioning(&out, "cgroup freezer", "pause");
            assert_eq!(ctx.status_of("p"), "running");
            let stats = ctx.run_status(&["stats", "--no-stream", "p"]);
            assert_exit_code(&stats, 0, "stats without a cgroup");
            assert!(
                stderr_of(&stats).contains("summed from /proc"),
                "stats says where its numbers come from: {}",
                stderr_of(&stats)
            );
            return;
        }
        assert_eq!(ctx.run_ok(&["pause", "p"]), "p\n");
        assert_eq!(ctx.status_of("p"), "paused");
        assert_eq!(ctx.inspect_format("p", "{{.State.Paused}}"), "true");
        let path = ctx.inspect_format("p", "{{.State.CgroupPath}}");
        if unified() {
            let events = read_cgroup_file("freezer", &path, "cgroup.events");
            assert!(events.contains("frozen 1"), "{events}");
        } else {
            assert_eq!(
                read_cgroup_file("freezer", &path, "freezer.state"),
                "FROZEN"
            );
        }
        let ps = ctx.run_ok(&["ps", "--format", "{{.Names}} {{.Status}}"]);
        assert!(ps.contains("p Up") && ps.contains("(Paused)"), "{ps}");

        let again = ctx.run_status(&["pause", "p"]);
        assert_exit_code(&again, 125, "pause twice");
        assert_one_error_mentioning(&again, "already paused", "pause twice");
        let exec = ctx.run_status(&["exec", "p", "true"]);
        assert_exit_code(&exec, 125, "exec in a paused container");
        assert_one_error_mentioning(&exec, "paused", "exec while paused");
        let stats = ctx.run_status(&["stats", "--no-stream", "p"]);
        assert_exit_code(&stats, 0, "stats of a paused container");

        // Unpaused, it goes on ticking.
        let before = ctx.log_count("p", "tick");
        assert_eq!(ctx.run_ok(&["unpause", "p"]), "p\n");
        assert_eq!(ctx.status_of("p"), "running");
        ctx.wait_for_log_lines("p", "tick", before + 3);
        let not_paused = ctx.run_status(&["unpause", "p"]);
        assert_exit_code(&not_paused, 125, "unpause a running container");

        // A paused container can be killed (docker thaws it for SIGKILL).
        ctx.run_ok(&["pause", "p"]);
        ctx.run_ok(&["kill", "p"]);
        ctx.wait_for_status("p", "exited");
        assert_eq!(ctx.inspect_format("p", "{{.State.ExitCode}}"), "137");
        assert!(
            !cgroup_file("freezer", &path, "").exists(),
            "the cgroup is removed"
        );

        // `stop` thaws a paused container so it can act on the stop
        // signal: the trap runs and sets the exit code.
        let trapper = "trap 'exit 3' TERM; echo ready; while :; do usleep 20000; done";
        ctx.run_detached(&["--name", "t", "busybox", "sh", "-c", trapper]);
        ctx.wait_for_log_lines("t", "ready", 1);
        ctx.run_ok(&["pause", "t"]);
        let out = ctx.run_status(&["stop", "-t", "20", "t"]);
        assert_exit_code(&out, 0, "stop of a paused container");
        assert!(
            !stderr_of(&out).contains("SIGKILL"),
            "it was not killed: {}",
            stderr_of(&out)
        );
        assert_eq!(ctx.inspect_format("t", "{{.State.ExitCode}}"), "3");

        // `rm -f` of a paused container.
        ctx.run_detached(&["--name", "r", "busybox", "sleep", "30"]);
        let pid: i32 = ctx.inspect_format("r", "{{.State.Pid}}").parse().unwrap();
        ctx.run_ok(&["pause", "r"]);
        ctx.run_ok(&["rm", "-f", "r"]);
        assert!(
            !ctx.ps_names(&["-a"]).contains(&"r".to_string()),
            "rm -f removed the paused container"
        );
        wait_for("its frozen process to die", STATE_TIMEOUT, || {
            process_gone(pid)
        });
    });
}

#[test]
fn g03_exec_runs_in_the_containers_cgroup() {
    for_users(&[User::Root], |ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        ctx.run_detached(&["--name", "e", "busybox", "sleep", "30"]);
        let pid1 = ctx.run_ok(&["exec", "e", "cat", "/proc/1/cgroup"]);
        let exec = ctx.run_ok(&["exec", "e", "cat", "/proc/self/cgroup"]);
        assert_eq!(exec, pid1, "exec'd processes share PID 1's cgroups");
        // From the host: an exec'd process (found by a sleep length no other
        // process uses) is in the container's cgroup.
        let path = ctx.inspect_format("e", "{{.State.CgroupPath}}");
        let token = format!("{}", 6_000_000 + std::process::id() % 1_000_000);
        ctx.run_ok(&["exec", "-d", "e", "sleep", &token]);
        let mut found = Vec::new();
        wait_for("the exec'd sleep on the host", STATE_TIMEOUT, || {
            found = pids_with_argv(&["sleep", &token]);
            found.len() == 1
        });
        let exec_pid = found[0].as_raw();
        for controller in ["memory", "pids", "freezer"] {
            assert_eq!(
                host_cgroup_of(exec_pid, controller),
                path,
                "/proc/{exec_pid}/cgroup ({controller}) of an exec'd process"
            );
        }
    });
}

#[test]
fn g04_bad_resource_flags_are_refused_and_create_nothing() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let cases: [(&[&str], &str); 8] = [
            (&["-m", "4m"], "minimum memory limit allowed is 6MB"),
            (&["-m", "lots"], "invalid value \"lots\" for --memory"),
            (&["--memory-swap", "1g"], "--memory with --memory-swap"),
            (
                &["-m", "64m", "--memory-swap", "32m"],
                "larger than the memory limit",
            ),
            (
                &["--cpus", "1", "--cpu-quota", "50000"],
                "conflicting options",
            ),
            (&["--cpus", "0"], "--cpus"),
            (
                &["--cpuset-cpus", "4096"],
                "requested CPUs are not available",
            ),
            (
                &["--cgroups", "disabled", "--pids-limit", "5"],
                "--cgroups=disabled",
            ),
        ];
        for (flags, message) in cases {
            let mut args = vec!["run", "--rm"];
            args.extend_from_slice(flags);
            args.extend(["busybox", "true"]);
            let out = ctx.run_status(&args);
            assert_exit_code(&out, 125, &format!("run {flags:?}"));
            assert_one_error_mentioning(&out, message, &format!("run {flags:?}"));
        }
        let out = ctx.run_status(&["create", "--cgroups", "sometimes", "busybox"]);
        assert_exit_code(&out, 125, "--cgroups sometimes");
        assert_one_error_mentioning(&out, "invalid --cgroups", "--cgroups sometimes");
        assert!(ctx.all_short_ids().is_empty(), "nothing was created");
    });
}

#[test]
fn g05_cgroups_disabled_runs_without_one() {
    for_users(&[User::Root], |ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        // A --cgroup-parent that cannot hold a cgroup (a file) is an error.
        let out = ctx.run_status(&[
            "run",
            "--rm",
            "--cgroup-parent",
            "/cgroup.procs",
            "busybox",
            "true",
        ]);
        assert_exit_code(&out, 125, "run with an impossible --cgroup-parent");
        assert_one_error_mentioning(&out, "cgroup.procs", "--cgroup-parent /cgroup.procs");

        ctx.run_detached(&[
            "--name",
            "n",
            "--cgroups",
            "disabled",
            "busybox",
            "sleep",
            "30",
        ]);
        assert_eq!(ctx.inspect_format("n", "{{.State.CgroupPath}}"), "");
        // No cgroup was made for it, and its process is in none named after
        // it: it stays in the cgroup of the monitor that started it.
        let id = ctx.inspect_format("n", "{{.Id}}");
        let pid: i32 = ctx.inspect_format("n", "{{.State.Pid}}").parse().unwrap();
        let monitor: i32 = ctx
            .inspect_format("n", "{{.State.ConmonPid}}")
            .parse()
            .unwrap();
        assert_eq!(skiff_cgroup_dirs_named(&id), Vec::<PathBuf>::new());
        let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        assert!(
            !cgroups.contains(&id),
            "/proc/{pid}/cgroup of a --cgroups=disabled container names it:\n{cgroups}"
        );
        assert_eq!(
            cgroups,
            std::fs::read_to_string(format!("/proc/{monitor}/cgroup")).unwrap(),
            "the container's cgroups are its monitor's"
        );
        let out = ctx.run_status(&["pause", "n"]);
        assert_exit_code(&out, 125, "pause with --cgroups=disabled");
        assert_one_error_mentioning(&out, "--cgroups=disabled", "pause");
    });
}

#[test]
fn g06_a_paused_container_whose_monitor_died_is_cleaned_up() {
    for_users(&[User::Root], |ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        ctx.run_detached(&["--name", "m", "busybox", "sleep", "60"]);
        ctx.run_ok(&["pause", "m"]);
        let path = ctx.inspect_format("m", "{{.State.CgroupPath}}");
        let pid1: i32 = ctx.inspect_format("m", "{{.State.Pid}}").parse().unwrap();
        let monitor: i32 = ctx
            .inspect_format("m", "{{.State.ConmonPid}}")
            .parse()
            .unwrap();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(monitor),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        wait_for("the monitor to be gone", STATE_TIMEOUT, || {
            process_gone(monitor)
        });
        // The next command notices, ends the frozen PID 1 and the cgroup.
        assert_eq!(ctx.status_of("m"), "exited");
        wait_for("the frozen PID 1 to die", STATE_TIMEOUT, || {
            process_gone(pid1)
        });
        assert!(
            !cgroup_file("freezer", &path, "").exists(),
            "{path} removed"
        );
    });
}
