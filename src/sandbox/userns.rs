//! User namespaces for rootless operation: which subordinate IDs the caller
//! owns, writing them as a child's ID maps, and running a piece of work
//! inside a user namespace (unpacking layers, removing files owned by
//! subordinate IDs).

use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::process::{Command, Stdio};

use nix::sched::{CloneFlags, setns};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;

use super::namespaces::clone_into_namespaces;

#[derive(Debug, thiserror::Error)]
pub enum UsernsError {
    #[error("writing ID maps with {tool}: {detail}")]
    MapTool { tool: &'static str, detail: String },
    #[error("writing ID maps for process {pid}: {source}")]
    MapFile { pid: i32, source: std::io::Error },
    #[error("creating a user namespace: {0}")]
    Namespace(nix::Error),
    /// Starting or hearing from a helper process went wrong.
    #[error("{0}")]
    Child(String),
    /// The helper's work failed; its own error, carried back.
    #[error(transparent)]
    Failed(ChildFailure),
}

impl UsernsError {
    /// docker's exit code for this failure: the one the helper's own
    /// error stood for, 125 when skiff failed around it.
    pub fn exit_code(&self) -> i32 {
        match self {
            UsernsError::Failed(failure) => failure.exit_code,
            _ => 125,
        }
    }
}

/// A helper process's failure as it crosses the pipe to its parent: the
/// error's text and the docker exit code (125/126/127) it maps to, so
/// neither is lost on the way.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ChildFailure {
    pub message: String,
    pub exit_code: i32,
}

/// A plain error text: skiff's own failure (exit code 125).
impl From<String> for ChildFailure {
    fn from(message: String) -> ChildFailure {
        ChildFailure {
            message,
            exit_code: 125,
        }
    }
}

/// One line of a uid_map/gid_map: `size` IDs from `container_id` in the
/// namespace are `host_id`… outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IdMapping {
    pub container_id: u32,
    pub host_id: u32,
    pub size: u32,
}

/// The caller's mappings: container root is the caller, container IDs
/// 1… are the caller's first subordinate range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdMappings {
    pub uids: Vec<IdMapping>,
    pub gids: Vec<IdMapping>,
    /// Set when skiff had to fall back to a single-ID mapping; says why.
    pub warning: Option<String>,
}

/// Finds `user`'s (by name or numeric ID) first range in a subuid/subgid
/// file's text.
pub fn subordinate_range(text: &str, name: &str, id: u32) -> Option<(u32, u32)> {
    let id = id.to_string();
    text.lines().find_map(|line| {
        let mut f = line.trim().split(':');
        let owner = f.next()?;
        let start = f.next()?.parse().ok()?;
        let count: u32 = f.next()?.parse().ok()?;
        ((owner == name || owner == id) && count > 0).then_some((start, count))
    })
}

fn mapping_for(id: u32, range: Option<(u32, u32)>) -> Vec<IdMapping> {
    let mut maps = vec![IdMapping {
        container_id: 0,
        host_id: id,
        size: 1,
    }];
    if let Some((start, count)) = range {
        maps.push(IdMapping {
            container_id: 1,
            host_id: start,
            size: count,
        });
    }
    maps
}

/// The caller's ID mappings from /etc/subuid and /etc/subgid, falling back
/// to a single-ID mapping (with a warning) when it has no ranges or the
/// setuid helpers are missing.
pub fn caller_mappings() -> IdMappings {
    let uid = nix::unistd::getuid().as_raw();
    let gid = nix::unistd::getgid().as_raw();
    let name = nix::unistd::User::from_uid(uid.into())
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_default();
    let read = |path: &str| fs::read_to_string(path).unwrap_or_default();
    let uid_range = subordinate_range(&read("/etc/subuid"), &name, uid);
    let gid_range = subordinate_range(&read("/etc/subgid"), &name, gid);
    let helpers = helper_path("newuidmap").is_some() && helper_path("newgidmap").is_some();
    let warning = match (uid_range, gid_range, helpers) {
        (Some(_), Some(_), true) => None,
        (_, _, false) => Some(
            "newuidmap/newgidmap not found (install the uidmap package): using a single-ID mapping, files owned by other users in images will appear owned by nobody".to_string(),
        ),
        _ => Some(format!(
            "no subordinate ID ranges for user \"{name}\" in /etc/subuid and /etc/subgid: using a single-ID mapping (see rootless.md)"
        )),
    };
    if warning.is_some() {
        return IdMappings {
            uids: mapping_for(uid, None),
            gids: mapping_for(gid, None),
            warning,
        };
    }
    IdMappings {
        uids: mapping_for(uid, uid_range),
        gids: mapping_for(gid, gid_range),
        warning: None,
    }
}

