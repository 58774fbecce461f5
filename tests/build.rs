//! `skiff build`: what a user sees of a built image (it runs, its config
//! and history are docker's), as root and rootless. Cache, stages and
//! failures are in build_cache.rs, build_stages.rs, build_errors.rs.

mod common;

use common::build::*;
use common::*;

const APP: &str = r#"FROM busybox
ARG GREETING=hello
ENV APP_HOME=/app MODE=prod
WORKDIR $APP_HOME
COPY --chown=1000:1001 --chmod=640 greeting.txt ./
COPY conf/ conf/
COPY --chown=tester:nogroup greeting.txt /app/by-name.txt
RUN echo "$GREETING from run" > made-by-run && chmod 604 made-by-run
LABEL org.example.name="my app" version=1
EXPOSE 8080 53/udp
VOLUME /data
USER nobody
STOPSIGNAL SIGINT
HEALTHCHECK --interval=30s --timeout=5s --retries=4 CMD wget -q localhost:8080 || exit 1
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /app/made-by-run"]
"#;

#[test]
fn built_image_runs_with_its_files_and_owners() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let dir = context(
            ctx,
            "app",
            APP,
            &[
                ("greeting.txt", "hi\n"),
                ("conf/a.conf", "a=1\n"),
                ("conf/sub/b.conf", "b\n"),
            ],
        );
        let out = build_ok(ctx, &["-t", "app:1", &dir]);
        assert!(out.contains("STEP 1/16: FROM busybox"), "{out}");
        assert!(out.contains("COMMIT app:1\n"), "{out}");
        assert!(
            out.contains("Successfully tagged docker.io/library/app:1"),
            "{out}"
        );
        // The RUN step's output is the build's.
        let id = last_line(&out);
        assert_eq!(id.len(), 64, "{out}");

        // CMD runs through the ENTRYPOINT, as the user nobody.
        assert_eq!(ctx.run_ok(&["run", "--rm", "app:1"]), "hello from run\n");
        let listing = ctx.run_ok(&[
            "run",
            "--rm",
            "--user",
            "0",
            "--entrypoint",
            "",
            "app:1",
            "stat",
            "-c",
            "%n %u:%g %a",
            "/app/greeting.txt",
            "/app/made-by-run",
            "/app/conf/a.conf",
            "/app/conf/sub/b.conf",
            "/app",
        ]);
        assert_eq!(
            listing,
            "/app/greeting.txt 1000:1001 640\n\
             /app/made-by-run 0:0 604\n\
             /app/conf/a.conf 0:0 644\n\
             /app/conf/sub/b.conf 0:0 644\n\
             /app 0:0 755\n"
        );
        // --chown names resolved in the image's /etc/passwd and /etc/group.
        assert_eq!(
            ctx.run_ok(&[
                "run",
                "--rm",
                "--entrypoint",
                "",
                "app:1",
                "stat",
                "-c",
                "%u:%g",
                "/app/by-name.txt"
            ]),
            "1000:65534\n"
        );
        assert_eq!(
            ctx.run_ok(&[
                "run",
                "--rm",
                "--user",
                "0",
                "--entrypoint",
                "",
                "app:1",
                "cat",
                "/app/greeting.txt"
            ]),
            "hi\n"
        );
    });
}

