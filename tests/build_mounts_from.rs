//! `RUN --mount=type=bind,from=…` (another stage's or an image's files,
//! read-only, or writable with the writes discarded) and cache mounts
//! with an owner, a mode and `sharing=private`, root and rootless.

mod common;

use common::build::*;
use common::*;

/// Entries of the store's `tmp/` a step's scratch would leave.
fn scratch_left(ctx: &Ctx) -> Vec<String> {
    std::fs::read_dir(ctx.root.join("tmp"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| {
                    ["mountfrom-", "cacheprivate-", "cachenew-"]
                        .iter()
                        .any(|p| n.starts_with(p))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn bind_from_a_stage_and_an_image() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let dockerfile = "FROM busybox AS tools
COPY tool.sh /out/tool.sh
RUN chown 1000:1001 /out/tool.sh && chmod 4750 /out/tool.sh
FROM busybox
RUN --mount=type=bind,from=tools,source=/out,target=/t sh /t/tool.sh > /result && stat -c %u:%g:%a /t/tool.sh >> /result
RUN --mount=type=bind,from=tools,source=/out,target=/t (echo x > /t/new) 2>/dev/null || echo read-only > /ro
RUN --mount=type=bind,from=0,source=out,target=/w,rw echo x > /w/new && ls /w > /rw-saw
RUN --mount=type=bind,from=tools,source=/out,target=/t ls /t > /after
RUN --mount=type=bind,from=busybox,target=/bb,source=/bin /bb/busybox echo from-image > /bb-out
";
        let dir = context(ctx, "f", dockerfile, &[("tool.sh", "echo tool-v1\n")]);
        let first = last_line(&build_ok(ctx, &["-t", "f", &dir]));
        let cat =
            |files: &str| ctx.run_ok(&["run", "--rm", "f", "sh", "-c", &format!("cat {files}")]);
        assert_eq!(
            cat("/result /ro /rw-saw /after /bb-out"),
            "tool-v1\n1000:1001:4750\nread-only\nnew\ntool.sh\ntool.sh\nfrom-image\n",
            "the stage's files with their owners and modes, read-only; rw writes seen in the step only"
        );
        assert_eq!(
            ctx.run_ok(&[
                "run",
                "--rm",
                "f",
                "sh",
                "-c",
                "for p in /t /w /bb; do test -e $p && echo present $p; done; true",
            ]),
            "",
            "the mount points are not in the image"
        );
        assert_eq!(scratch_left(ctx), Vec::<String>::new());

        // Unchanged: every step is a cache hit, the same image.
        assert_eq!(last_line(&build_ok(ctx, &["-t", "f", &dir])), first);
        // The tools stage changed: the RUN that binds it runs again.
        ctx.write_file("f/tool.sh", "echo tool-v2\n");
        let second = last_line(&build_ok(ctx, &["-t", "f", &dir]));
        assert_ne!(second, first);
        assert_eq!(cat("/result"), "tool-v2\n1000:1001:4750\n");
    });
}

#[test]
fn bind_from_errors_name_the_problem() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let dockerfile = "FROM busybox AS tools
FROM busybox
RUN --mount=type=bind,from=tools,source=/nope,target=/t true
";
        let dir = context(ctx, "e", dockerfile, &[]);
        let out = build(ctx, &[&dir]);
        assert_eq!(out.status.code(), Some(125), "{out:?}");
        let err = stderr_of(&out);
        assert!(err.contains("nope") && err.contains("tools"), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert_eq!(scratch_left(ctx), Vec::<String>::new());

        ctx.write_file(
            "e/Dockerfile",
            "FROM busybox\nRUN --mount=type=bind,from=nosuchstage,target=/t true\n",
        );
        let out = build(ctx, &["--pull=never", &dir]);
        assert_eq!(out.status.code(), Some(125), "{out:?}");
        let err = stderr_of(&out);
        assert!(err.contains("nosuchstage"), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    });
}

#[test]
fn cache_mount_owner_mode_and_private() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let dockerfile = "FROM busybox
RUN --mount=type=cache,target=/c,id=owned,uid=1000,gid=1001,mode=0700 stat -c %u:%g:%a /c > /stat
RUN --mount=type=cache,target=/p,id=p,sharing=private ls /p | wc -l > /count && touch /p/f
";
        let dir = context(ctx, "c", dockerfile, &[]);
        build_ok(ctx, &["-t", "c", &dir]);
        build_ok(ctx, &["--no-cache", "-t", "c", &dir]);
        assert_eq!(
            ctx.run_ok(&[
                "run",
                "--rm",
                "c",
                "sh",
                "-c",
                "cat /stat; tr -d ' ' < /count"
            ]),
            "1000:1001:700\n1\n",
            "the owner and mode given; a private cache no other step uses is kept (BuildKit)"
        );
        assert_eq!(scratch_left(ctx), Vec::<String>::new());
    });
}
