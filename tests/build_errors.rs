//! How builds fail, root and rootless: a failing RUN exits with its
//! status and one line naming the step, leaving no container, layer or
//! image, while the steps before it stay cached; a malformed Dockerfile
//! or a missing source is a one-line error with exit 125 before anything
//! is built; Ctrl-C during a RUN (and `kill -9` of the build) leaves no
//! container behind.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use common::build::*;
use common::image_output::table;
use common::*;
use nix::sys::signal::Signal;

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim().to_string()
}

#[test]
fn failing_run_exits_with_its_status_and_leaves_nothing() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let good = "FROM busybox\nRUN echo one > /one\n";
        let dir = context(ctx, "f", good, &[]);
        build_ok(ctx, &[&dir]);
        let layers = layer_dirs(ctx);
        let images = table(&ctx.run_ok(&["images", "-a"])).len();

        ctx.write_file(
            "f/Dockerfile",
            format!("{good}RUN echo partial > /partial && exit 3\n"),
        );
        let out = build(ctx, &["-t", "bad", &dir]);
        assert_eq!(out.status.code(), Some(3), "{out:?}");
        assert_eq!(
            stderr_of(&out),
            "Error: building at STEP \"RUN echo partial > /partial && exit 3\": exit status 3"
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("--> Using cache"),
            "the earlier RUN is cached: {stdout}"
        );
        assert!(container_dirs(ctx).is_empty(), "no container is left");
        assert_eq!(ctx.run_ok(&["ps", "-a", "-q"]), "");
        assert_eq!(layer_dirs(ctx), layers, "no layer of the failed step");
        assert_eq!(
            table(&ctx.run_ok(&["images", "-a"])).len(),
            images,
            "no image"
        );

        // Fixed, the build goes on from the cached steps.
        ctx.write_file("f/Dockerfile", format!("{good}RUN echo fixed > /fixed\n"));
        let out = build_ok(ctx, &["-t", "bad", &dir]);
        assert_eq!(out.matches("--> Using cache").count(), 1, "{out}");
        assert_eq!(
            ctx.run_ok(&["run", "--rm", "bad", "cat", "/one", "/fixed"]),
            "one\nfixed\n"
        );
    });
}

#[test]
fn malformed_dockerfiles_and_bad_input_are_one_line_errors() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let layers_before = layer_dirs(ctx);
        let dir = context(ctx, "e", "FROM busybox\nRUN true\nBOGUS x\n", &[]);
        let out = build(ctx, &[&dir]);
        assert_eq!(out.status.code(), Some(125));
        assert_eq!(
            stderr_of(&out),
            "Error: Dockerfile:3: unknown instruction: BOGUS"
        );
        assert!(out.stdout.is_empty(), "nothing was built");

        ctx.write_file("e/Dockerfile", "FROM busybox\nCOPY nope.txt /x\n");
        let out = build(ctx, &[&dir]);
        assert_eq!(out.status.code(), Some(125));
        let stderr = stderr_of(&out);
        assert!(
            stderr.starts_with(
                "Error: building at STEP \"COPY nope.txt /x\": \"nope.txt\": no such file"
            ),
            "{stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");

        ctx.write_file("e/Dockerfile", "FROM busybox\nCOPY a b /dest\n");
        ctx.write_file("e/a", "a");
        ctx.write_file("e/b", "b");
        let out = build(ctx, &[&dir]);
        assert_eq!(out.status.code(), Some(125));
        assert!(
            stderr_of(&out).contains("must be a directory and end with a /"),
            "{out:?}"
        );

        // A RUN whose shell does not exist: 127 and the step named.
        ctx.write_file("e/Dockerfile", "FROM scratch\nRUN true\n");
        let out = build(ctx, &[&dir]);
        assert_eq!(out.status.code(), Some(127));
        assert_eq!(
            stderr_of(&out),
            "Error: building at STEP \"RUN true\": \"/bin/sh\": no such file or directory"
        );
        assert!(container_dirs(ctx).is_empty());

        let empty = ctx.make_dir("empty");
        let out = build(ctx, &[empty.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(125));
        assert!(
            stderr_of(&out).starts_with("Error: no Dockerfile or Containerfile found"),
            "{out:?}"
        );

        // Flags skiff does not do are refused by the parser.
        let out = build(ctx, &["--squash", &dir]);
        assert_eq!(out.status.code(), Some(125));
        assert!(stderr_of(&out).contains("--squash"), "{out:?}");
        let out = build(ctx, &["-t", "Bad:Name", &dir]);
        assert_eq!(out.status.code(), Some(125));
        assert!(
            stderr_of(&out).contains("invalid reference format"),
            "{out:?}"
        );

        assert_eq!(layer_dirs(ctx), layers_before);
        assert!(container_dirs(ctx).is_empty());
    });
}

#[test]
fn interrupted_and_killed_builds_leave_no_container() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let dir = context(
            ctx,
            "sig",
            "FROM busybox\nRUN echo STARTED | tr A-Z a-z && sleep 60\n",
            &[],
        );
        for signal in [Signal::SIGINT, Signal::SIGTERM] {
            let mut running = ctx.start(ctx.skiff(&["build", "--no-cache", "-t", "never", &dir]));
            let stdout = running.stdout_buffer();
            running.wait_until("the RUN step to start", Duration::from_secs(30), || {
                stdout.text().contains("started")
            });
            running.signal(signal);
            let out = running.wait(Duration::from_secs(30));
            assert_eq!(out.status.signal(), Some(signal as i32), "{out:?}");
            assert!(
                container_dirs(ctx).is_empty(),
                "{signal}: the RUN container is removed"
            );
            assert!(ctx.run_status(&["image", "exists", "never"]).status.code() == Some(1));
        }
        // kill -9 leaves the container; the next build's first RUN
        // removes it (its build process is gone). No image is listed.
        let images = ctx.run_ok(&["images"]);
        let mut running = ctx.start(ctx.skiff(&["build", "--no-cache", &dir]));
        let stdout = running.stdout_buffer();
        running.wait_until("the RUN step to start", Duration::from_secs(30), || {
            stdout.text().contains("started")
        });
        running.signal(Signal::SIGKILL);
        running.wait(Duration::from_secs(30));
        assert_eq!(
            ctx.run_ok(&["images"]),
            images,
            "a killed build lists no image"
        );
        ctx.write_file("sig/Dockerfile", "FROM busybox\nRUN true\n");
        build_ok(ctx, &[&dir]);
        assert!(
            container_dirs(ctx).is_empty(),
            "the orphaned container was removed"
        );
    });
}
