//! A container others entered the namespaces of is kept by every verb
//! that removes containers, not only `rm`: `container prune` leaves it
//! while a joiner runs and removes both once both are stopped (the joiner
//! first); `rmi -f` of its image is refused the same way. Root and
//! rootless.

mod common;

use common::containers::nonempty_lines;
use common::*;

#[test]
fn prune_and_rmi_keep_a_container_others_joined() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        // An image of x's own (y runs busybox), so `rmi -f` meets only x.
        ctx.run_ok(&["create", "--name", "base", "busybox", "true"]);
        ctx.run_ok(&["commit", "base", "target-image"]);
        ctx.run_ok(&["rm", "base"]);
        let x = ctx.run_detached(&["--name", "x", "target-image", "sleep", "300"]);
        let y = ctx.run_detached(&[
            "--name",
            "y",
            "--ipc",
            "container:x",
            "busybox",
            "sleep",
            "300",
        ]);
        ctx.run_ok(&["stop", "-t", "0", "x"]);

        // x is stopped but y still holds its IPC namespace.
        let pruned = ctx.run_ok(&["container", "prune", "-f"]);
        assert!(!pruned.contains(&x), "{pruned}");
        assert_eq!(ctx.status_of("x"), "exited");

        let out = ctx.run_status(&["rmi", "-f", "target-image"]);
        // rmi's code for a name it could not remove (its other names go on).
        assert!(!out.status.success(), "{out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(&format!(
                "container {x} has dependent containers which must be removed before it: {y}"
            )),
            "{out:?}"
        );
        assert_eq!(ctx.status_of("x"), "exited");

        // Both stopped: prune takes both, the joiner first.
        ctx.run_ok(&["stop", "-t", "0", "y"]);
        let pruned = nonempty_lines(&ctx.run_ok(&["container", "prune", "-f"]));
        let at = |id: &str| pruned.iter().position(|l| l.contains(id));
        assert!(at(&y).is_some() && at(&x).is_some(), "{pruned:?}");
        assert!(at(&y) < at(&x), "{pruned:?}");
        assert!(ctx.all_short_ids().is_empty(), "{:?}", ctx.all_short_ids());
    });
}
