//! Multi-stage builds, root and rootless: `COPY --from` a stage (by name
//! and index) and an image, `--target` builds only what the target needs,
//! ONBUILD triggers of a base image run in the child build, ADD unpacks
//! a local archive.

mod common;

use common::build::*;
use common::*;

#[test]
fn copy_from_stages_and_images_and_target() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let dockerfile = "FROM busybox AS builder
RUN mkdir -p /out && echo built > /out/artifact && chown 1234:1234 /out/artifact
FROM busybox AS unused
RUN echo UNUSED-STAGE | tr A-Z a-z && exit 9
FROM busybox
COPY --from=builder /out/artifact /app/
COPY --from=0 /out /app/out0
COPY --from=busybox /bin/busybox /app/busybox
CMD [\"cat\", \"/app/artifact\"]
";
        let dir = context(ctx, "ms", dockerfile, &[]);
        let out = build_ok(ctx, &["-t", "ms", &dir]);
        // The failing stage is not needed: it never runs.
        assert!(!out.contains("unused-stage"), "{out}");
        assert!(out.contains("STEP 1/7: FROM busybox AS builder"), "{out}");
        assert_eq!(ctx.run_ok(&["run", "--rm", "ms"]), "built\n");
        // COPY resets the owner to 0:0 without --chown.
        assert_eq!(
            ctx.run_ok(&[
                "run",
                "--rm",
                "ms",
                "stat",
                "-c",
                "%u:%g",
                "/app/artifact",
                "/app/out0/artifact"
            ]),
            "0:0\n0:0\n"
        );
        assert_eq!(
            ctx.run_ok(&["run", "--rm", "ms", "/app/busybox", "echo", "bb works"]),
            "bb works\n"
        );

        // --target stops at the builder; later stages are not built.
        let out = build_ok(ctx, &["--target", "builder", "-t", "ms:builder", &dir]);
        assert!(out.contains("STEP 2/2:"), "{out}");
        assert_eq!(
            ctx.run_ok(&[
                "run",
                "--rm",
                "ms:builder",
                "stat",
                "-c",
                "%u:%g",
                "/out/artifact"
            ]),
            "1234:1234\n",
            "RUN keeps the owners it made"
        );
        let out = build(ctx, &["--target", "nosuch", &dir]);
        assert_eq!(out.status.code(), Some(125));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            stderr.trim(),
            "Error: target stage \"nosuch\" could not be found"
        );
    });
}

#[test]
fn onbuild_triggers_run_in_the_child_build() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let parent = context(
            ctx,
            "parent",
            "FROM busybox\nONBUILD COPY marker.txt /from-onbuild\nONBUILD RUN echo triggered > /ran\n",
            &[],
        );
        build_ok(ctx, &["-t", "parent", &parent]);
        assert_eq!(
            inspect(ctx, "parent", "{{json .Config.OnBuild}}"),
            r#"["COPY marker.txt /from-onbuild","RUN echo triggered > /ran"]"#
        );
        let child = context(
            ctx,
            "child",
            "FROM parent\nRUN cat /from-onbuild /ran\n",
            &[("marker.txt", "child file\n")],
        );
        let out = build_ok(ctx, &["-t", "child", &child]);
        assert!(out.contains("child file\ntriggered\n"), "{out}");
        // The triggers are not inherited by the child image.
        let config = inspect(ctx, "child", "{{json .Config}}");
        assert!(!config.contains("OnBuild"), "{config}");
    });
}

#[test]
fn add_unpacks_local_archives_and_copies_plain_files() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let dir = context(
            ctx,
            "add",
            "FROM busybox\nADD bundle.tar.gz /opt/\nADD plain.txt /opt/plain.txt\nADD b.tar.bz2 x.tar.xz /more/\n",
            &[("plain.txt", "plain\n")],
        );
        let mut tar = tar::Builder::new(Vec::new());
        for (name, data) in [("bundle/one", &b"1\n"[..]), ("bundle/sub/two", b"2\n")] {
            let mut header = tar::Header::new_ustar();
            header.set_size(data.len() as u64);
            header.set_mode(0o640);
            header.set_cksum();
            tar.append_data(&mut header, name, data).unwrap();
        }
        let tar = tar.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, &tar).unwrap();
        ctx.write_file("add/bundle.tar.gz", gz.finish().unwrap());
        let single = |name: &str, data: &[u8]| {
            let mut one = tar::Builder::new(Vec::new());
            let mut header = tar::Header::new_ustar();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            one.append_data(&mut header, name, data).unwrap();
            one.into_inner().unwrap()
        };
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        std::io::Write::write_all(&mut bz, &single("from-bzip2", b"b\n")).unwrap();
        ctx.write_file("add/b.tar.bz2", bz.finish().unwrap());
        let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 6);
        std::io::Write::write_all(&mut xz, &single("from-xz", b"x\n")).unwrap();
        ctx.write_file("add/x.tar.xz", xz.finish().unwrap());
        build_ok(ctx, &["-t", "add", &dir]);
        assert_eq!(
            ctx.run_ok(&[
                "run",
                "--rm",
                "add",
                "sh",
                "-c",
                "cat /opt/bundle/one /opt/bundle/sub/two /opt/plain.txt; stat -c %a /opt/bundle/one; cat /more/from-bzip2 /more/from-xz"
            ]),
            "1\n2\nplain\n640\nb\nx\n"
        );
    });
}