#[test]
fn built_image_config_and_history_are_dockers() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let dir = context(
            ctx,
            "app",
            APP,
            &[("greeting.txt", "hi\n"), ("conf/a.conf", "a=1\n")],
        );
        build_ok(ctx, &["-t", "app", "--label", "built-by=test", &dir]);
        let field = |t: &str| inspect(ctx, "app", t);
        assert_eq!(field("{{json .Config.Entrypoint}}"), r#"["/bin/sh","-c"]"#);
        assert_eq!(field("{{json .Config.Cmd}}"), r#"["cat /app/made-by-run"]"#);
        assert_eq!(field("{{.Config.WorkingDir}}"), "/app");
        assert_eq!(field("{{.Config.User}}"), "nobody");
        assert_eq!(field("{{.Config.StopSignal}}"), "SIGINT");
        assert_eq!(
            field("{{json .Config.ExposedPorts}}"),
            r#"{"53/udp":{},"8080/tcp":{}}"#
        );
        assert_eq!(field("{{json .Config.Volumes}}"), r#"{"/data":{}}"#);
        assert_eq!(
            field("{{json .Config.Labels}}"),
            r#"{"built-by":"test","org.example.name":"my app","version":"1"}"#
        );
        let env = field("{{json .Config.Env}}");
        assert!(
            env.contains(r#""APP_HOME=/app""#) && env.contains(r#""MODE=prod""#),
            "{env}"
        );
        assert!(
            env.contains("PATH="),
            "the base image's PATH is kept: {env}"
        );
        assert!(
            !env.contains("GREETING"),
            "an ARG is not in the image's env: {env}"
        );
        assert_eq!(
            field("{{json .Healthcheck}}"),
            r#"{"Interval":30000000000,"Retries":4,"StartPeriod":0,"Test":["CMD-SHELL","wget -q localhost:8080 || exit 1"],"Timeout":5000000000}"#
        );

        // One history entry per instruction on top of busybox's one;
        // only WORKDIR (it made /app), the COPYs and RUN have layers.
        let history = ctx.run_ok(&["image", "inspect", "--format", "{{json .History}}", "app"]);
        let history: Vec<serde_json::Value> = serde_json::from_str(&history).unwrap();
        assert_eq!(history.len(), 1 + 15, "{history:#?}");
        let with_layer: Vec<&str> = history[1..]
            .iter()
            .filter(|h| h.get("empty_layer").is_none())
            .map(|h| h["created_by"].as_str().unwrap())
            .collect();
        assert_eq!(with_layer.len(), 5, "{with_layer:?}");
        assert!(with_layer[0].contains("WORKDIR /app"), "{with_layer:?}");
        assert!(with_layer[1].contains("COPY"), "{with_layer:?}");
        assert!(
            with_layer[4].starts_with("|1 GREETING=hello /bin/sh -c echo"),
            "{with_layer:?}"
        );
        let cmd_entry = history.last().unwrap();
        assert_eq!(
            cmd_entry["created_by"],
            r#"/bin/sh -c #(nop)  CMD ["cat /app/made-by-run"]"#
        );
        assert_eq!(cmd_entry["empty_layer"], true);
        let layers = field("{{len .RootFS.Layers}}");
        assert_eq!(layers, "6", "busybox's layer and five new ones");
        // `skiff history` shows the same entries, newest first.
        let rows = ctx.run_ok(&["history", "--no-trunc", "app"]);
        assert_eq!(rows.lines().count(), 1 + 16, "{rows}");
    });
}

#[test]
fn entrypoint_resets_an_inherited_cmd_and_shell_changes_run() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        // busybox's CMD ["sh"] is dropped by ENTRYPOINT; a CMD set in the
        // same stage before it would stay.
        let dir = context(
            ctx,
            "ep",
            "FROM busybox\nSHELL [\"/bin/sh\", \"-ec\"]\nRUN echo $0 > /shell-was\nENTRYPOINT [\"echo\", \"entry\"]\n",
            &[],
        );
        build_ok(ctx, &["-t", "ep", &dir]);
        let config = inspect(ctx, "ep", "{{json .Config}}");
        assert!(!config.contains("\"Cmd\""), "{config}");
        assert_eq!(ctx.run_ok(&["run", "--rm", "ep"]), "entry\n");
        assert_eq!(
            ctx.run_ok(&["run", "--rm", "--entrypoint", "", "ep", "cat", "/shell-was"]),
            "/bin/sh\n"
        );
        assert_eq!(
            inspect(ctx, "ep", "{{json .Config.Shell}}"),
            r#"["/bin/sh","-ec"]"#
        );
    });
}

#[test]
fn build_args_scope_and_unused_warning() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let dockerfile = "ARG BASE=busybox\nARG SHARED=global\nFROM $BASE\nARG SHARED\nARG LOCAL=dflt\nENV FROM_ARG=$LOCAL-$SHARED\nRUN echo \"$LOCAL $SHARED $NOT_DECLARED\" > /args\n";
        let dir = context(ctx, "args", dockerfile, &[]);
        let out = build(
            ctx,
            &[
                "-t",
                "args",
                "--build-arg",
                "LOCAL=given",
                "--build-arg",
                "UNUSED=1",
                &dir,
            ],
        );
        assert!(out.status.success(), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("warning: one or more build-args [UNUSED] were not consumed"),
            "{stderr}"
        );
        assert_eq!(
            ctx.run_ok(&["run", "--rm", "args", "cat", "/args"]),
            "given global \n"
        );
        assert_eq!(
            ctx.run_ok(&["run", "--rm", "args", "sh", "-c", "echo $FROM_ARG"]),
            "given-global\n"
        );
    });
}

