//! Rootless networking through pasta (Debian `passt`): one pasta process
//! per container run, attached to the container's network namespace, with
//! `--config-net` (it gives the namespace the host's address and routes)
//! and `-t`/`-u` for published ports. pasta forks into the background once
//! the namespace is configured, so "ready" is "the process we started has
//! exited with 0"; the background process's PID is in its `-P` file.

use std::fs;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::NetError;
use super::ports::{PortMapping, Protocol};

/// How long pasta may take to configure a namespace (it takes ~20-60 ms).
const READY_DEADLINE: Duration = Duration::from_secs(30);

/// pasta's port spec for one protocol: `8080:80,127.0.0.1/8081:81`, or
/// `none` (pasta's default, `auto`, would forward whatever the container
/// binds: more than was published).
pub fn port_spec(ports: &[PortMapping], protocol: Protocol) -> String {
    let specs: Vec<String> = ports
        .iter()
        .filter(|p| p.protocol == protocol)
        .map(|p| match p.host_ip {
            Some(ip) if ip != Ipv4Addr::UNSPECIFIED => {
                format!("{ip}/{}:{}", p.host_port, p.container_port)
            }
            _ => format!("{}:{}", p.host_port, p.container_port),
        })
        .collect();
    if specs.is_empty() {
        "none".into()
    } else {
        specs.join(",")
    }
}

/// The arguments skiff gives pasta for the namespace of `pid`.
pub fn arguments(pid: i32, ports: &[PortMapping], pid_file: &Path) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "--config-net".into(),
        "--quiet".into(),
        // The container reaches the host's loopback only through
        // published ports, not through the gateway address.
        "--no-map-gw".into(),
        "--pid".into(),
        pid_file.display().to_string(),
        "-t".into(),
        port_spec(ports, Protocol::Tcp),
        "-u".into(),
        port_spec(ports, Protocol::Udp),
        "-T".into(),
        "none".into(),
        "-U".into(),
        "none".into(),
    ];
    args.push(pid.to_string());
    args
}

/// A pasta that was started and is configuring the namespace.
/// Dropped before `wait_ready` succeeded (a start failing meanwhile), it
/// ends that pasta: a forwarder would otherwise keep its host ports.
pub struct PastaStart {
    child: Child,
    pid_file: PathBuf,
    log_file: PathBuf,
    /// `wait_ready` handed the pasta over to the caller.
    handed_over: bool,
}

