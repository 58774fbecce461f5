//! The orphan sweep of `skiff build`, root and rootless: a RUN container
//! left by a killed build is removed by the next build (build_errors.rs),
//! and a container that only has a build container's name, made by a
//! user, is not.

mod common;

use common::build::*;
use common::*;

#[test]
fn a_user_container_with_a_build_name_survives_the_sweep() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        // A PID that no process has now.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let name = format!("skiff-build-{dead}-mine");
        ctx.run_ok(&["create", "--name", &name, "busybox", "true"]);
        let dir = context(ctx, "sw", "FROM busybox\nRUN true\n", &[]);
        build_ok(ctx, &["--no-cache", &dir]);
        assert_eq!(
            ctx.run_ok(&["ps", "-a", "--format", "{{.Names}}"]),
            format!("{name}\n")
        );
    });
}