#[test]
fn quiet_iidfile_and_stdin_dockerfile() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let dockerfile = "FROM busybox\nRUN echo from-stdin > /f\n";
        let out = ctx.run_stdin(
            &["build", "-q", "-t", "fromstdin", "-"],
            dockerfile.as_bytes(),
        );
        let stdout = assert_success(&out, "skiff build -q -t fromstdin - < Dockerfile");
        // -q: standard output is the image ID and nothing else.
        assert_eq!(stdout.lines().count(), 1, "{stdout:?}");
        let id = stdout.trim();
        assert_eq!(id.len(), 64);
        assert_eq!(
            ctx.run_ok(&["run", "--rm", id, "cat", "/f"]),
            "from-stdin\n"
        );
        assert_eq!(inspect(ctx, "fromstdin", "{{.Id}}"), id);

        // -f - with a context directory; --iidfile gets sha256:<id>.
        let dir = context(ctx, "ctx", "unused", &[("data.txt", "context file\n")]);
        let iidfile = ctx.work.join("iid");
        let out = ctx.run_stdin(
            &[
                "build",
                "-f",
                "-",
                "--iidfile",
                iidfile.to_str().unwrap(),
                &dir,
            ],
            b"FROM busybox\nCOPY data.txt /\n",
        );
        let stdout = assert_success(&out, "skiff build -f - --iidfile");
        let written = std::fs::read_to_string(&iidfile).unwrap();
        assert_eq!(written, format!("sha256:{}", last_line(&stdout)));
        assert_eq!(
            ctx.run_ok(&["run", "--rm", &last_line(&stdout), "cat", "/data.txt"]),
            "context file\n"
        );

        // A tar on standard input is the context.
        let mut tar = tar::Builder::new(Vec::new());
        for (name, data) in [
            ("Dockerfile", &b"FROM busybox\nCOPY x /x\n"[..]),
            ("x", b"in tar\n"),
        ] {
            let mut header = tar::Header::new_ustar();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            tar.append_data(&mut header, name, data).unwrap();
        }
        let tar = tar.into_inner().unwrap();
        let out = ctx.run_stdin(&["build", "-q", "-"], &tar);
        let stdout = assert_success(&out, "skiff build - < context.tar");
        assert_eq!(
            ctx.run_ok(&["run", "--rm", stdout.trim(), "cat", "/x"]),
            "in tar\n"
        );
        // -f names a file inside a tar context.
        let out = ctx.run_stdin(&["build", "-q", "-f", "Dockerfile", "-"], &tar);
        assert_eq!(
            assert_success(&out, "skiff build -f Dockerfile - < context.tar"),
            stdout
        );
    });
}

#[test]
fn dockerignore_keeps_files_out_of_copy() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let dir = context(
            ctx,
            "ign",
            "FROM busybox\nCOPY . /ctx/\nRUN find /ctx -type f | sort\n",
            &[
                (".dockerignore", "secret.txt\nlogs/\n*.tmp\n!keep.tmp\n"),
                ("secret.txt", "s3cr3t"),
                ("app.txt", "app"),
                ("logs/a.log", "log"),
                ("x.tmp", "tmp"),
                ("keep.tmp", "kept"),
            ],
        );
        build_ok(ctx, &["-t", "ign", &dir]);
        let files = ctx.run_ok(&[
            "run",
            "--rm",
            "ign",
            "sh",
            "-c",
            "cd /ctx && find . -type f | sort",
        ]);
        assert_eq!(
            files,
            "./.dockerignore\n./Dockerfile\n./app.txt\n./keep.tmp\n"
        );
        // Changing an ignored file changes nothing: every step is cached.
        ctx.write_file("ign/secret.txt", "changed");
        let out = build_ok(ctx, &["-t", "ign", &dir]);
        assert_eq!(out.matches("--> Using cache").count(), 2, "{out}");
    });
}

#[test]
fn reproducible_with_timestamp() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let dir = context(
            ctx,
            "repro",
            "FROM busybox\nCOPY f /f\nRUN mkdir /made && echo same > /made/file\nCMD [\"cat\", \"/f\"]\n",
            &[("f", "same\n")],
        );
        let first = last_line(&build_ok(
            ctx,
            &["--no-cache", "--timestamp", "1700000000", &dir],
        ));
        // Once the clock's second has moved on, files made by RUN get
        // other times; the clamp makes them all 1700000000.
        let second_now = || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
        };
        let started = second_now();
        wait_for(
            "the clock's next second",
            std::time::Duration::from_secs(3),
            || second_now() > started,
        );
        let second = last_line(&build_ok(
            ctx,
            &["--no-cache", "--timestamp", "1700000000", &dir],
        ));
        assert_eq!(first, second);
        assert_eq!(inspect(ctx, &first, "{{.Created}}"), "2023-11-14T22:13:20Z");
        let mtime = ctx.run_ok(&["run", "--rm", &first, "stat", "-c", "%Y", "/made", "/f"]);
        assert_eq!(mtime, "1700000000\n1700000000\n");
        // Without the clamp the ID changes.
        let third = last_line(&build_ok(ctx, &["--no-cache", &dir]));
        assert_ne!(first, third);
    });
}

