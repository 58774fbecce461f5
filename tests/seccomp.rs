//! `--security-opt seccomp=…` and `no-new-privileges`: docker's default
//! filter is on unless `seccomp=unconfined`, blocks what docker blocks,
//! holds for `exec` too; a custom profile file works, a malformed one is
//! refused; the compiled program is cached. Each test runs as root and
//! rootless.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use common::proc_files::parse_status;
use common::*;

/// The container process's /proc/self/status (`cat` is the process).
fn status_of(ctx: &Ctx, args: &[&str]) -> std::collections::BTreeMap<String, String> {
    let mut full = vec!["run", "--rm"];
    full.extend_from_slice(args);
    full.extend_from_slice(&["busybox", "cat", "/proc/self/status"]);
    parse_status(&ctx.run_ok(&full))
}

fn cached_programs(root: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(root.join("seccomp"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "bpf"));
    files
}

#[test]
fn default_filter_is_on_and_unconfined_turns_it_off() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let status = status_of(ctx, &[]);
        assert_eq!(status["Seccomp"], "2", "a filter is on by default");
        assert_eq!(status["NoNewPrivs"], "1");
        let status = status_of(ctx, &["--security-opt", "seccomp=unconfined"]);
        assert_eq!(status["Seccomp"], "0", "seccomp=unconfined: no filter");
        // A non-root user gets the filter too (loaded after the switch).
        let status = status_of(ctx, &["-u", "1000"]);
        assert_eq!(status["Seccomp"], "2");
    });
}

#[test]
fn blocks_what_docker_blocks_and_allows_the_rest() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        // unshare(2) needs CAP_SYS_ADMIN in docker's profile: refused by
        // the filter before the kernel looks at the request.
        let out = ctx.run_status(&["run", "--rm", "busybox", "unshare", "-U", "true"]);
        assert_exit_code(&out, 1, "unshare -U under the default filter");
        assert!(
            stderr_of(&out).contains("Operation not permitted"),
            "{}",
            stderr_of(&out)
        );
        // Without the filter the same user namespace is allowed, so the
        // refusal above was the filter's.
        ctx.run_ok(&[
            "run",
            "--rm",
            "--security-opt",
            "seccomp=unconfined",
            "busybox",
            "unshare",
            "-U",
            "true",
        ]);
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "ls / >/dev/null && echo listed; wget --help 2>&1 | head -1 >/dev/null && echo wget; (echo sub) ; mkdir /tmp/d && echo made",
        ]);
        assert_eq!(out, "listed\nwget\nsub\nmade\n");
    });
}

#[test]
fn exec_gets_the_containers_filter() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        ctx.run_detached(&["--name", "confined", "busybox", "sleep", "600"]);
        let status = parse_status(&ctx.run_ok(&["exec", "confined", "cat", "/proc/self/status"]));
        assert_eq!(status["Seccomp"], "2", "exec into a default container");
        let out = ctx.run_status(&["exec", "confined", "unshare", "-U", "true"]);
        assert_exit_code(&out, 1, "unshare -U in exec");

        ctx.run_detached(&[
            "--name",
            "free",
            "--security-opt",
            "seccomp=unconfined",
            "busybox",
            "sleep",
            "600",
        ]);
        let status = parse_status(&ctx.run_ok(&["exec", "free", "cat", "/proc/self/status"]));
        assert_eq!(status["Seccomp"], "0", "exec into an unconfined container");
        ctx.run_ok(&["rm", "-f", "-t", "0", "confined", "free"]);
    });
}

#[test]
fn custom_profile_denies_mkdir_with_its_errno() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        // ENOSPC (28): an errno mkdir in /tmp never gets on its own.
        let profile = ctx.write_file(
            "deny-mkdir.json",
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
                 {"names":["mkdir","mkdirat","no_such_syscall"],"action":"SCMP_ACT_ERRNO","errnoRet":28}]}"#,
        );
        let opt = format!("seccomp={}", profile.display());
        for extra in [
            &[][..],
            &["--security-opt", "no-new-privileges=false", "-u", "1000"],
        ] {
            let mut args = vec!["run", "--rm", "--security-opt", &opt];
            args.extend_from_slice(extra);
            args.extend_from_slice(&[
                "busybox",
                "sh",
                "-c",
                "touch /tmp/f && echo touched; mkdir /tmp/d",
            ]);
            let out = ctx.run_status(&args);
            assert_exit_code(&out, 1, "mkdir under a profile denying it");
            assert_eq!(stdout_of(&out), "touched\n", "other calls are allowed");
            assert!(
                stderr_of(&out).contains("No space left on device"),
                "{extra:?}: {}",
                stderr_of(&out)
            );
        }
        // no-new-privileges=false: the filter is still on, no_new_privs off.
        let status = status_of(
            ctx,
            &[
                "--security-opt",
                &opt,
                "--security-opt",
                "no-new-privileges=false",
                "-u",
                "1000",
            ],
        );
        assert_eq!(status["Seccomp"], "2");
        assert_eq!(status["NoNewPrivs"], "0");
    });
}

