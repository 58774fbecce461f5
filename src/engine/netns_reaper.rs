//! The end of the shared rootless network namespace, a moment after its
//! last container left: `release_unused` starts this binary again as the
//! hidden `netns-reaper` command, detached, and returns at once. The
//! reaper sleeps `GRACE`, then, under the networks lock, ends the
//! namespace if it is still the one it was told about and still unused.
//!
//! Why not at once: ending a namespace makes the kernel tear its
//! interfaces down, holding the lock every new network namespace needs
//! for 10-30 ms, so a container started right after (a script's next
//! `skiff run --rm`) paid for a new namespace and waited for that too
//! (41-56 ms against 9 ms while the namespace lives).

use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::rootless_netns::{self, SharedNetns};
use crate::state::{NetworkStore, StorageDirs};

/// The hidden command's name.
pub const REAPER_COMMAND: &str = "netns-reaper";

/// How long an unused shared namespace stays.
const GRACE: Duration = Duration::from_millis(500);

/// Starts the reaper of `shared` (detached: its own session, no stdio)
/// and returns once it runs on its own. False when it could not start:
/// the caller ends the namespace itself.
pub fn start(dirs: &StorageDirs, shared: &SharedNetns) -> bool {
    let json = serde_json::to_string(shared).expect("serializes");
    let started = Command::new("/proc/self/exe")
        .arg("--root")
        .arg(&dirs.root)
        .arg("--runroot")
        .arg(&dirs.runroot)
        .arg(REAPER_COMMAND)
        .arg(json)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    // It forks and its first process exits at once (so no skiff process
    // waits on it later): this wait is short.
    started
        .and_then(|mut child| child.wait())
        .is_ok_and(|s| s.success())
}

/// The `netns-reaper` command: leaves its caller (a fork whose parent
/// exits), waits `GRACE`, then ends `shared` if it is unused.
pub fn reap(dirs: &StorageDirs, shared_json: &str) -> i32 {
    let Ok(shared) = serde_json::from_str::<SharedNetns>(shared_json) else {
        return 2;
    };
    // SAFETY: the command runs single-threaded (nothing was started yet);
    // the child goes on with ordinary code, the parent only exits.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Parent { .. }) => return 0,
        Ok(nix::unistd::ForkResult::Child) => {}
        Err(_) => return 1,
    }
    let _ = nix::unistd::setsid();
    std::thread::sleep(GRACE);
    let kill_given = || {
        for process in [Some(shared.holder), shared.pasta].into_iter().flatten() {
            if process.is_alive() {
                let _ = kill(Pid::from_raw(process.pid), Signal::SIGKILL);
            }
        }
    };
    // A store removed meanwhile (locking would make its directory again):
    // nothing can use the namespace any more.
    if !dirs.root.join("networks").is_dir() {
        kill_given();
        return 0;
    }
    let store = NetworkStore::new(dirs);
    let Ok(lock) = store.lock() else {
        kill_given();
        return 0;
    };
    if rootless_netns::recorded_identity(dirs) != Some(shared.holder) {
        // Ended already, or replaced by a newer one after it ended: what
        // may be left of it is no one's.
        kill_given();
    } else if store.leases(&lock).is_empty() && !rootless_netns::starts_under_way(dirs) {
        rootless_netns::stop(dirs);
    }
    0
}