fn helper_path(tool: &str) -> Option<std::path::PathBuf> {
    ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]
        .iter()
        .map(|dir| std::path::Path::new(dir).join(tool))
        .find(|p| p.exists())
}

fn map_args(maps: &[IdMapping]) -> Vec<String> {
    maps.iter()
        .flat_map(|m| [m.container_id, m.host_id, m.size])
        .map(|n| n.to_string())
        .collect()
}

/// Writes `pid`'s uid and gid maps. Single-ID maps of the caller's own IDs
/// are written directly (no privilege needed); anything else goes through
/// the setuid helpers, which check /etc/subuid. Both helpers run at once.
pub fn write_id_maps(pid: i32, uids: &[IdMapping], gids: &[IdMapping]) -> Result<(), UsernsError> {
    start_id_maps(pid, uids, gids)?.wait()
}

/// ID maps being written: by the setuid helpers, still running, or
/// already (directly).
pub struct MapWriters(Vec<(&'static str, std::process::Child)>);

impl MapWriters {
    /// Nothing to wait for.
    pub fn none() -> MapWriters {
        MapWriters(Vec::new())
    }

    /// Waits for the helpers; the first failure is the error.
    pub fn wait(self) -> Result<(), UsernsError> {
        let mut result = Ok(());
        for (tool, child) in self.0 {
            let out = child.wait_with_output().map_err(|e| UsernsError::MapTool {
                tool,
                detail: e.to_string(),
            });
            let failed = match out {
                Ok(out) if out.status.success() => None,
                Ok(out) => Some(UsernsError::MapTool {
                    tool,
                    detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
                }),
                Err(e) => Some(e),
            };
            if let (Some(e), Ok(())) = (failed, &result) {
                result = Err(e);
            }
        }
        result
    }
}

/// `write_id_maps` without waiting for the setuid helpers.
pub fn start_id_maps(
    pid: i32,
    uids: &[IdMapping],
    gids: &[IdMapping],
) -> Result<MapWriters, UsernsError> {
    let own = |maps: &[IdMapping], id: u32| matches!(maps, [m] if m.host_id == id && m.size == 1);
    let root = nix::unistd::geteuid().is_root();
    if root {
        // Root may write any mapping itself (CAP_SETUID and CAP_SETGID
        // in the parent namespace); the helpers would want /etc/subuid
        // entries for root.
        let write = |file: &str, maps: &[IdMapping]| {
            let text: String = maps
                .iter()
                .map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size))
                .collect();
            fs::write(format!("/proc/{pid}/{file}"), text)
                .map_err(|source| UsernsError::MapFile { pid, source })
        };
        write("uid_map", uids)?;
        write("gid_map", gids)?;
        return Ok(MapWriters(Vec::new()));
    }
    if own(uids, nix::unistd::geteuid().as_raw()) && own(gids, nix::unistd::getegid().as_raw()) {
        let write = |file: &str, text: String| {
            fs::write(format!("/proc/{pid}/{file}"), text)
                .map_err(|source| UsernsError::MapFile { pid, source })
        };
        let line = |m: &IdMapping| format!("{} {} {}\n", m.container_id, m.host_id, m.size);
        write("uid_map", line(&uids[0]))?;
        write("setgroups", "deny".to_string())?;
        write("gid_map", line(&gids[0]))?;
        return Ok(MapWriters(Vec::new()));
    }
    let spawn = |tool: &'static str, maps: &[IdMapping]| {
        Command::new(tool)
            .arg(pid.to_string())
            .args(map_args(maps))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| UsernsError::MapTool {
                tool,
                detail: e.to_string(),
            })
    };
    let uid_child = spawn("newuidmap", uids)?;
    let writers = MapWriters(vec![("newuidmap", uid_child)]);
    match spawn("newgidmap", gids) {
        Ok(gid_child) => {
            let mut writers = writers;
            writers.0.push(("newgidmap", gid_child));
            Ok(writers)
        }
        Err(e) => {
            let _ = writers.wait();
            Err(e)
        }
    }
}

