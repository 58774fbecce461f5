//! `RUN --mount=type=bind` from the build context, root and rootless: the
//! step sees the context as `.dockerignore` leaves it (BuildKit sends only
//! what the rules keep), read-only by default; with `rw` the step may
//! write there, and its writes reach neither the context nor the image.

mod common;

use common::build::*;
use common::*;

const IGNORE: &str = "secret.txt\nlogs\n*.md\n!README.md\nsrc/*.md\ndocs\n!docs/keep\n";

const FILES: &[(&str, &str)] = &[
    (".dockerignore", IGNORE),
    ("data.txt", "data\n"),
    ("secret.txt", "do not send\n"),
    ("logs/app.log", "log\n"),
    ("NOTES.md", "notes\n"),
    ("README.md", "readme\n"),
    ("src/main.c", "int main;\n"),
    ("src/CHANGES.md", "changes\n"),
    ("docs/old.txt", "old\n"),
    ("docs/keep/guide.txt", "guide\n"),
];

#[test]
fn a_context_bind_shows_only_what_dockerignore_keeps() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        // A `,` in the context's path: the overlay's options escape it.
        let dockerfile = "FROM busybox
RUN --mount=type=bind,target=/ctx cd /ctx && find . | sort > /listing
RUN --mount=type=bind,source=src,target=/src ls -a /src > /src-listing
RUN --mount=type=bind,source=srclink,target=/l ls -a /l > /link-listing
RUN --mount=type=bind,target=/ctx (touch /ctx/x 2>/dev/null && echo writable || echo read-only) > /ro
";
        let dir = context(ctx, "ctx,1", dockerfile, FILES);
        // A symlink is followed inside the context; the rules apply to the
        // path it leads to.
        std::os::unix::fs::symlink("src", std::path::Path::new(&dir).join("srclink")).unwrap();
        build_ok(ctx, &["-t", "binds", &dir]);
        assert_eq!(
            ctx.run_ok(&["run", "--rm", "binds", "cat", "/listing"]),
            ".\n./.dockerignore\n./Dockerfile\n./README.md\n./data.txt\n./docs\n./docs/keep\n./docs/keep/guide.txt\n./src\n./src/main.c\n./srclink\n",
            "ignored files are absent, `!` exceptions present"
        );
        assert_eq!(
            ctx.run_ok(&["run", "--rm", "binds", "cat", "/src-listing"]),
            ".\n..\nmain.c\n",
            "a bound subdirectory is filtered too"
        );
        assert_eq!(
            ctx.run_ok(&["run", "--rm", "binds", "cat", "/link-listing"]),
            ".\n..\nmain.c\n",
            "and one reached through a symlink"
        );
        assert_eq!(
            ctx.run_ok(&["run", "--rm", "binds", "cat", "/ro"]),
            "read-only\n"
        );

        // An excluded path cannot be bound: it was never sent.
        ctx.write_file(
            "ctx,1/Dockerfile",
            "FROM busybox\nRUN --mount=type=bind,source=secret.txt,target=/s cat /s\n",
        );
        let out = build(ctx, &[&dir]);
        assert_eq!(out.status.code(), Some(125), "{out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("is not in the build context"),
            "{out:?}"
        );
    });
}

#[test]
fn a_writable_context_bind_keeps_its_writes_to_the_step() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let dockerfile = "FROM busybox
RUN --mount=type=bind,target=/ctx,rw echo changed > /ctx/data.txt && touch /ctx/new && rm /ctx/README.md && cat /ctx/data.txt > /seen && ls /ctx > /after
";
        let dir = context(ctx, "rw", dockerfile, FILES);
        build_ok(ctx, &["-t", "rwbind", &dir]);
        assert_eq!(
            ctx.run_ok(&["run", "--rm", "rwbind", "cat", "/seen", "/after"]),
            "changed\nDockerfile\ndata.txt\ndocs\nnew\nsrc\n",
            "the step saw its own writes"
        );
        // The context is as it was.
        let context_dir = std::path::Path::new(&dir);
        assert_eq!(
            std::fs::read_to_string(context_dir.join("data.txt")).unwrap(),
            "data\n"
        );
        assert!(context_dir.join("README.md").exists());
        assert!(!context_dir.join("new").exists());
        // Nor did the writes reach the image.
        assert_eq!(
            ctx.run_ok(&[
                "run",
                "--rm",
                "rwbind",
                "sh",
                "-c",
                "test -e /ctx/new || echo absent"
            ]),
            "absent\n"
        );
    });
}
