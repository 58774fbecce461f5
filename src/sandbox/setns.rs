//! Entering existing namespaces: `exec` enters all of a running
//! container's, a container started with `--pid/--ipc/--uts/--network/
//! --userns container:X` enters some of X's before its init is cloned.
//! Both go through one helper: a forked child joins (setns), then clones
//! the process with `CLONE_PARENT`, so it is skiff's own child (skiff can
//! wait for it) and, created after joining the PID namespace, lives inside
//! it (setns(CLONE_NEWPID) only affects children).

use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::Path;

use nix::fcntl::{OFlag, open};
use nix::sched::{CloneFlags, setns};
use nix::sys::stat::Mode;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use super::SandboxError;
use super::enter::same_namespace;
use super::last_steps::report_failure;
use super::message::{Channel, Message};
use super::namespaces::clone_into_namespaces_and_cgroup;

/// Namespaces in the order they are joined: user first (it grants the
/// rights for the rest), mount last (the others are opened by /proc path,
/// which the container's mount namespace would hide).
const NAMESPACES: [(&str, CloneFlags); 7] = [
    ("user", CloneFlags::CLONE_NEWUSER),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("pid", CloneFlags::CLONE_NEWPID),
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
    ("mnt", CloneFlags::CLONE_NEWNS),
];

/// Open namespace files, in the order they are to be joined.
pub type NamespaceFds = Vec<(OwnedFd, CloneFlags)>;

fn open_namespace(path: &Path) -> Result<OwnedFd, SandboxError> {
    open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| SandboxError::Setup(format!("opening {}: {e}", path.display())))
}

/// Whether the namespace file at `path` is our own namespace of `name`.
fn is_own(path: &Path, name: &str) -> bool {
    use std::os::unix::fs::MetadataExt;
    let ours = std::fs::metadata(format!("/proc/self/ns/{name}"));
    let theirs = std::fs::metadata(path);
    matches!((ours, theirs), (Ok(a), Ok(b)) if a.ino() == b.ino() && a.dev() == b.dev())
}

/// Every namespace of process `pid` that is not already ours (`exec`).
pub fn open_all_namespaces(pid: i32) -> Result<NamespaceFds, SandboxError> {
    let mut fds = Vec::new();
    for (name, flag) in NAMESPACES {
        // Joining the namespace we are in is refused for user namespaces
        // and pointless for the rest (e.g. `--network host`).
        if same_namespace(pid, name) {
            continue;
        }
        fds.push((
            open_namespace(Path::new(&format!("/proc/{pid}/ns/{name}")))?,
            flag,
        ));
    }
    Ok(fds)
}

/// The namespaces `spec` enters rather than creates (entries with a
/// `path`), opened in joining order. Empty for a container with only its
/// own namespaces: the common start clones directly.
pub fn open_spec_namespaces(spec: &Spec) -> Result<NamespaceFds, SandboxError> {
    let entries = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .map(|n| {
            n.iter()
                .filter(|ns| ns.path().is_some())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let mut fds = Vec::new();
    for (name, flag) in NAMESPACES {
        let typ = match name {
            "user" => LinuxNamespaceType::User,
            "ipc" => LinuxNamespaceType::Ipc,
            "uts" => LinuxNamespaceType::Uts,
            "net" => LinuxNamespaceType::Network,
            "pid" => LinuxNamespaceType::Pid,
            "cgroup" => LinuxNamespaceType::Cgroup,
            _ => LinuxNamespaceType::Mount,
        };
        let Some(path) = entries
            .iter()
            .find(|ns| ns.typ() == typ)
            .and_then(|ns| ns.path().as_deref())
        else {
            continue;
        };
        // A root container's `--userns container:X`: X has no user
        // namespace of its own, so there is nothing to enter.
        if is_own(path, name) {
            continue;
        }
        fds.push((open_namespace(path)?, flag));
    }
    Ok(fds)
}

/// Forks a helper that runs `prepare`, joins `namespaces` in order, and
/// clones (with `CLONE_PARENT`, `flags` and, when given, into `cgroup`)
/// the process that runs `child`. The helper sends `Started { pid }` on
/// `chan` and exits; a failure is sent as `Failed`. `child` never
/// returns (it execs or exits). Returns the helper's
/// PID, for the caller to reap.
pub fn spawn_in_namespaces(
    namespaces: &NamespaceFds,
    flags: CloneFlags,
    cgroup: Option<BorrowedFd>,
    chan: Channel,
    prepare: impl FnOnce(&Channel),
    child: impl FnOnce(Channel),
) -> Result<Pid, SandboxError> {
    let helper = clone_into_namespaces_and_cgroup(CloneFlags::empty(), None)
        .map_err(SandboxError::sys("forking the namespace helper"))?;
    if let Some(helper) = helper {
        return Ok(helper);
    }
    prepare(&chan);
    for (fd, flag) in namespaces {
        if let Err(e) = setns(fd, *flag) {
            let name = NAMESPACES
                .iter()
                .find(|(_, f)| f == flag)
                .map(|(n, _)| *n)
                .unwrap_or("a");
            report_failure(&chan, 125, format!("joining the {name} namespace: {e}"));
        }
    }
    match clone_into_namespaces_and_cgroup(flags | CloneFlags::CLONE_PARENT, cgroup) {
        Ok(None) => {
            child(chan);
            // SAFETY: as below; `child` execs or exits, this is a guard.
            unsafe { libc::_exit(125) }
        }
        Ok(Some(pid)) => {
            let _ = chan.send(&Message::Started { pid: pid.as_raw() });
            // SAFETY: leave the forked helper without running the
            // parent's destructors or atexit handlers.
            unsafe { libc::_exit(0) }
        }
        Err(e) => report_failure(&chan, 125, format!("starting the process: {e}")),
    }
}