/// The interface names in a /proc/net/dev text, sorted.
fn interfaces(net_dev: &str) -> Vec<String> {
    let mut names: Vec<String> = net_dev
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(|n| n.trim().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn run_steps_use_the_host_network_unless_none() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let host = interfaces(&std::fs::read_to_string("/proc/net/dev").unwrap());
        let dir = context(
            ctx,
            "net",
            "FROM busybox\nRUN cat /proc/net/dev > /default\nRUN --network=none cat /proc/net/dev > /step-none\n",
            &[],
        );
        build_ok(ctx, &["-t", "net", &dir]);
        let read =
            |image: &str, file: &str| interfaces(&ctx.run_ok(&["run", "--rm", image, "cat", file]));
        assert_eq!(
            read("net", "/default"),
            host,
            "RUN shares the host's network"
        );
        assert_eq!(read("net", "/step-none"), ["lo"]);
        build_ok(ctx, &["--network", "none", "-t", "none", &dir]);
        assert_eq!(
            read("none", "/default"),
            ["lo"],
            "--network none: loopback only"
        );
    });
}

#[test]
fn format_oci_drops_what_the_oci_config_cannot_hold() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let dir = context(
            ctx,
            "fmt",
            "FROM busybox\nSHELL [\"/bin/sh\", \"-ec\"]\nHEALTHCHECK CMD true\nONBUILD RUN true\nSTOPSIGNAL SIGINT\n",
            &[],
        );
        let out = build(ctx, &["--format", "oci", "-t", "oci", &dir]);
        assert!(out.status.success(), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        for instruction in ["HEALTHCHECK", "SHELL", "ONBUILD"] {
            assert!(
                stderr.contains(&format!(
                    "{instruction} is not supported for OCI image format"
                )),
                "{stderr}"
            );
        }
        let config = inspect(ctx, "oci", "{{json .Config}}");
        assert!(
            !config.contains("Healthcheck")
                && !config.contains("Shell")
                && !config.contains("OnBuild"),
            "{config}"
        );
        assert_eq!(inspect(ctx, "oci", "{{.Config.StopSignal}}"), "SIGINT");
        // The docker format (the default) keeps them.
        build_ok(ctx, &["--format", "docker", "-t", "docker", &dir]);
        let config = inspect(ctx, "docker", "{{json .Config}}");
        assert!(
            config.contains("Healthcheck")
                && config.contains("Shell")
                && config.contains("OnBuild"),
            "{config}"
        );
    });
}

/// `skiff --root rel-root --runroot rel-run ARGS…` from the test's work
/// directory, as this user.
fn skiff_with_relative_store(ctx: &Ctx, args: &[&str]) -> std::process::Command {
    use std::os::unix::process::CommandExt;
    let template = ctx.skiff(&[]);
    let mut cmd = std::process::Command::new(template.get_program());
    cmd.args(["--root", "rel-root", "--runroot", "rel-run"])
        .args(args)
        .current_dir(&ctx.work)
        .env_clear();
    for (key, value) in template.get_envs() {
        if let Some(value) = value {
            cmd.env(key, value);
        }
    }
    if ctx.is_rootless() {
        cmd.uid(ctx.uid).gid(ctx.gid);
    }
    cmd
}

#[test]
fn a_relative_store_path_builds_and_runs() {
    for_each_user(|ctx| {
        let archive = busybox_docker_archive().to_str().unwrap().to_string();
        ctx.ok(skiff_with_relative_store(ctx, &["load", "-i", &archive]));
        ctx.write_file(
            "rel/Dockerfile",
            "FROM busybox\nRUN echo built > /built\nCMD [\"cat\", \"/built\"]\n",
        );
        ctx.ok(skiff_with_relative_store(
            ctx,
            &["build", "-q", "-t", "rel", "rel"],
        ));
        let out = ctx.ok(skiff_with_relative_store(ctx, &["run", "--rm", "rel"]));
        assert_eq!(out.trim(), "built");
        ctx.ok(skiff_with_relative_store(
            ctx,
            &["rmi", "-f", "rel", "busybox"],
        ));
    });
}
