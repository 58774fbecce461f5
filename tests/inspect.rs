//! `skiff inspect` and `rename`: what inspect says about a container is
//! checked against the container itself (its process on the host, its
//! command, its configuration). Each test runs as root and rootless.

mod common;

use std::fs;

use common::containers::*;
use common::proc_files::*;
use common::*;

// --- inspect and rename --------------------------------------------------------

#[test]
fn s35_inspect_shows_state_and_configuration() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        let id = ctx.run_detached(&[
            "--name",
            "seen",
            "-e",
            "FOO=bar",
            "--restart",
            "on-failure:3",
            "busybox",
            "sh",
            "-c",
            &trapping("TERM", 42),
        ]);
        ctx.wait_for_log_lines("seen", "ready", 1);
        let inspect = |name: &str| -> serde_json::Value {
            let out = ctx.run_ok(&["inspect", name]);
            let json: serde_json::Value = serde_json::from_str(&out)
                .unwrap_or_else(|e| panic!("inspect prints JSON ({e}): {out}"));
            let array = json.as_array().expect("inspect prints a JSON array");
            assert_eq!(array.len(), 1, "{out}");
            array[0].clone()
        };

        let c = inspect("seen");
        assert_eq!(c["Id"], id.as_str());
        assert_eq!(c["Name"], "seen");
        assert_eq!(c["State"]["Status"], "running");
        assert_eq!(c["State"]["Running"], true);
        let pid = c["State"]["Pid"].as_i64().expect(".State.Pid is a number");
        assert!(pid > 0, ".State.Pid of a running container: {pid}");
        assert!(
            !process_gone(pid as i32),
            ".State.Pid {pid} is a live process"
        );
        // It is the container's PID 1 as the host sees it: its command line
        // is the container's command, and it lives in a PID namespace of
        // its own.
        let cmdline = fs::read(format!("/proc/{pid}/cmdline"))
            .unwrap_or_else(|e| panic!("reading /proc/{pid}/cmdline: {e}"));
        let argv: Vec<String> = cmdline
            .split(|&b| b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        assert_eq!(
            argv,
            ["sh", "-c", &trapping("TERM", 42)],
            "/proc/{pid}/cmdline of .State.Pid should be the container's command"
        );
        let pid_ns =
            |path: &str| fs::read_link(path).unwrap_or_else(|e| panic!("readlink {path}: {e}"));
        assert_ne!(
            pid_ns(&format!("/proc/{pid}/ns/pid")),
            pid_ns("/proc/self/ns/pid"),
            ".State.Pid {pid} should be in the container's PID namespace, not the host's"
        );
        // The very namespace the container's own processes see.
        assert_eq!(
            ctx.run_ok(&["exec", "seen", "readlink", "/proc/1/ns/pid"])
                .trim(),
            pid_ns(&format!("/proc/{pid}/ns/pid")).to_str().unwrap(),
            "the container's PID 1 and .State.Pid share a PID namespace"
        );
        let env: Vec<&str> = c["Config"]["Env"]
            .as_array()
            .expect(".Config.Env is an array")
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        assert!(env.contains(&"FOO=bar"), ".Config.Env: {env:?}");
        assert_eq!(c["HostConfig"]["RestartPolicy"]["Name"], "on-failure");
        assert_eq!(c["HostConfig"]["RestartPolicy"]["MaximumRetryCount"], 3);
        assert_eq!(
            ctx.run_ok(&["inspect", "--format", "{{.State.Status}}", "seen"]),
            "running\n"
        );

        ctx.run_ok(&["stop", "-t", "10", "seen"]);
        let c = inspect("seen");
        assert_eq!(c["State"]["Status"], "exited");
        assert_eq!(c["State"]["Running"], false);
        assert_eq!(c["State"]["ExitCode"], 42);
        assert_eq!(c["State"]["Pid"], 0, "no pid once exited");
        assert_eq!(c["RestartCount"], 0, "a stopped container is not restarted");
    });
}

#[test]
fn s36_inspect_reports_the_command_as_given() {
    // docker and podman: with no --entrypoint and an image without one,
    // `run IMAGE sleep 30` has .Config.Cmd ["sleep","30"], no entrypoint,
    // .Path "sleep" and .Args ["30"].
    for_each_user(|ctx| {
        ctx.load_busybox();
        ctx.run_ok(&["create", "--name", "cmd", "busybox", "sleep", "30"]);
        let out = ctx.run_ok(&["inspect", "cmd"]);
        let c: serde_json::Value = serde_json::from_str(&out).unwrap();
        let c = &c[0];
        assert_eq!(c["Path"], "sleep", "{out}");
        assert_eq!(c["Args"], serde_json::json!(["30"]), "{out}");
        assert_eq!(
            c["Config"]["Cmd"],
            serde_json::json!(["sleep", "30"]),
            ".Config.Cmd is the command as given"
        );
        let entrypoint = &c["Config"]["Entrypoint"];
        assert!(
            entrypoint.is_null()
                || entrypoint == ""
                || entrypoint.as_array().is_some_and(|a| a.is_empty()),
            "busybox has no entrypoint and none was given: {entrypoint}"
        );
    });
}

#[test]
fn s37_rename_moves_the_name_to_the_container() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        let id = ctx.run_detached(&["--name", "before", "busybox", "sleep", "30"]);
        ctx.run_ok(&["rename", "before", "after"]);
        assert_eq!(ctx.inspect_format("after", "{{.Id}}"), id);
        assert_eq!(ctx.inspect_format("after", "{{.Name}}"), "after");
        let out = ctx.run_status(&["inspect", "before"]);
        assert_exit_code(&out, 125, "inspect of the old name");
        assert_one_error_mentioning(&out, "no such container", "inspect of the old name");
        assert_eq!(ctx.ps_names(&[]), ["after"]);
        // The old name is free for a new container.
        ctx.run_ok(&["create", "--name", "before", "busybox", "true"]);
    });
}
