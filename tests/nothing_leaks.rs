//! Nothing of skiff's reaches a container: no open file descriptor of the
//! process that started it, no environment variable of its caller, under
//! each option that changes how the container is set up. Each story runs
//! as root and rootless.

mod common;

use std::process::Command;

use common::*;

/// A value only the caller's environment holds.
const CANARY: &str = "skiff-leak-canary-7f3a";

/// `skiff ARGS…` started with fd 9 open (not close-on-exec) on a host file
/// and a canary in its environment.
fn skiff_with_extra_fd(ctx: &Ctx, args: &[&str]) -> Command {
    let inner = ctx.skiff(args);
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg("exec 9</etc/hostname; exec \"$0\" \"$@\"")
        .arg(inner.get_program())
        .args(inner.get_args())
        .current_dir(&ctx.dir)
        .env_clear()
        .envs(inner.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .env("SKIFF_LEAK_CANARY", CANARY);
    if ctx.is_rootless() {
        use std::os::unix::process::CommandExt;
        cmd.uid(ctx.uid).gid(ctx.gid);
    }
    cmd
}

#[test]
fn no_fd_or_caller_variable_reaches_the_container() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let secret = ctx.write_file("secret.txt", "hush");
        ctx.run_ok(&["secret", "create", "s1", secret.to_str().unwrap()]);
        // The shell forks `ls` (a command follows), so the listed fds are
        // the shell's own, exactly what the container's command got.
        let probe = "ls -1 /proc/$$/fd; echo ---; env";
        let option_sets: [&[&str]; 9] = [
            &[],
            &["--init"],
            &["-t"],
            &["-v", "data:/data", "-v", "/anon"],
            &["--secret", "s1", "--secret", "s1,type=env,target=S1"],
            &["--read-only"],
            &["--security-opt", "seccomp=unconfined"],
            &["-u", "1000", "--cap-add", "NET_BIND_SERVICE"],
            &["--ulimit", "nofile=512:1024", "--pid", "host"],
        ];
        for options in option_sets {
            let mut args = vec!["run", "--rm"];
            args.extend_from_slice(options);
            args.extend_from_slice(&["busybox", "sh", "-c", probe]);
            let what = format!("run {options:?}");
            let out = ctx.ok(skiff_with_extra_fd(ctx, &args));
            let fds: Vec<&str> = out
                .lines()
                .filter_map(|l| l.trim_end_matches('\r').strip_prefix("fd "))
                .collect();
            // The glob's own directory fd may show as the last one.
            let extra: Vec<&&str> = fds
                .iter()
                .filter(|fd| !["0", "1", "2"].contains(fd))
                .collect();
            assert!(extra.len() <= 1, "{what}: fds {fds:?}");
            assert!(
                !fds.contains(&"9"),
                "{what}: skiff's fd 9 reached the container: {fds:?}"
            );
            for line in out.lines().map(|l| l.trim_end_matches('\r')) {
                let name = line.split('=').next().unwrap_or_default();
                assert!(
                    !line.contains(CANARY) && !line.contains(ctx.dir.to_str().unwrap()),
                    "{what}: the caller's environment reached the container: {line}"
                );
                assert!(
                    !["USER", "LOGNAME", "XDG_RUNTIME_DIR", "SKIFF_LEAK_CANARY"].contains(&name),
                    "{what}: {line}"
                );
            }
        }
    });
}
