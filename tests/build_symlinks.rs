//! Symlinks in a build, root and rootless: a context symlink never
//! reaches the host's files (COPY sources, RUN bind mounts: resolved
//! inside the context as docker does), an image symlink on the way to a
//! destination is followed (usrmerge's `/bin -> usr/bin` stays a link),
//! `COPY --from` follows the source's parent links, and what a RUN bind
//! mount shows is part of the step's cache key.

mod common;

use std::os::unix::fs::symlink;

use common::build::*;
use common::*;

#[test]
fn context_symlinks_resolve_inside_the_context() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let dockerfile = "FROM busybox
COPY link/hostname /h
COPY link /link
RUN --mount=type=bind,source=hostroot,target=/hr ls /hr > /listing
";
        let dir = context(
            ctx,
            "sl",
            dockerfile,
            &[("etc/hostname", "the context's hostname\n")],
        );
        symlink("/etc", ctx.work.join("sl/link")).unwrap();
        symlink("/", ctx.work.join("sl/hostroot")).unwrap();
        build_ok(ctx, &["-t", "sl", &dir]);
        // `link/hostname` is the context's etc/hostname (an absolute
        // link starts at the context root), `link` itself stays a link,
        // and the bind shows the context's root, not the host's.
        assert_eq!(
            ctx.run_ok(&[
                "run",
                "--rm",
                "sl",
                "sh",
                "-c",
                "cat /h; readlink /link; cat /listing"
            ]),
            "the context's hostname\n/etc\nDockerfile\netc\nhostroot\nlink\n"
        );

        // Without an etc/ in the context, `link/passwd` names nothing:
        // the host's /etc/passwd is not read.
        ctx.write_file("sl/Dockerfile", "FROM busybox\nCOPY link/passwd /p\n");
        let out = build(ctx, &[&dir]);
        assert_eq!(out.status.code(), Some(125), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("\"link/passwd\": no such file or directory in the build context"),
            "{stderr}"
        );
    });
}

#[test]
fn image_symlinks_on_the_destination_are_followed() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        // A usrmerge base: /bin -> usr/bin.
        let dockerfile = "FROM scratch AS base
COPY root/ /
FROM base AS built
COPY f /bin/
WORKDIR /bin/w
FROM busybox
COPY --from=built / /img/
COPY --from=base /bin/sh /sh-from-base
COPY --from=base /bin /bin-link
";
        let dir = context(
            ctx,
            "um",
            dockerfile,
            &[("root/usr/bin/sh", "base sh\n"), ("f", "new f\n")],
        );
        symlink("usr/bin", ctx.work.join("um/root/bin")).unwrap();
        build_ok(ctx, &["-t", "um", &dir]);
        let check = "readlink /img/bin; cat /img/usr/bin/sh /img/usr/bin/f; \
                     test -d /img/usr/bin/w && echo workdir-in-usr-bin; \
                     cat /sh-from-base; readlink /bin-link";
        assert_eq!(
            ctx.run_ok(&["run", "--rm", "um", "sh", "-c", check]),
            "usr/bin\nbase sh\nnew f\nworkdir-in-usr-bin\nbase sh\nusr/bin\n"
        );

        // A missing `--from` source names the stage, not the context.
        ctx.write_file(
            "um/Dockerfile",
            "FROM scratch AS base\nCOPY f /f\nFROM scratch\nCOPY --from=base /nope /x\n",
        );
        let out = build(ctx, &[&dir]);
        assert_eq!(out.status.code(), Some(125), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("no such file or directory in stage base"),
            "{stderr}"
        );
    });
}

#[test]
fn bind_mount_content_is_in_the_cache_key() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let dockerfile = "FROM busybox
RUN --mount=type=bind,source=data,target=/d cat /d/v > /out
";
        let dir = context(ctx, "bk", dockerfile, &[("data/v", "one\n")]);
        build_ok(ctx, &["-t", "bk", &dir]);
        assert_eq!(ctx.run_ok(&["run", "--rm", "bk", "cat", "/out"]), "one\n");
        ctx.write_file("bk/data/v", "two\n");
        build_ok(ctx, &["-t", "bk", &dir]);
        assert_eq!(ctx.run_ok(&["run", "--rm", "bk", "cat", "/out"]), "two\n");
    });
}
