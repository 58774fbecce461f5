//! The monitor of a detached container as a process of its own: it must
//! hold nothing its caller left open. (Its memory is measured in
//! `bench/monitor-memory`; its work shows in `tests/lifecycle.rs` and
//! `tests/nothing_left_behind.rs`.)

mod common;

use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use common::containers::*;
use common::*;

/// The fd number the caller's pipe has in `skiff run -d` (high, so it
/// cannot collide with what the spawning code uses itself).
const INHERITED_FD: i32 = 200;

#[test]
fn m01_a_detached_run_leaves_its_callers_pipes_alone() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        // Like a script's `$(…)` or a CI runner: a pipe skiff inherits and
        // whose reader waits for end-of-file.
        let (read_end, write_end) = nix::unistd::pipe2(OFlag::O_CLOEXEC).unwrap();
        let mut cmd = ctx.skiff(&["run", "-d", "--name", "keeper", "busybox", "sleep", "60"]);
        let raw = write_end.as_raw_fd();
        // SAFETY: dup2 is async-signal-safe and touches no memory; only
        // this child gets the pipe (without close-on-exec).
        unsafe {
            cmd.pre_exec(move || {
                if libc::dup2(raw, INHERITED_FD) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let out = output_of(cmd, None, COMMAND_TIMEOUT);
        assert_success(&out, "run -d with an inherited pipe");
        drop(write_end);
        assert_eq!(ctx.status_of("keeper"), "running");

        // End-of-file comes once nobody holds the write end: not the
        // monitor, not the container.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut fds = [PollFd::new(read_end.as_fd(), PollFlags::POLLIN)];
            let left = deadline.saturating_duration_since(Instant::now());
            let ready = poll(&mut fds, PollTimeout::try_from(left).unwrap()).unwrap();
            assert!(
                ready > 0,
                "the pipe is still held open 10 s after `run -d` returned"
            );
            let mut byte = [0u8; 1];
            if nix::unistd::read(&read_end, &mut byte).unwrap() == 0 {
                break;
            }
        }
        assert_eq!(ctx.status_of("keeper"), "running");
    });
}