impl Drop for PastaStart {
    fn drop(&mut self) {
        if self.handed_over {
            return;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Once the first process is gone its pid file is complete: it
        // names the pasta it forked into the background, if it got there.
        if let Some(pid) = fs::read_to_string(&self.pid_file)
            .ok()
            .and_then(|t| t.trim().parse::<i32>().ok())
            .filter(|pid| *pid > 0)
        {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// Starts pasta for the namespaces of `pid`; does not wait for it.
/// `run_dir` holds its PID file and its messages.
///
/// pasta gets the namespaces open (`/proc/self/fd/N`) rather than the
/// PID: it opens them only once running, and by then the container may
/// have become a user pasta may not look at (`--userns keep-id` or
/// `auto` make its root a subordinate ID), while skiff can open them now,
/// before the container goes on.
pub fn spawn(pid: i32, ports: &[PortMapping], run_dir: &Path) -> Result<PastaStart, NetError> {
    let open = |kind: &str| {
        fs::File::open(format!("/proc/{pid}/ns/{kind}"))
            .map(std::os::fd::OwnedFd::from)
            .map_err(|e| NetError::Pasta(format!("opening the container's {kind} namespace: {e}")))
    };
    let (user, net) = (open("user")?, open("net")?);
    let pid_file = run_dir.join("pasta.pid");
    let args = arguments_for_fds(ports, &pid_file, user.as_fd(), net.as_fd());
    spawn_inheriting(args, pid_file, run_dir, &[user, net])
}

/// `arguments` with the namespaces given as fds this process holds open
/// (and passes on to pasta) instead of a PID.
pub(super) fn arguments_for_fds(
    ports: &[PortMapping],
    pid_file: &Path,
    userns: BorrowedFd,
    netns: BorrowedFd,
) -> Vec<String> {
    let mut args = arguments(0, ports, pid_file);
    args.pop(); // no PID: the namespaces below instead
    for (flag, fd) in [("--userns", userns), ("--netns", netns)] {
        args.push(flag.into());
        args.push(format!("/proc/self/fd/{}", fd.as_raw_fd()));
    }
    // A path would make pasta watch its directory to quit with it.
    args.push("--no-netns-quit".into());
    args
}

/// The arguments of a pasta that only forwards `ports` into the shared
/// rootless network namespace held by `holder` (whose own pasta gives it
/// its address): each host port to the same port on that namespace's
/// loopback, where its DNAT rule leads on to the container. Its tap
/// interface stays unconfigured; connections from the host's loopback
/// are spliced socket to socket.
pub fn forwarder_arguments(
    holder: i32,
    ports: &[PortMapping],
    pid_file: &Path,
    tap: &str,
) -> Vec<String> {
    let same_port: Vec<PortMapping> = ports
        .iter()
        .map(|p| PortMapping {
            container_port: p.host_port,
            ..*p
        })
        .collect();
    vec![
        "--quiet".into(),
        "--no-map-gw".into(),
        "--pid".into(),
        pid_file.display().to_string(),
        "-I".into(),
        tap.into(),
        "-t".into(),
        port_spec(&same_port, Protocol::Tcp),
        "-u".into(),
        port_spec(&same_port, Protocol::Udp),
        "-T".into(),
        "none".into(),
        "-U".into(),
        "none".into(),
        "--userns".into(),
        format!("/proc/{holder}/ns/user"),
        "--netns".into(),
        format!("/proc/{holder}/ns/net"),
    ]
}

/// Starts a forwarding-only pasta (`forwarder_arguments`).
pub fn spawn_forwarder(
    holder: i32,
    ports: &[PortMapping],
    run_dir: &Path,
    tap: &str,
) -> Result<PastaStart, NetError> {
    let pid_file = run_dir.join("pasta.pid");
    spawn_with(
        forwarder_arguments(holder, ports, &pid_file, tap),
        pid_file,
        run_dir,
    )
}

fn spawn_with(
    args: Vec<String>,
    pid_file: PathBuf,
    run_dir: &Path,
) -> Result<PastaStart, NetError> {
    spawn_inheriting(args, pid_file, run_dir, &[])
}

/// In a child about to exec pasta: every fd from 3 up is closed on exec
/// but `fds`, which pasta inherits. pasta (this version) closes nothing
/// it inherits, and it may outlive skiff: a pipe end of skiff's or of its
/// caller's kept open there would keep the other end waiting. Only
/// syscalls: it runs between fork and exec.
pub(super) fn pass_only(fds: &[i32]) -> std::io::Result<()> {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets flags.
    let marked = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if marked < 0 {
        return Err(std::io::Error::last_os_error());
    }
    for &fd in fds {
        // SAFETY: fcntl on an fd number; clears its close-on-exec flag.
        if unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// `pasta ARGS…` with no input or output and its messages into `log`.
pub(super) fn pasta_command(args: Vec<String>, log: fs::File) -> Command {
    let mut command = Command::new("pasta");
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    command
}

/// Starts pasta with `inherited` open in it under the same numbers.
fn spawn_inheriting(
    args: Vec<String>,
    pid_file: PathBuf,
    run_dir: &Path,
    inherited: &[std::os::fd::OwnedFd],
) -> Result<PastaStart, NetError> {
    use std::os::unix::process::CommandExt;
    let log_file = run_dir.join("pasta.log");
    let log = fs::File::create(&log_file)
        .map_err(|e| NetError::Pasta(format!("creating {}: {e}", log_file.display())))?;
    // A previous run's file must not name a PID for `Drop` to kill.
    let _ = fs::remove_file(&pid_file);
    let raw: Vec<i32> = inherited.iter().map(|fd| fd.as_raw_fd()).collect();
    let mut command = pasta_command(args, log);
    // SAFETY: runs in the forked child before exec and makes only
    // syscalls (async-signal-safe); `raw` is read, not freed.
    unsafe {
        command.pre_exec(move || pass_only(&raw));
    }
    let child = command
        .spawn()
        .map_err(|e| NetError::Pasta(format!("starting pasta: {e}")))?;
    Ok(PastaStart {
        child,
        pid_file,
        log_file,
        handed_over: false,
    })
}

impl PastaStart {
    /// Waits until pasta has configured the namespace; returns the PID of
    /// the pasta that stays (the run's to end).
    pub fn wait_ready(mut self) -> Result<i32, NetError> {
        if !exited_within(self.child.id(), READY_DEADLINE) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            return Err(NetError::Pasta(format!(
                "pasta did not configure the network within {} s",
                READY_DEADLINE.as_secs()
            )));
        }
        let status = self
            .child
            .wait()
            .map_err(|e| NetError::Pasta(format!("waiting for pasta: {e}")))?;
        if !status.success() {
            let text = fs::read_to_string(&self.log_file).unwrap_or_default();
            let text: Vec<&str> = text
                .lines()
                .filter(|l| !l.starts_with("Failed to send") && !l.trim().is_empty())
                .collect();
            return Err(NetError::Pasta(format!(
                "pasta failed ({status}): {}",
                text.join("; ")
            )));
        }
        let text = fs::read_to_string(&self.pid_file)
            .map_err(|e| NetError::Pasta(format!("reading {}: {e}", self.pid_file.display())))?;
        let pid = text
            .trim()
            .parse()
            .map_err(|_| NetError::Pasta(format!("{}: not a PID", self.pid_file.display())))?;
        self.handed_over = true;
        Ok(pid)
    }
}

/// Whether the child `pid` exits within `limit` (its pidfd becomes
/// readable); it is not reaped.
fn exited_within(pid: u32, limit: Duration) -> bool {
    use std::os::fd::{FromRawFd, OwnedFd};
    // SAFETY: pidfd_open takes a PID and flags and returns a new fd or -1.
    let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if raw < 0 {
        return true; // no pidfd: the blocking wait that follows decides
    }
    // SAFETY: a fresh fd that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw as i32) };
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let timeout = nix::poll::PollTimeout::try_from(left.as_millis().min(60_000) as i32)
            .unwrap_or(nix::poll::PollTimeout::MAX);
        let mut fds = [nix::poll::PollFd::new(
            std::os::fd::AsFd::as_fd(&fd),
            nix::poll::PollFlags::POLLIN,
        )];
        match nix::poll::poll(&mut fds, timeout) {
            Ok(n) if n > 0 => return true,
            Ok(_) if Instant::now() >= deadline => return false,
            Ok(_) | Err(nix::Error::EINTR) => continue,
            Err(_) => return true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::ports::parse_publish;

    #[test]
    fn ports_become_pasta_specs() {
        let mut ports = parse_publish("8080:80").unwrap();
        ports.extend(parse_publish("127.0.0.1:8081:81").unwrap());
        ports.extend(parse_publish("5353:53/udp").unwrap());
        assert_eq!(
            port_spec(&ports, Protocol::Tcp),
            "8080:80,127.0.0.1/8081:81"
        );
        assert_eq!(port_spec(&ports, Protocol::Udp), "5353:53");
        assert_eq!(port_spec(&[], Protocol::Tcp), "none");
        let args = arguments(42, &[], Path::new("/r/pasta.pid"));
        assert_eq!(args.last().unwrap(), "42");
        assert!(args.windows(2).any(|w| w == ["-t", "none"]));
    }
}
