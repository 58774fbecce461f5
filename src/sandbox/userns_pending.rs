//! A held user namespace (`userns::hold_new_userns`) made in the
//! background: the namespace's first member is cloned and its ID maps'
//! setuid helpers (`newuidmap`, `newgidmap`) started, then the caller goes
//! on with its own work and collects the namespace when it needs it. A
//! rootless build starts one before parsing, so the two setuid execs run
//! beside its first steps instead of before its first store work.

use std::os::fd::{AsFd, OwnedFd};

use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::wait::waitpid;
use nix::unistd::{Pid, pipe2};

use super::namespaces::clone_into_namespaces;
use super::userns::{IdMappings, MapWriters, UsernsError, start_id_maps};

/// A user namespace on its way: its member waits (on `release`'s other
/// end) until the namespace is held or given up.
pub struct PendingUserns {
    member: Pid,
    /// Closed to let the member exit (it exits too if skiff dies).
    release: Option<OwnedFd>,
    writers: MapWriters,
}

impl PendingUserns {
    /// Clones the member into a new user namespace and starts writing its
    /// maps (`maps`); returns without waiting for the helpers. The caller
    /// must be single-threaded (the member is a fork).
    pub fn begin(maps: &IdMappings) -> Result<PendingUserns, UsernsError> {
        let (wait_end, release) = pipe2(OFlag::O_CLOEXEC).map_err(UsernsError::Namespace)?;
        match clone_into_namespaces(CloneFlags::CLONE_NEWUSER).map_err(UsernsError::Namespace)? {
            None => {
                drop(release);
                // Only async-signal-safe work here: wait for the end of
                // the pipe (closed by the parent, or by its death).
                let mut byte = [0u8; 1];
                let _ = nix::unistd::read(wait_end.as_fd(), &mut byte);
                // SAFETY: _exit skips the parent's atexit handlers and
                // destructors, which the fork must not run.
                unsafe { libc::_exit(0) }
            }
            Some(member) => {
                drop(wait_end);
                let pending = |writers| PendingUserns {
                    member,
                    release: Some(release),
                    writers,
                };
                match start_id_maps(member.as_raw(), &maps.uids, &maps.gids) {
                    Ok(writers) => Ok(pending(writers)),
                    Err(e) => {
                        drop(pending(MapWriters::none()));
                        Err(e)
                    }
                }
            }
        }
    }

    /// Waits for the maps and holds the namespace by an fd (close-on-exec),
    /// as `hold_new_userns` gives it.
    pub fn finish(mut self) -> Result<OwnedFd, UsernsError> {
        let writers = std::mem::replace(&mut self.writers, MapWriters::none());
        writers.wait()?;
        let path = format!("/proc/{}/ns/user", self.member);
        nix::fcntl::open(
            path.as_str(),
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|e| UsernsError::Child(format!("opening {path}: {e}")))
        // `self` drops: the member is released and reaped.
    }
}

impl Drop for PendingUserns {
    fn drop(&mut self) {
        let writers = std::mem::replace(&mut self.writers, MapWriters::none());
        let _ = writers.wait();
        // The namespace is held by now, or given up: the member may go.
        drop(self.release.take());
        let _ = waitpid(self.member, None);
    }
}
