//! The container's init: what the cloned child does, in order, between
//! clone and exec. Each step says why it sits where it does.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use nix::fcntl::{OFlag, open};
use nix::pty::{Winsize, grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal, signal, sigprocmask};
use nix::sys::stat::Mode;
use nix::unistd::dup2_stdin;
use oci_spec::runtime::Spec;

use super::SetupError;
use super::last_steps::{LastSteps, exec_process, prepare_process, report_failure};
use super::message::{Channel, Message};
use super::namespaces::bring_loopback_up;
use super::reroot::{become_namespace_root, needs_namespace_root};
use super::rootfs::{
    RootfsLayers, bind_devices, mask_paths, mount_layers, mount_one, pivot_into, read_only_paths,
    remount_read_only,
};

/// What init needs; built by the parent before clone so the child only
/// reads memory it already has.
pub struct InitContext<'a> {
    pub spec: &'a Spec,
    pub layers: &'a RootfsLayers,
    pub interactive: bool,
    pub winsize: Option<Winsize>,
    pub private_network: bool,
    /// `--init`: PID 1 stays a minimal init (this process) that runs the
    /// command as its child, reaps orphans and forwards signals.
    pub init_process: bool,
    /// The container's cgroup: init starts in it (v2) or the parent moves
    /// it there before releasing it (v1), so everything it runs is inside.
    pub cgroup: Option<&'a super::cgroups::Cgroup>,
    /// The compiled seccomp filter (compiled or read from the cache by
    /// the parent, before clone); `None` for none.
    pub seccomp: Option<&'a super::seccomp::SeccompProgram>,
    /// The parent sets the network up while init does its own setup
    /// (pasta configuring the namespace): init waits for
    /// `Message::NetworkReady` before the command runs, so a command that
    /// uses the network at once finds it up.
    pub wait_for_network: bool,
}

const EXIT_SETUP_FAILED: u8 = 125;

/// Runs in the cloned child; never returns.
pub fn container_init(ctx: &InitContext, chan: Channel) -> ! {
    if let Err(e) = setup(ctx, &chan) {
        report_failure(&chan, EXIT_SETUP_FAILED, e.to_string());
    }
    let chan = if ctx.init_process {
        start_under_init(chan)
    } else {
        chan
    };
    let process = ctx.spec.process().as_ref().expect("spec has a process");
    exec_process(process, &chan)
}

/// Forks the command's process; this process stays PID 1 as its init.
/// Returns (in the child) the channel to report an exec failure on.
fn start_under_init(chan: Channel) -> Channel {
    // SAFETY: the container's init is single-threaded.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => chan,
        Ok(nix::unistd::ForkResult::Parent { child }) => {
            // The child's copy of the channel closes on exec: that EOF is
            // what tells skiff the command runs.
            drop(chan);
            super::mini_init::supervise(child)
        }
        Err(e) => report_failure(
            &chan,
            EXIT_SETUP_FAILED,
            format!("forking the command under --init: {e}"),
        ),
    }
}

