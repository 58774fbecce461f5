//! `skiff exec` into a running container: environment, workdir, user,
//! stdin, exit codes, refusals for containers that are not running, and
//! `exec -d`. Each test runs as root and rootless.

mod common;

use common::containers::*;
use common::*;

// --- exec ----------------------------------------------------------------------

#[test]
fn s30_exec_runs_in_the_container_with_env_workdir_and_user() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        let id = ctx.run_detached(&[
            "--name",
            "box",
            "-e",
            "FROM_RUN=yes",
            "busybox",
            "sleep",
            "30",
        ]);
        let hostname = ctx.run_ok(&["exec", "box", "hostname"]);
        assert_eq!(
            hostname.trim(),
            &id[..12],
            "exec sees the container's hostname"
        );
        assert_eq!(
            hostname.trim(),
            ctx.inspect_format("box", "{{.Config.Hostname}}")
        );
        // The container's environment, plus what -e adds.
        assert_eq!(
            ctx.run_ok(&["exec", "-e", "K=V", "box", "sh", "-c", "echo $FROM_RUN $K"]),
            "yes V\n"
        );
        assert_eq!(ctx.run_ok(&["exec", "-w", "/tmp", "box", "pwd"]), "/tmp\n");
        assert_eq!(
            ctx.run_ok(&["exec", "-u", "65534", "box", "id", "-u"]),
            "65534\n"
        );
        assert_eq!(ctx.run_ok(&["exec", "box", "id", "-u"]), "0\n");
        // Something exec writes is there for the container's own processes.
        ctx.run_ok(&["exec", "box", "sh", "-c", "echo shared > /tmp/note"]);
        assert_eq!(ctx.run_ok(&["exec", "box", "cat", "/tmp/note"]), "shared\n");
    });
}

#[test]
fn s31_exec_i_streams_stdin() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        ctx.run_detached(&["--name", "box", "busybox", "sleep", "30"]);
        let out = ctx.run_stdin(&["exec", "-i", "box", "cat"], b"piped\n");
        assert_eq!(assert_success(&out, "echo piped | exec -i cat"), "piped\n");
    });
}

#[test]
fn s32_exec_reports_the_exit_code_of_the_command() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        ctx.run_detached(&["--name", "box", "busybox", "sleep", "30"]);
        let out = ctx.run_status(&["exec", "box", "sh", "-c", "exit 7"]);
        assert_exit_code(&out, 7, "exec sh -c 'exit 7'");
        let out = ctx.run_status(&["exec", "box", "/etc/passwd"]);
        assert_exit_code(&out, 126, "exec of a file that is not executable");
        assert_one_error_mentioning(&out, "/etc/passwd", "exec /etc/passwd");
        let out = ctx.run_status(&["exec", "box", "nosuchcmd"]);
        assert_exit_code(&out, 127, "exec of a missing command");
        assert_one_error_mentioning(&out, "nosuchcmd", "exec nosuchcmd");
        assert_eq!(
            ctx.status_of("box"),
            "running",
            "failed execs leave it running"
        );
    });
}

#[test]
fn s33_exec_into_a_stopped_container_fails() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        ctx.run_ok(&["create", "--name", "idle", "busybox", "sleep", "30"]);
        let out = ctx.run_status(&["exec", "idle", "true"]);
        assert_exit_code(&out, 125, "exec into a created container");
        assert_one_error_mentioning(
            &out,
            "container state improper",
            "exec into a created container",
        );

        ctx.run_detached(&["--name", "over", "busybox", "true"]);
        ctx.wait_for_status("over", "exited");
        let out = ctx.run_status(&["exec", "over", "true"]);
        assert_exit_code(&out, 125, "exec into an exited container");
        assert_one_error_mentioning(
            &out,
            "container state improper",
            "exec into an exited container",
        );
    });
}

#[test]
fn s34_exec_detached_returns_at_once_and_the_command_runs() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        ctx.run_detached(&["--name", "box", "busybox", "sleep", "30"]);
        // The detached command cannot finish before the test lets it (by
        // creating /tmp/go), which it does only once `exec -d` has exited
        // and closed its output: a caller capturing the output, as in
        // `$(skiff exec -d …)`, must not wait for the command.
        let script = "while [ ! -f /tmp/go ]; do sleep 0.05; done; touch /tmp/flag";
        let out = ctx.run_status(&["exec", "-d", "box", "sh", "-c", script]);
        assert_exit_code(&out, 0, "exec -d");
        assert_eq!(stdout_of(&out), "", "exec -d prints nothing");
        assert!(
            !ctx.run_status(&["exec", "box", "test", "-f", "/tmp/flag"])
                .status
                .success(),
            "the detached command is still waiting"
        );
        ctx.run_ok(&["exec", "box", "touch", "/tmp/go"]);
        wait_for(
            "the detached exec to touch /tmp/flag",
            STATE_TIMEOUT,
            || {
                ctx.run_status(&["exec", "box", "test", "-f", "/tmp/flag"])
                    .status
                    .success()
            },
        );
    });
}