/// `busybox httpd` serving `dir` on 127.0.0.1, killed when dropped.
struct Httpd {
    child: std::process::Child,
    port: u16,
}

impl Httpd {
    fn start(dir: &std::path::Path) -> Httpd {
        // A port the kernel just handed out is free for the server.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new("busybox")
            .args(["httpd", "-f", "-p", &format!("127.0.0.1:{port}"), "-h"])
            .arg(dir)
            .spawn()
            .expect("busybox httpd (the busybox package) is needed");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "httpd did not listen");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Httpd { child, port }
    }
}

impl Drop for Httpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn add_from_a_url_with_checksum() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let www = ctx.make_dir("www");
        ctx.write_file("www/hello.txt", "served file\n");
        let server = Httpd::start(&www);
        let url = format!("http://127.0.0.1:{}/hello.txt", server.port);
        // sha256 of "served file\n", computed independently of skiff.
        let sum = "86eb91f775a3319609a2e114bff0a316a4b70f81e1ec841bfc4da0965668ea9e";
        let dir = context(
            ctx,
            "url",
            &format!(
                "FROM busybox\nADD {url} /srv/\nADD --checksum=sha256:{sum} {url} /named.txt\n"
            ),
            &[],
        );
        build_ok(ctx, &["-t", "url", &dir]);
        assert_eq!(
            ctx.run_ok(&[
                "run",
                "--rm",
                "url",
                "sh",
                "-c",
                "cat /srv/hello.txt /named.txt; stat -c '%a %u' /srv/hello.txt"
            ]),
            "served file\nserved file\n600 0\n"
        );
        let bad = "0".repeat(64);
        ctx.write_file(
            "url/Dockerfile",
            format!("FROM busybox\nADD --checksum=sha256:{bad} {url} /x\n"),
        );
        let out = build(ctx, &[&dir]);
        assert_eq!(out.status.code(), Some(125));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(&format!("got sha256:{sum}")), "{stderr}");
    });
}

#[test]
fn built_image_pushes_pulls_saves_and_loads() {
    let registry = common::registry::Registry::start(common::registry::RegistrySetup::default());
    for_each_user(|ctx| {
        ctx.load_busybox();
        let dir = context(
            ctx,
            "push",
            "FROM busybox\nCOPY f /f\nRUN echo made > /made\nCMD [\"cat\", \"/f\", \"/made\"]\n",
            &[("f", "copied\n")],
        );
        let id = last_line(&build_ok(ctx, &["-t", "app", &dir]));
        let reference = registry.image(&format!("{}/built:1", ctx.user));
        ctx.run_ok(&["push", "--tls-verify=false", "app", &reference]);

        let fresh = Ctx::new(ctx.user);
        fresh.run_ok(&["pull", "--tls-verify=false", &reference]);
        assert_eq!(fresh.run_ok(&["run", "--rm", &reference]), "copied\nmade\n");
        assert_eq!(
            inspect(&fresh, &reference, "{{.Id}}"),
            id,
            "the same image ID"
        );

        // A FROM image that is not local is pulled (here from the test
        // registry, with the registry flags build shares with pull).
        let child = Ctx::new(ctx.user);
        let dir = context(
            &child,
            "child",
            &format!("FROM {reference}\nRUN cat /made\n"),
            &[],
        );
        let out = build(
            &child,
            &["--pull=missing", "--tls-verify=false", "-t", "child", &dir],
        );
        assert!(out.status.success(), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("Trying to pull {reference}...")),
            "{stderr}"
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("made\n"));
        let out = build(&child, &["--pull=never", "-t", "child2", &dir]);
        assert!(
            out.status.success(),
            "the pulled image is local now: {out:?}"
        );

        let archive = ctx.work.join("app.tar");
        ctx.run_ok(&["save", "-o", archive.to_str().unwrap(), "app"]);
        let other = Ctx::new(ctx.user);
        other.run_ok(&["load", "-i", archive.to_str().unwrap()]);
        assert_eq!(other.run_ok(&["run", "--rm", "app"]), "copied\nmade\n");
    });
}