fn setup(ctx: &InitContext, chan: &Channel) -> Result<(), SetupError> {
    let spec = ctx.spec;
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| SetupError::Message("spec has no process".into()))?;
    let linux = spec
        .linux()
        .as_ref()
        .ok_or_else(|| SetupError::Message("spec has no linux section".into()))?;

    // 1. Wait for the parent to write our ID maps: until then we have no
    //    identity in our user namespace and every file we create would be
    //    owned by the overflow ID.
    match chan.recv() {
        Ok(Some((Message::Go, _))) => {}
        _ => {
            return Err(SetupError::Message(
                "the parent did not finish the user namespace setup".into(),
            ));
        }
    }

    // 1a. A mapping of the container's own (keep-id, nomap, auto,
    //     --uidmap) leaves our IDs mapped elsewhere or nowhere: become the
    //     namespace's root, host paths opened first (`reroot.rs`). The
    //     default mapping has us at 0 already.
    let rerooted = if nix::unistd::getuid().as_raw() != 0 && needs_namespace_root(linux) {
        Some(become_namespace_root(spec, ctx.layers)?)
    } else {
        None
    };
    let (spec, layers) = match &rerooted {
        Some(r) => (&r.spec, &r.layers),
        None => (spec, ctx.layers),
    };

    // 1b. The parent has put us in the container's cgroup by now (or we
    //     were born there): a cgroup namespace made here is rooted at it.
    let wants_cgroupns = linux
        .namespaces()
        .iter()
        .flatten()
        .any(|ns| ns.typ() == oci_spec::runtime::LinuxNamespaceType::Cgroup);
    if wants_cgroupns {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP).map_err(|source| {
            SetupError::Sys {
                what: "creating the cgroup namespace".into(),
                source,
            }
        })?;
    }

    // 2. Own session: the container is not in skiff's process group (a
    //    terminal's Ctrl-C would otherwise hit it twice) and can take a
    //    controlling terminal.
    nix::unistd::setsid().map_err(|source| SetupError::Sys {
        what: "setsid".into(),
        source,
    })?;

    // 3. Loopback up while we still hold CAP_NET_ADMIN.
    if ctx.private_network {
        bring_loopback_up()?;
    }

    // 4. Nothing we mount from here may propagate back to the host.
    nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|source| SetupError::Sys {
        what: "making mounts private".into(),
        source,
    })?;

    // 5. The layered root, then the spec's mounts on top of it, in order
    //    (/proc, /dev, /dev/pts, …, /etc files, volumes).
    let rootfs = spec
        .root()
        .as_ref()
        .map(|r| r.path().clone())
        .ok_or_else(|| SetupError::Message("spec has no root".into()))?;
    mount_layers(layers, &rootfs, &mut |text| {
        let _ = chan.send(&Message::Warning(text));
    })?;
    for m in spec.mounts().iter().flatten() {
        mount_one(&rootfs, m)?;
    }
    // 6. Device nodes need the /dev tmpfs mounted in step 5.
    bind_devices(&rootfs, linux.devices().as_deref().unwrap_or_default())?;

    // 6b. `--read-only`: the root mount itself becomes read-only only now,
    //     after every mount point, /etc file and device node was created
    //     in it, and before pivot_root, while its path is known. The mounts
    //     on top (volumes, tmpfs, /dev, /proc) are mounts of their own and
    //     keep their modes: the remount is not recursive.
    if spec.root().as_ref().and_then(|r| r.readonly()) == Some(true) {
        remount_read_only(&rootfs, nix::mount::MsFlags::empty())?;
    }

    // 7. Switch roots. Masking comes after, so it covers the container's
    //    own /proc and /sys rather than paths on the host.
    pivot_into(&rootfs)?;
    // 7b. Sysctls through the container's own /proc, before /proc/sys is
    //     made read-only below; the namespaces they belong to exist.
    if let Some(sysctls) = linux.sysctl().as_ref().filter(|s| !s.is_empty()) {
        super::limits::write_sysctls(sysctls)?;
    }
    mask_paths(linux.masked_paths().as_deref().unwrap_or_default())?;
    read_only_paths(linux.readonly_paths().as_deref().unwrap_or_default())?;

    // Only in a UTS namespace of its own: without one this would rename
    // the host (`--uts host`) or another container (`--uts container:X`).
    let own_uts =
        linux.namespaces().iter().flatten().any(|ns| {
            ns.typ() == oci_spec::runtime::LinuxNamespaceType::Uts && ns.path().is_none()
        });
    if let Some(hostname) = spec.hostname().as_ref().filter(|_| own_uts) {
        nix::unistd::sethostname(hostname).map_err(|source| SetupError::Sys {
            what: "setting the hostname".into(),
            source,
        })?;
    }

    // 8. Standard streams. The terminal is opened on the container's own
    //    devpts (after pivot_root), so `tty` inside names /dev/pts/0.
    if process.terminal() == Some(true) {
        attach_terminal(chan, ctx.winsize, process.user().uid())?;
    } else if !ctx.interactive {
        let null = open(
            "/dev/null",
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|source| SetupError::Sys {
            what: "opening /dev/null".into(),
            source,
        })?;
        dup2_stdin(&null).map_err(|source| SetupError::Sys {
            what: "redirecting stdin".into(),
            source,
        })?;
    }

    // 8b. The network the parent configures in parallel (pasta) must be
    //     up before the command runs; everything above did not need it.
    if ctx.wait_for_network {
        match chan.recv_before(std::time::Instant::now() + super::process::SETUP_DEADLINE) {
            Ok(Some((Message::NetworkReady, _))) => {}
            _ => {
                return Err(SetupError::Message(
                    "the parent did not finish the network setup".into(),
                ));
            }
        }
    }

    // 9. The last steps, shared with `exec`: working directory (created
    //    as container root), rlimits and umask, identity and privileges, the parent-death
    //    signal, default signal dispositions, no inherited fds.
    prepare_process(
        process,
        &LastSteps {
            create_workdir: true,
            die_with_parent: true,
            seccomp: ctx.seccomp,
        },
    )
}

pub(super) fn attach_terminal(
    chan: &Channel,
    winsize: Option<Winsize>,
    uid: u32,
) -> Result<(), SetupError> {
    let sys = |what: &str| {
        let what = what.to_string();
        move |source| SetupError::Sys { what, source }
    };
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .map_err(sys("opening /dev/ptmx"))?;
    grantpt(&master).map_err(sys("grantpt"))?;
    unlockpt(&master).map_err(sys("unlockpt"))?;
    let slave_name = ptsname_r(&master).map_err(sys("ptsname"))?;
    let slave: OwnedFd = open(
        Path::new(&slave_name),
        OFlag::O_RDWR | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(sys("opening the terminal"))?;
    // The process may run as another user; it must be able to reopen its
    // own terminal (/dev/tty, `tty`).
    let _ = nix::unistd::fchown(&slave, Some(uid.into()), None);
    // SAFETY: TIOCSCTTY takes an int argument; we are a session leader
    // without a controlling terminal (setsid above).
    if unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) } < 0 {
        return Err(sys("making the terminal controlling")(nix::Error::last()));
    }
    if let Some(ws) = winsize {
        // SAFETY: TIOCSWINSZ reads a winsize struct we own.
        unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    }
    chan.send_with_fd(&Message::PtyMaster, Some(master.as_raw_fd()))
        .map_err(sys("handing the terminal to skiff"))?;
    drop(master);
    for target in 0..=2 {
        // SAFETY: dup2 onto the standard fds; `slave` stays valid.
        if unsafe { libc::dup2(slave.as_raw_fd(), target) } < 0 {
            return Err(sys("attaching the terminal")(nix::Error::last()));
        }
    }
    Ok(())
}

pub(super) fn reset_signals() {
    for sig in Signal::iterator() {
        if sig == Signal::SIGKILL || sig == Signal::SIGSTOP {
            continue;
        }
        // SAFETY: installing SIG_DFL has no handler code to be unsafe.
        let _ = unsafe { signal(sig, SigHandler::SigDfl) };
    }
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
}

/// Marks every fd from 3 upwards close-on-exec, so nothing the caller
/// happened to leave open (a pipe, a socket) survives the next exec.
pub fn close_inherited_fds() {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets flags on fds
    // from 3 upwards; it cannot invalidate memory.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        );
    }
}
