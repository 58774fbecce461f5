//! `RUN --mount` and `RUN <<EOF`, root and rootless: a cache mount keeps
//! its files between builds and stays out of the image, a secret is
//! readable in the step and in no layer or history entry, a bind mount
//! shows the context read-only, a tmpfs leaves nothing, a heredoc is the
//! step's script or, in COPY, a file.

mod common;

use common::build::*;
use common::*;

#[test]
fn cache_secret_bind_and_tmpfs_mounts() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let dockerfile = "FROM busybox
RUN --mount=type=cache,target=/cache,id=c1,sharing=locked echo run >> /cache/log && wc -l < /cache/log | tr -d ' ' | sed s/^/COUNT=/
RUN --mount=type=secret,id=tok sh -c 'wc -c < /run/secrets/tok > /secret-size'
RUN --mount=type=bind,source=data.txt,target=/mnt/data.txt cp /mnt/data.txt /copied && (echo x > /mnt/data.txt 2>/dev/null || echo READ-ONLY | tr A-Z a-z)
RUN --mount=type=tmpfs,target=/scratch echo gone > /scratch/f
";
        let dir = context(ctx, "m", dockerfile, &[("data.txt", "from context\n")]);
        let secret = ctx.write_file("secret.txt", "s3cr3t-value\n");
        let secret_arg = format!("id=tok,src={}", secret.display());
        let first = build_ok(ctx, &["--secret", &secret_arg, "-t", "m", &dir]);
        assert!(first.contains("COUNT=1"), "{first}");
        assert!(
            first.contains("read-only"),
            "the bind mount is read-only: {first}"
        );
        let second = build_ok(
            ctx,
            &["--no-cache", "--secret", &secret_arg, "-t", "m", &dir],
        );
        assert!(
            second.contains("COUNT=2"),
            "the cache mount kept its file: {second}"
        );

        assert_eq!(
            ctx.run_ok(&["run", "--rm", "m", "cat", "/secret-size", "/copied"]),
            "13\nfrom context\n"
        );
        let absent = ctx.run_ok(&[
            "run", "--rm", "m", "sh", "-c",
            "for f in /cache/log /scratch/f /run/secrets/tok; do test -e $f || echo absent $f; done",
        ]);
        assert_eq!(
            absent,
            "absent /cache/log\nabsent /scratch/f\nabsent /run/secrets/tok\n"
        );

        // The secret's value is in no layer and no history entry.
        let archive = ctx.work.join("m.tar");
        ctx.run_ok(&["save", "-o", archive.to_str().unwrap(), "m"]);
        let bytes = std::fs::read(&archive).unwrap();
        assert!(
            !bytes.windows(12).any(|w| w == b"s3cr3t-value"),
            "the secret reached the saved image"
        );

        // A required secret that was not given is an error naming it.
        ctx.write_file(
            "m/Dockerfile",
            "FROM busybox\nRUN --mount=type=secret,id=other,required cat /run/secrets/other\n",
        );
        let out = build(ctx, &[&dir]);
        assert_eq!(out.status.code(), Some(125));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("secret other was not given"),
            "{out:?}"
        );
    });
}

#[test]
fn heredoc_run_script() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let dockerfile = "FROM busybox\nRUN <<EOF\necho one > /h\necho two >> /h\nEOF\nRUN cat <<EOT > /g\nline\nEOT\nRUN <<SCRIPT\n#!/bin/sh -e\necho \"ran as $0\" > /s\nSCRIPT\n";
        let dir = context(ctx, "h", dockerfile, &[]);
        build_ok(ctx, &["-t", "h", &dir]);
        assert_eq!(
            ctx.run_ok(&["run", "--rm", "h", "cat", "/h", "/g", "/s"]),
            "one\ntwo\nline\nran as /dev/pipes/SCRIPT\n",
            "a #! script runs as a file"
        );
        // The heredoc steps span lines in history; each is still one row.
        let rows = common::containers::nonempty_lines(&ctx.run_ok(&["history", "h"]));
        let busybox_rows = common::containers::nonempty_lines(&ctx.run_ok(&["history", "busybox"]));
        assert_eq!(rows.len(), busybox_rows.len() + 3, "{rows:#?}");
    });
}

#[test]
fn copy_heredocs_become_files() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let dockerfile = "FROM busybox\nARG WHO=world\nCOPY <<EOF /etc/greeting\nhello $WHO\nEOF\nCOPY <<'RAW' <<two.txt /docs/\nkept $WHO\nRAW\nsecond\ntwo.txt\n";
        let dir = context(ctx, "inline", dockerfile, &[]);
        build_ok(ctx, &["-t", "inline", &dir]);
        assert_eq!(
            ctx.run_ok(&[
                "run",
                "--rm",
                "inline",
                "cat",
                "/etc/greeting",
                "/docs/RAW",
                "/docs/two.txt"
            ]),
            "hello world\nkept $WHO\nsecond\n"
        );
        assert_eq!(
            ctx.run_ok(&[
                "run",
                "--rm",
                "inline",
                "stat",
                "-c",
                "%a %u",
                "/etc/greeting"
            ]),
            "644 0\n"
        );
    });
}

#[test]
fn a_bind_from_a_context_path_with_a_comma() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let dockerfile =
            "FROM busybox\nRUN --mount=type=bind,source=data,target=/d cat /d/v > /out\n";
        let dir = context(ctx, "a,b", dockerfile, &[("data/v", "comma\n")]);
        build_ok(ctx, &["-t", "comma", &dir]);
        assert_eq!(
            ctx.run_ok(&["run", "--rm", "comma", "cat", "/out"]),
            "comma\n"
        );
    });
}
