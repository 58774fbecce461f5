//! `RUN --mount=type=cache`, root and rootless: `system df` counts the
//! cache mounts as Build Cache, `builder prune` (docker) and `image prune
//! --build-cache` (podman) remove them, files a container's non-root user
//! wrote included, and `builder prune -a` takes the step cache too;
//! `sharing=private` keeps its cache between builds and gives a step a
//! fresh directory while another step holds the cache.

mod common;

use common::build::*;
use common::*;

/// `system df`'s Build Cache line: total, active, size, reclaimable.
fn build_cache_line(ctx: &Ctx) -> Vec<u64> {
    let out = ctx.run_ok(&[
        "system",
        "df",
        "--format",
        "{{.Type}}|{{.Total}}|{{.Active}}|{{.RawSize}}|{{.RawReclaimable}}",
    ]);
    let line = out
        .lines()
        .find(|l| l.starts_with("Build Cache|"))
        .unwrap_or_else(|| panic!("no Build Cache line: {out}"));
    line.split('|')
        .skip(1)
        .map(|f| f.parse().unwrap())
        .collect()
}

#[test]
fn cache_mounts_are_counted_and_pruned() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        assert_eq!(build_cache_line(ctx), [0, 0, 0, 0]);
        // A file of the container's root, and a private directory of its
        // user 1000 (rootless: a subordinate ID on the host).
        let dockerfile = "FROM busybox
RUN --mount=type=cache,target=/c echo run >> /c/log && wc -l < /c/log | tr -d ' ' | sed s/^/COUNT=/ && head -c 100000 /dev/zero > /c/big && mkdir -p /c/own && touch /c/own/f && chown -R 1000:1000 /c/own && chmod 700 /c/own
";
        let dir = context(ctx, "c", dockerfile, &[]);
        assert!(build_ok(ctx, &["-t", "c", &dir]).contains("COUNT=1"));
        let line = build_cache_line(ctx);
        assert_eq!(&line[..2], [1, 0], "{line:?}");
        assert!(line[2] >= 100_000 && line[3] == line[2], "{line:?}");

        let pruned = ctx.run_ok(&["builder", "prune", "-f"]);
        assert!(pruned.contains("Total reclaimed space"), "{pruned}");
        assert_eq!(build_cache_line(ctx), [0, 0, 0, 0]);
        let again = build_ok(ctx, &["--no-cache", "-t", "c", &dir]);
        assert!(
            again.contains("COUNT=1"),
            "the cache started empty: {again}"
        );

        // podman's spelling.
        ctx.run_ok(&["image", "prune", "--build-cache"]);
        assert_eq!(build_cache_line(ctx), [0, 0, 0, 0]);

        // `-a`: the step cache too, so every step runs again.
        let cached = build_ok(ctx, &["-t", "c", &dir]);
        assert!(cached.contains("--> Using cache"), "{cached}");
        ctx.run_ok(&["builder", "prune", "-a", "-f"]);
        let rebuilt = build_ok(ctx, &["-t", "c", &dir]);
        assert!(!rebuilt.contains("--> Using cache"), "{rebuilt}");
        assert!(rebuilt.contains("COUNT=1"), "{rebuilt}");
        assert_eq!(
            ctx.run_ok(&["run", "--rm", "c", "echo", "runs"]),
            "runs\n",
            "the tagged image stayed"
        );
    });
}

#[test]
fn a_private_cache_is_kept_and_replaced_only_while_in_use() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let dockerfile = "FROM busybox
RUN --mount=type=cache,target=/c,id=p,sharing=private echo run >> /c/log && wc -l < /c/log | tr -d ' ' | sed s/^/COUNT=/
";
        let dir = context(ctx, "p", dockerfile, &[]);
        assert!(build_ok(ctx, &["--no-cache", &dir]).contains("COUNT=1"));
        let second = build_ok(ctx, &["--no-cache", &dir]);
        assert!(second.contains("COUNT=2"), "kept between builds: {second}");

        // Another step holds the cache (its lock file, as a running step
        // would): this one gets a fresh directory and leaves the cache.
        let cache = ctx
            .root
            .join("build-mounts/cache")
            .join(skiff::layers::Digest::of_bytes(b"p").hex());
        let lock = std::fs::File::options()
            .write(true)
            .open(cache.with_extension("lock"))
            .unwrap();
        lock.lock().unwrap();
        let while_held = build_ok(ctx, &["--no-cache", &dir]);
        assert!(while_held.contains("COUNT=1"), "{while_held}");
        drop(lock);
        let after = build_ok(ctx, &["--no-cache", &dir]);
        assert!(after.contains("COUNT=3"), "{after}");
    });
}

#[test]
fn prune_never_follows_a_symlink_a_build_step_planted() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        // A host file a step points `work/work` of its cache at (removal
        // opens up `work/work`, as overlayfs leaves it mode 000).
        let victim = ctx.write_file("victim", "host file\n");
        let dockerfile = format!(
            "FROM busybox\nRUN --mount=type=cache,target=/c mkdir -p /c/work && ln -s {} /c/work/work\n",
            victim.display()
        );
        let dir = context(ctx, "planted", &dockerfile, &[]);
        build_ok(ctx, &["-t", "planted", &dir]);
        ctx.run_ok(&["builder", "prune", "-f"]);
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&victim).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o644, "the host file's mode changed");
        assert_eq!(build_cache_line(ctx), [0, 0, 0, 0]);
    });
}
