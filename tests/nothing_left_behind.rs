//! Nothing is left behind: a container whose monitor was killed can still
//! be removed, twenty containers started, stopped and removed in parallel
//! leave no process, file or cgroup, and a `--rm` container removes itself.
//! Each test runs as root and rootless.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::time::Duration;

use common::containers::*;
use common::proc_files::*;
use common::*;

// --- monitors, many containers, --rm -------------------------------------------

#[test]
fn s38_a_killed_monitor_leaves_an_exited_container_that_can_be_removed() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        ctx.run_detached(&["--name", "orphan", "busybox", "sleep", "30"]);
        let monitor: i32 = ctx
            .inspect_format("orphan", "{{.State.ConmonPid}}")
            .parse()
            .unwrap();
        let pid: i32 = ctx
            .inspect_format("orphan", "{{.State.Pid}}")
            .parse()
            .unwrap();
        assert!(monitor > 0 && pid > 0, "monitor {monitor}, container {pid}");

        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(monitor),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        wait_for("the monitor to die", STATE_TIMEOUT, || {
            process_gone(monitor)
        });

        let ps = ctx.run_ok(&["ps", "-a"]);
        let rows = ps_table(&ps);
        assert_eq!(rows.len(), 1, "{ps}");
        assert!(
            rows[0]["STATUS"].starts_with("Exited (-1) "),
            "a container whose monitor died is exited with code -1:\n{ps}"
        );
        assert_eq!(ctx.status_of("orphan"), "exited");
        assert_eq!(ctx.inspect_format("orphan", "{{.State.ExitCode}}"), "-1");
        let error = ctx.inspect_format("orphan", "{{.State.Error}}");
        assert!(
            error.contains("monitor"),
            ".State.Error should mention the monitor: {error:?}"
        );
        wait_for("the container's process to end", STATE_TIMEOUT, || {
            process_gone(pid)
        });

        ctx.run_ok(&["rm", "orphan"]);
        assert!(ctx.all_short_ids().is_empty());
    });
}

#[test]
fn s39_twenty_containers_started_stopped_and_removed_in_parallel_leave_nothing() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        // A sleep length no other process uses: the containers' processes
        // are found on the host by their exact argv. Monitors name the
        // store (--root) on their command line.
        let token = format!(
            "{}",
            8_000_000 + (std::process::id() % 400_000) * 2 + u32::from(ctx.is_rootless())
        );
        let store = ctx.root.to_str().unwrap().to_string();
        let names: Vec<String> = (0..20).map(|i| format!("par-{i}")).collect();

        let parallel = |args: &dyn Fn(&str) -> Vec<String>| {
            let running: Vec<_> = names
                .iter()
                .map(|name| {
                    let args = args(name);
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    ctx.start(ctx.skiff(&args))
                })
                .collect();
            running
                .into_iter()
                .zip(&names)
                .map(|(r, name)| {
                    let out = r.wait(Duration::from_secs(120));
                    assert_success(&out, &format!("{} of {name}", args(name).join(" ")))
                })
                .collect::<Vec<String>>()
        };

        let ids = parallel(&|name| {
            ["run", "-d", "--name", name, "busybox", "sleep", &token]
                .map(str::to_string)
                .to_vec()
        });
        for id in &ids {
            assert!(is_hex(id.trim(), 64), "run -d printed {id:?}");
        }
        let distinct: BTreeSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), 20, "20 different IDs");
        assert_eq!(ctx.ps_names(&[]).len(), 20, "20 running");
        assert_eq!(
            pids_with_argv(&["sleep", &token]).len(),
            20,
            "20 sleeps on the host"
        );

        parallel(&|name| ["stop", "-t", "1", name].map(str::to_string).to_vec());
        assert!(ctx.ps_names(&[]).is_empty(), "all stopped");
        parallel(&|name| ["rm", name].map(str::to_string).to_vec());

        assert!(ctx.all_short_ids().is_empty(), "ps -aq after rm");
        let containers = ctx.root.join("containers");
        let left: Vec<String> = fs::read_dir(&containers)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "names")
            .collect();
        assert!(
            left.is_empty(),
            "{} still holds {left:?}",
            containers.display()
        );
        if let Ok(names) = fs::read_dir(containers.join("names")) {
            let names: Vec<_> = names.flatten().map(|e| e.file_name()).collect();
            assert!(names.is_empty(), "names/ still holds {names:?}");
        }
        if let Ok(runtime) = fs::read_dir(ctx.runroot.join("containers")) {
            let runtime: Vec<_> = runtime.flatten().map(|e| e.file_name()).collect();
            assert!(runtime.is_empty(), "the runroot still holds {runtime:?}");
        }
        wait_for(
            "every container process and monitor to end",
            STATE_TIMEOUT,
            || {
                pids_with_argv(&["sleep", &token]).is_empty()
                    && pids_with_argv_containing(&store).is_empty()
            },
        );
        // No cgroup is left either (v2, or any v1 controller's hierarchy).
        let hierarchies = ["", "memory", "pids", "freezer", "cpu", "cpuacct", "blkio"];
        for id in &ids {
            for hierarchy in hierarchies {
                let dir = Path::new("/sys/fs/cgroup")
                    .join(hierarchy)
                    .join("skiff")
                    .join(id.trim());
                assert!(!dir.exists(), "{} is left", dir.display());
            }
        }
    });
}

#[test]
fn s40_a_detached_rm_container_disappears_once_it_exits() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let id = ctx.run_detached(&["--rm", "--name", "fleeting", "busybox", "sleep", "0.3"]);
        wait_for("the --rm container to disappear", STATE_TIMEOUT, || {
            ctx.all_short_ids().is_empty()
        });
        let out = ctx.run_status(&["inspect", &id]);
        assert_exit_code(&out, 125, "inspect of a removed container");
        assert!(
            !ctx.root.join("containers").join(&id).exists(),
            "its directory is gone too"
        );
    });
}
