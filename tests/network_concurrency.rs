//! Containers starting and ending at once on one bridge network: as root
//! (in the test's network namespace) and rootless, where the first start
//! makes the shared network namespace and the last end removes it. A start
//! that has put the shared namespace into its spec but has no address yet
//! must not lose the namespace to another container's end.

mod common;

use std::thread;

use common::containers::STATE_TIMEOUT;
use common::*;

#[test]
fn parallel_runs_on_one_network_all_succeed_and_leave_nothing() {
    for_each_user(|ctx| {
        ctx.enable_networking();
        ctx.load_busybox();
        ctx.run_ok(&["network", "create", "busy"]);
        let failures: Vec<String> = thread::scope(|scope| {
            let loops: Vec<_> = (0..2)
                .map(|_| {
                    scope.spawn(|| {
                        (0..15)
                            .filter_map(|_| {
                                let out = ctx.run_status(&[
                                    "run",
                                    "--rm",
                                    "--network",
                                    "busy",
                                    "busybox",
                                    "true",
                                ]);
                                (!out.status.success())
                                    .then(|| String::from_utf8_lossy(&out.stderr).into_owned())
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            loops.into_iter().flat_map(|l| l.join().unwrap()).collect()
        });
        assert!(failures.is_empty(), "{failures:#?}");
        assert!(ctx.all_short_ids().is_empty());
        if ctx.is_rootless() {
            // The shared namespace ends a moment after its last container.
            let networks = ctx.runroot.join("networks");
            wait_for("the shared namespace to end", STATE_TIMEOUT, || {
                !networks.join("rootless-netns.json").exists()
            });
            let joining: Vec<_> = std::fs::read_dir(networks.join("joining"))
                .map(|d| d.flatten().map(|e| e.file_name()).collect())
                .unwrap_or_default();
            assert!(joining.is_empty(), "{joining:?}");
        }
    });
}
