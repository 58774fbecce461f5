//! The build cache, root and rootless: an unchanged rebuild does no work
//! (no RUN runs, no layer appears, same image), a changed file invalidates
//! exactly the steps from the COPY that sees it, `--no-cache` and
//! `--layers=false` do everything again (a RUN that runs prints its
//! marker in lower case; the STEP line shows it in upper case), and a moved tag leaves the old
//! image dangling while the cache images stay out of `images`.

mod common;

use common::build::*;
use common::image_output::table;
use common::*;

const TWO_COPIES: &str = "FROM busybox
COPY a.txt /a
RUN echo RAN-STEP-A | tr A-Z a-z && cat /a > /a-copy
COPY b.txt /b
RUN echo RAN-STEP-B | tr A-Z a-z && cat /b > /b-copy
CMD [\"cat\", \"/a-copy\", \"/b-copy\"]
";

#[test]
fn unchanged_rebuild_is_all_cache_and_a_changed_file_reruns_from_its_copy() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let dir = context(
            ctx,
            "c",
            TWO_COPIES,
            &[("a.txt", "a1\n"), ("b.txt", "b1\n")],
        );
        let first = build_ok(ctx, &["-t", "app", &dir]);
        assert!(
            first.contains("ran-step-a") && first.contains("ran-step-b"),
            "{first}"
        );
        let layers = layer_dirs(ctx);
        assert!(container_dirs(ctx).is_empty(), "RUN containers are removed");

        let second = build_ok(ctx, &["-t", "app", &dir]);
        assert_eq!(second.matches("--> Using cache").count(), 5, "{second}");
        assert!(
            !second.contains("ran-step"),
            "a cached RUN does not run: {second}"
        );
        assert_eq!(last_line(&second), last_line(&first));
        assert_eq!(layer_dirs(ctx), layers, "a cache hit makes no layer");
        assert!(container_dirs(ctx).is_empty());

        // Only the time of a.txt changes: still all cache.
        let a = ctx.work.join("c/a.txt");
        let f = std::fs::File::options().write(true).open(&a).unwrap();
        f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(60))
            .unwrap();
        let touched = build_ok(ctx, &["-t", "app", &dir]);
        assert_eq!(touched.matches("--> Using cache").count(), 5, "{touched}");

        // b.txt changes: the steps before its COPY come from the cache,
        // its COPY and what follows run again.
        ctx.write_file("c/b.txt", "b2\n");
        let third = build_ok(ctx, &["-t", "app", &dir]);
        assert_eq!(third.matches("--> Using cache").count(), 2, "{third}");
        assert!(
            !third.contains("ran-step-a") && third.contains("ran-step-b"),
            "{third}"
        );
        assert_ne!(last_line(&third), last_line(&first));
        assert_eq!(ctx.run_ok(&["run", "--rm", "app"]), "a1\nb2\n");

        // --no-cache runs everything again.
        let fresh = build_ok(ctx, &["--no-cache", "-t", "app", &dir]);
        assert!(!fresh.contains("Using cache"), "{fresh}");
        assert!(
            fresh.contains("ran-step-a") && fresh.contains("ran-step-b"),
            "{fresh}"
        );
    });
}

#[test]
fn a_moved_tag_leaves_the_old_image_dangling_and_cache_images_hidden() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let dir = context(
            ctx,
            "c",
            TWO_COPIES,
            &[("a.txt", "a1\n"), ("b.txt", "b1\n")],
        );
        let old = last_line(&build_ok(ctx, &["-t", "app", &dir]));
        ctx.write_file("c/a.txt", "a2\n");
        let new = last_line(&build_ok(ctx, &["-t", "app", &dir]));
        assert_ne!(old, new);
        let dangling = ctx.run_ok(&["images", "-q", "--no-trunc", "-f", "dangling=true"]);
        assert_eq!(
            dangling.trim(),
            format!("sha256:{old}"),
            "only the untagged result dangles"
        );

        // `images` lists busybox, app and the old result; `-a` also the
        // step images the cache keeps.
        let rows = table(&ctx.run_ok(&["images"]));
        assert_eq!(rows.len(), 1 + 3, "{rows:?}");
        let all = table(&ctx.run_ok(&["images", "-a"]));
        assert!(all.len() > rows.len() + 4, "{all:?}");

        // prune -a takes the cache images too; the next build works and
        // finds no cache.
        ctx.run_ok(&["rmi", "app"]);
        ctx.run_ok(&["image", "prune", "-a", "-f"]);
        assert_eq!(table(&ctx.run_ok(&["images", "-a"])).len(), 1, "all gone");
        let entries = std::fs::read_dir(ctx.root.join("build-cache"))
            .unwrap()
            .count();
        assert_eq!(entries, 0, "the cache's entries went with their images");
        ctx.load_busybox();
        let again = build_ok(ctx, &["-t", "app", &dir]);
        assert!(!again.contains("Using cache"), "{again}");
        assert_eq!(ctx.run_ok(&["run", "--rm", "app"]), "a2\nb1\n");
    });
}

#[test]
fn layers_false_keeps_no_cache_and_no_step_images() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let dir = context(
            ctx,
            "c",
            TWO_COPIES,
            &[("a.txt", "a1\n"), ("b.txt", "b1\n")],
        );
        let out = build_ok(ctx, &["--layers=false", "-t", "flat", &dir]);
        assert!(out.contains("ran-step-b"), "{out}");
        assert_eq!(ctx.run_ok(&["run", "--rm", "flat"]), "a1\nb1\n");
        // busybox and flat, nothing else, not even with -a.
        assert_eq!(table(&ctx.run_ok(&["images", "-a"])).len(), 1 + 2);
        let again = build_ok(ctx, &["--layers=false", "-t", "flat", &dir]);
        assert!(
            !again.contains("Using cache") && again.contains("ran-step-a"),
            "{again}"
        );
        assert!(container_dirs(ctx).is_empty());
    });
}