#[test]
fn malformed_profile_is_one_error_naming_the_file() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let profile = ctx.write_file(
            "broken.json",
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": ["#,
        );
        let path = profile.display().to_string();
        let out = ctx.run_status(&[
            "run",
            "--rm",
            "--security-opt",
            &format!("seccomp={path}"),
            "busybox",
            "true",
        ]);
        assert_exit_code(&out, 125, "a malformed profile");
        assert_one_error_mentioning(&out, &path, "a malformed profile");
        let out = ctx.run_status(&[
            "run",
            "--rm",
            "--security-opt",
            "seccomp=/no/such.json",
            "busybox",
            "true",
        ]);
        assert_exit_code(&out, 125, "a missing profile");
        assert_one_error_mentioning(&out, "/no/such.json", "a missing profile");
        let out = ctx.run_status(&[
            "run",
            "--rm",
            "--security-opt",
            "no-new-privileges=maybe",
            "busybox",
            "true",
        ]);
        assert_exit_code(&out, 125, "a bad no-new-privileges value");
        assert_one_error_mentioning(&out, "no-new-privileges=maybe", "a bad value");
        assert!(
            ctx.run_ok(&["ps", "-a", "-q"]).is_empty(),
            "nothing was created"
        );
    });
}

#[test]
fn compiled_program_is_cached_and_reused() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        ctx.run_ok(&["run", "--rm", "busybox", "true"]);
        let files = cached_programs(&ctx.root);
        assert_eq!(
            files.len(),
            1,
            "one program for the default profile: {files:?}"
        );
        let before = fs::metadata(&files[0]).unwrap();
        ctx.run_ok(&["run", "--rm", "busybox", "true"]);
        assert_eq!(cached_programs(&ctx.root), files, "no second program");
        let after = fs::metadata(&files[0]).unwrap();
        assert_eq!(
            (after.ino(), after.mtime(), after.mtime_nsec()),
            (before.ino(), before.mtime(), before.mtime_nsec()),
            "the second run read the cached program, it did not rewrite it"
        );
        // Another capability set is another filter (docker's
        // includes.caps): unconfined adds none.
        ctx.run_ok(&[
            "run",
            "--rm",
            "--security-opt",
            "seccomp=unconfined",
            "busybox",
            "true",
        ]);
        assert_eq!(cached_programs(&ctx.root).len(), 1);
    });
}

#[test]
fn inspect_and_config_show_the_options() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let id = ctx.run_ok(&[
            "create",
            "--security-opt",
            "seccomp=unconfined",
            "busybox",
            "true",
        ]);
        let id = id.trim();
        assert_eq!(
            ctx.inspect_format(id, "{{json .HostConfig.SecurityOpt}}"),
            r#"["seccomp=unconfined"]"#
        );
        let spec: serde_json::Value = serde_json::from_slice(
            &fs::read(ctx.root.join("containers").join(id).join("config.json")).unwrap(),
        )
        .unwrap();
        assert!(
            spec["linux"].get("seccomp").is_none(),
            "unconfined: no filter in the spec"
        );

        let id = ctx.run_ok(&["create", "busybox", "true"]);
        let id = id.trim();
        assert_eq!(
            ctx.inspect_format(id, "{{json .HostConfig.SecurityOpt}}"),
            "[]"
        );
        let spec: serde_json::Value = serde_json::from_slice(
            &fs::read(ctx.root.join("containers").join(id).join("config.json")).unwrap(),
        )
        .unwrap();
        let seccomp = &spec["linux"]["seccomp"];
        assert_eq!(seccomp["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(seccomp["defaultErrnoRet"], 1);
        let names: Vec<&str> = seccomp["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["names"].as_array().unwrap())
            .filter_map(|n| n.as_str())
            .collect();
        assert!(names.contains(&"read") && names.contains(&"clone3"));
        assert!(!names.contains(&"unshare"), "no CAP_SYS_ADMIN: no unshare");
    });
}
