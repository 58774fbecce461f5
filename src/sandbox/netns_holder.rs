//! The shared rootless network namespace: a sleeping process in a user
//! namespace of its own (mapped like a container's: the caller as root,
//! the subordinate IDs above) and a network namespace of its own. Rootless
//! containers on bridge networks enter that user namespace (so one process
//! there holds CAP_NET_ADMIN over both their namespaces and the shared
//! one) and the bridge code runs in a helper that entered both.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};

use nix::sched::{CloneFlags, setns};

use super::userns::{
    IdMappings, UsernsError, run_in_child, run_in_userns, wait_for_maps, write_id_maps,
};

/// Starts the holder; returns its PID (as this PID namespace sees it).
/// Its user and network namespaces are made at once, with its first
/// process, and handed to `connect` (as open fds) before that process's
/// ID maps are written: whatever configures the network namespace (its
/// pasta) starts while the setuid map helpers run. `connect`'s failure
/// is the start's; what it made is its caller's to undo when the start
/// fails later.
pub fn start_holder(
    maps: &IdMappings,
    connect: impl FnOnce(&OwnedFd, &OwnedFd) -> Result<(), String>,
) -> Result<i32, UsernsError> {
    let flags = CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNET;
    let work = || -> Result<i32, String> {
        let (ready_read, ready_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| format!("creating a pipe: {e}"))?;
        // SAFETY: this helper is single-threaded (a fresh fork); the
        // grandchild only makes syscalls and never returns.
        match unsafe { nix::unistd::fork() }.map_err(|e| format!("fork: {e}"))? {
            nix::unistd::ForkResult::Child => {
                drop(ready_read);
                let mut ready = File::from(ready_write);
                let _ = nix::unistd::setsid();
                // Named in `ps` as what it is, not as the skiff command
                // that happened to make it.
                let _ = nix::sys::prctl::set_name(c"skiff-netns");
                // Its network namespace is its parent's, made with it.
                // Loopback is left to the namespace's pasta
                // (`--config-net` brings it up before it reports ready):
                // a netlink request here waited up to 30 ms for the rtnl
                // lock while the kernel tore down the previous namespace.
                let _ = ready.write_all(b"1");
                drop(ready);
                // Nothing of the parent's stays open: the helper's report
                // pipe must reach end-of-file when the helper exits.
                // SAFETY: closes fds from 3 up; none is used below.
                unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
                if let Ok(null) = nix::fcntl::open(
                    "/dev/null",
                    nix::fcntl::OFlag::O_RDWR,
                    nix::sys::stat::Mode::empty(),
                ) {
                    for target in 0..=2 {
                        // SAFETY: dup2 onto the standard fds.
                        unsafe { libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), target) };
                    }
                }
                loop {
                    nix::unistd::pause();
                }
            }
            nix::unistd::ForkResult::Parent { child } => {
                drop(ready_write);
                let mut byte = [0u8; 1];
                let mut ready = File::from(ready_read);
                match ready.read(&mut byte) {
                    Ok(1) if byte[0] == b'1' => Ok(child.as_raw()),
                    _ => Err("the shared network namespace could not be made".into()),
                }
            }
        }
    };
    run_in_child(
        flags,
        wait_for_maps,
        |child, go| {
            let open = |kind: &str| {
                nix::fcntl::open(
                    format!("/proc/{child}/ns/{kind}").as_str(),
                    nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
                    nix::sys::stat::Mode::empty(),
                )
                .map_err(|e| UsernsError::Child(format!("opening its {kind} namespace: {e}")))
            };
            connect(&open("user")?, &open("net")?).map_err(UsernsError::Child)?;
            write_id_maps(child.as_raw(), &maps.uids, &maps.gids)?;
            go.write_all(b"G")
                .map_err(|e| UsernsError::Child(format!("signalling helper: {e}")))
        },
        work,
    )
}

/// Runs `work` in a helper that entered the holder's user and network
/// namespaces; what it returns comes back.
pub fn run_in_holder<T, E>(
    holder: i32,
    work: impl FnOnce() -> Result<T, E>,
) -> Result<T, UsernsError>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
    E: Into<super::userns::ChildFailure>,
{
    let open = |kind: &str| {
        File::open(format!("/proc/{holder}/ns/{kind}"))
            .map(OwnedFd::from)
            .map_err(|e| UsernsError::Child(format!("the shared network namespace is gone: {e}")))
    };
    let user = open("user")?;
    let net = open("net")?;
    run_in_userns(&user, move || -> Result<T, super::userns::ChildFailure> {
        setns(net.as_fd(), CloneFlags::CLONE_NEWNET).map_err(|e| {
            super::userns::ChildFailure::from(format!("entering the shared network namespace: {e}"))
        })?;
        work().map_err(Into::into)
    })
}