/// Runs `work` in a forked child and returns what it produced, or its
/// error with message and exit code. The child runs `enter` first
/// (joining or creating a namespace). The result crosses back as JSON of
/// `Result<T, ChildFailure>` over a pipe. We are single-threaded on every
/// path that calls this, so fork is safe.
pub(super) fn run_in_child<T, E>(
    namespaces: CloneFlags,
    enter: impl FnOnce(&OwnedFd) -> Result<(), String>,
    after_fork: impl FnOnce(Pid, &mut fs::File) -> Result<(), UsernsError>,
    work: impl FnOnce() -> Result<T, E>,
) -> Result<T, UsernsError>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
    E: Into<ChildFailure>,
{
    // Close-on-exec: a program the parent starts meanwhile (newuidmap, a
    // pasta that outlives it) must not hold an end, or the other end never
    // sees end-of-file.
    let cloexec = || nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC);
    let (report_read, report_write) = cloexec().map_err(UsernsError::Namespace)?;
    let (go_read, go_write) = cloexec().map_err(UsernsError::Namespace)?;
    let parent = nix::unistd::getpid();
    // The child is created inside any new namespaces (clone3), so the
    // parent can write its ID maps without racing an unshare.
    match clone_into_namespaces(namespaces).map_err(UsernsError::Namespace)? {
        None => {
            drop(report_read);
            drop(go_write);
            let mut report = fs::File::from(report_write);
            let result: Result<T, ChildFailure> = enter(&go_read)
                .and_then(|()| die_with_parent(parent))
                .map_err(ChildFailure::from)
                .and_then(|()| work().map_err(Into::into));
            let (code, encoded) = encode_report(&result);
            let _ = report.write_all(&encoded);
            // SAFETY: _exit skips atexit handlers and destructors of the
            // parent's state, which the child must not run twice.
            unsafe { libc::_exit(code) }
        }
        Some(child) => {
            drop(report_write);
            drop(go_read);
            let mut go = fs::File::from(go_write);
            let setup = after_fork(child, &mut go);
            drop(go);
            let mut report = Vec::new();
            let _ = fs::File::from(report_read).read_to_end(&mut report);
            let status = waitpid(child, None).map_err(UsernsError::Namespace)?;
            setup?;
            decode_report(status, &report)
        }
    }
}

/// The child's exit code and the report it writes for `result`. A value
/// that cannot be encoded is reported as the child's failure.
fn encode_report<T: serde::Serialize>(result: &Result<T, ChildFailure>) -> (i32, Vec<u8>) {
    let encoded = serde_json::to_vec(result).or_else(|e| {
        let failure = ChildFailure::from(format!("encoding the helper's result: {e}"));
        serde_json::to_vec(&Err::<(), _>(failure))
    });
    let code = match (result, &encoded) {
        (Ok(_), Ok(_)) => 0,
        _ => 1,
    };
    (code, encoded.unwrap_or_default())
}

/// What the child's `status` and `report` say: its value, its own
/// failure, or that it ended without a word (killed, say).
fn decode_report<T: serde::de::DeserializeOwned>(
    status: WaitStatus,
    report: &[u8],
) -> Result<T, UsernsError> {
    match (
        status,
        serde_json::from_slice::<Result<T, ChildFailure>>(report),
    ) {
        (WaitStatus::Exited(_, 0), Ok(Ok(value))) => Ok(value),
        (_, Ok(Err(failure))) if !failure.message.is_empty() => Err(UsernsError::Failed(failure)),
        (_, Err(e)) if !report.is_empty() => Err(UsernsError::Child(format!(
            "reading the helper's result: {e}"
        ))),
        (other, _) => Err(UsernsError::Child(format!(
            "helper process ended unexpectedly: {other:?}"
        ))),
    }
}

/// Makes the helper die with skiff: a SIGTERM to skiff (`timeout`,
/// systemd, a user's `kill`) must not leave it unpacking or copying on
/// its own. Set after `enter`, since joining a user namespace clears the
/// death signal; a parent already gone by then is caught by its PID.
fn die_with_parent(parent: Pid) -> Result<(), String> {
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
        .map_err(|e| format!("setting the parent-death signal: {e}"))?;
    if nix::unistd::getppid() != parent {
        return Err("skiff ended before its helper started".into());
    }
    Ok(())
}

/// The child's first step in a new user namespace: block until the
/// parent has written its ID maps (the parent closes the pipe when done,
/// successful or not; closed without the go byte means it failed).
pub(super) fn wait_for_maps(go: &OwnedFd) -> Result<(), String> {
    let mut byte = [0u8; 1];
    let n = nix::unistd::read(go.as_fd(), &mut byte).unwrap_or(0);
    if n == 0 {
        return Err(String::new());
    }
    Ok(())
}

