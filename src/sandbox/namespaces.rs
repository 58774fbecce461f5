//! Namespace flags from the spec, and the one piece of network setup a
//! fresh network namespace needs: loopback up.

use nix::sched::CloneFlags;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use super::SetupError;

/// The clone flags for every namespace the spec asks to create.
pub fn clone_flags(spec: &Spec) -> CloneFlags {
    let mut flags = CloneFlags::empty();
    let namespaces = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    // An entry with a path is entered, not created (`setns.rs`).
    for ns in namespaces.iter().filter(|ns| ns.path().is_none()) {
        flags |= match ns.typ() {
            LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
            // Unshared by init once it is in its cgroup (`init::setup`): a
            // namespace made at clone time would be rooted at ours.
            LinuxNamespaceType::Cgroup => CloneFlags::empty(),
            LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
            LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
            LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
            LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
            LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
            LinuxNamespaceType::Time => CloneFlags::empty(),
        };
    }
    flags
}

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// clone3's CLONE_INTO_CGROUP (Linux 5.7), not in nix's flags.
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// clone3 with fork semantics (no new stack: the child continues here on a
/// copy of our memory) but with all namespaces created at once, so the
/// child is PID 1 of its PID namespace without a second fork.
pub fn clone_into_namespaces(flags: CloneFlags) -> nix::Result<Option<Pid>> {
    clone_into_namespaces_and_cgroup(flags, None)
}

/// Like `clone_into_namespaces`; with `cgroup` (an fd of a v2 cgroup's
/// directory) the child starts inside that cgroup. That spares moving it
/// there afterwards, which costs an RCU grace period per move.
pub fn clone_into_namespaces_and_cgroup(
    flags: CloneFlags,
    cgroup: Option<std::os::fd::BorrowedFd>,
) -> nix::Result<Option<Pid>> {
    use std::os::fd::AsRawFd;
    // With CLONE_PARENT the kernel takes the exit signal from the caller
    // (our parent's SIGCHLD) and refuses one given here.
    let exit_signal = if flags.contains(CloneFlags::CLONE_PARENT) {
        0
    } else {
        libc::SIGCHLD as u64
    };
    let mut args = CloneArgs {
        flags: flags.bits() as u64,
        exit_signal,
        ..Default::default()
    };
    if let Some(fd) = cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd.as_raw_fd() as u64;
    }
    // SAFETY: skiff is single-threaded on this path (no async runtime, no
    // helper threads), so the child may keep running Rust code; `args`
    // lives across the call and its size is passed.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match ret {
        -1 => Err(nix::Error::last()),
        0 => Ok(None),
        pid => Ok(Some(Pid::from_raw(pid as i32))),
    }
}

/// Brings `lo` up in the current (fresh) network namespace.
pub fn bring_loopback_up() -> Result<(), SetupError> {
    let fail = |what: &str| SetupError::Sys {
        what: what.to_string(),
        source: nix::Error::last(),
    };
    // SAFETY: plain socket(2) call; the fd is closed below.
    let sock = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if sock < 0 {
        return Err(fail("opening a socket to configure loopback"));
    }
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: `req` is a valid ifreq naming "lo"; the ioctls read and write
    // only its flags field.
    let result = unsafe {
        if libc::ioctl(sock, libc::SIOCGIFFLAGS, &mut req) < 0 {
            Err(fail("reading loopback flags"))
        } else {
            req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            if libc::ioctl(sock, libc::SIOCSIFFLAGS, &req) < 0 {
                Err(fail("bringing loopback up"))
            } else {
                Ok(())
            }
        }
    };
    // SAFETY: `sock` is our own open fd.
    unsafe { libc::close(sock) };
    result
}