/// Runs `work` as root of a fresh user namespace mapped with `maps`, so
/// files it creates get the mapped owners on disk (rootless layer unpack).
/// What it returns comes back to the caller.
pub fn run_in_new_userns<T, E>(
    maps: &IdMappings,
    work: impl FnOnce() -> Result<T, E>,
) -> Result<T, UsernsError>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
    E: Into<ChildFailure>,
{
    run_in_child(
        CloneFlags::CLONE_NEWUSER,
        wait_for_maps,
        |child, go| {
            write_id_maps(child.as_raw(), &maps.uids, &maps.gids)?;
            go.write_all(b"G")
                .map_err(|e| UsernsError::Child(format!("signalling helper: {e}")))
        },
        work,
    )
}

/// A fresh user namespace mapped with `maps`, held open by the returned
/// fd after its first (short-lived) member has exited: later helpers
/// join it with `run_in_userns`, a fork and a setns, instead of paying
/// `newuidmap`/`newgidmap` again (two setuid execs) for each piece of
/// work. The fd is close-on-exec.
pub fn hold_new_userns(maps: &IdMappings) -> Result<OwnedFd, UsernsError> {
    let mut held = None;
    run_in_child(
        CloneFlags::CLONE_NEWUSER,
        wait_for_maps,
        |child, go| {
            write_id_maps(child.as_raw(), &maps.uids, &maps.gids)?;
            let path = format!("/proc/{child}/ns/user");
            let fd = nix::fcntl::open(
                path.as_str(),
                nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .map_err(|e| UsernsError::Child(format!("opening {path}: {e}")))?;
            held = Some(fd);
            go.write_all(b"G")
                .map_err(|e| UsernsError::Child(format!("signalling helper: {e}")))
        },
        || Ok::<(), ChildFailure>(()),
    )?;
    held.ok_or_else(|| UsernsError::Child("the user namespace was not opened".into()))
}

/// Runs `work` inside an existing user namespace (held open by `userns`).
/// Used to remove a container's files, owned by subordinate IDs, after the
/// container has exited.
pub fn run_in_userns<T, E>(
    userns: &OwnedFd,
    work: impl FnOnce() -> Result<T, E>,
) -> Result<T, UsernsError>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
    E: Into<ChildFailure>,
{
    run_in_child(
        CloneFlags::empty(),
        |_| {
            setns(userns, CloneFlags::CLONE_NEWUSER)
                .map_err(|e| format!("joining user namespace: {e}"))
        },
        |_, _| Ok(()),
        work,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_match_by_name_or_uid() {
        let text = "alice:100000:65536\n1001:200000:1000\nbad line\n";
        assert_eq!(
            subordinate_range(text, "alice", 1000),
            Some((100000, 65536))
        );
        assert_eq!(subordinate_range(text, "bob", 1001), Some((200000, 1000)));
        assert_eq!(subordinate_range(text, "carol", 1002), None);
    }

    #[test]
    fn reports_carry_values_and_failures_with_their_exit_codes() {
        let child = Pid::from_raw(42);
        let (code, report) = encode_report(&Ok::<_, ChildFailure>(vec!["a".to_string()]));
        assert_eq!(code, 0);
        let value: Vec<String> = decode_report(WaitStatus::Exited(child, code), &report).unwrap();
        assert_eq!(value, ["a"]);

        let failure = ChildFailure {
            message: "no such command".into(),
            exit_code: 127,
        };
        let (code, report) = encode_report(&Err::<(), _>(failure.clone()));
        assert_eq!(code, 1);
        let error = decode_report::<()>(WaitStatus::Exited(child, code), &report).unwrap_err();
        assert_eq!(error.exit_code(), 127);
        assert_eq!(error.to_string(), "no such command");

        // Killed before it could write: neither a value nor its failure.
        let killed = WaitStatus::Signaled(child, nix::sys::signal::Signal::SIGKILL, false);
        let error = decode_report::<()>(killed, b"").unwrap_err();
        assert!(error.to_string().contains("ended unexpectedly"), "{error}");
        assert_eq!(error.exit_code(), 125);
    }

    #[test]
    fn mapping_puts_caller_at_zero_and_range_above() {
        let maps = mapping_for(1000, Some((100000, 65536)));
        assert_eq!(
            map_args(&maps),
            ["0", "1000", "1", "1", "100000", "65536"].map(String::from)
        );
        assert_eq!(mapping_for(1000, None).len(), 1);
    }
}
