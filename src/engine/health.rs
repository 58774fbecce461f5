//! `skiff healthcheck run`: one probe of a container's healthcheck, run
//! as an exec in the container, recorded in its state. The monitor runs
//! this command on the healthcheck's interval; users may run it by hand.

use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant, SystemTime};

use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::pipe2;

use super::EngineError;
use super::launch::LaunchPlan;
use super::lookup::find_container;
use super::secrets::with_secret_env;
use crate::sandbox::cgroups::Cgroup;
use crate::sandbox::exec::{ExecRequest, exec_in_container};
use crate::state::{
    ContainerStatus, ContainerStore, HealthProbe, HealthState, HealthStatus, StorageDirs,
};
use crate::timestamp::{format_rfc3339_nanos, parse_rfc3339_time};

/// docker keeps this many probes and this much output of each.
const KEPT_PROBES: usize = 5;
const KEPT_OUTPUT: usize = 4096;

/// The command a healthcheck test runs.
fn test_command(test: &[String]) -> Result<Vec<String>, EngineError> {
    match test.split_first() {
        Some((kind, args)) if kind == "CMD" && !args.is_empty() => Ok(args.to_vec()),
        Some((kind, [line])) if kind == "CMD-SHELL" => {
            Ok(vec!["/bin/sh".into(), "-c".into(), line.clone()])
        }
        _ => Err(EngineError::Invalid(format!(
            "invalid healthcheck test {test:?}: expected [\"CMD\", …] or [\"CMD-SHELL\", command]"
        ))),
    }
}

/// Runs one probe, records it, and returns the resulting health.
pub fn run_healthcheck(dirs: &StorageDirs, name: &str) -> Result<HealthStatus, EngineError> {
    let store = ContainerStore::new(dirs);
    let record = find_container(&store, name)?;
    let Some(check) = record.config.healthcheck.clone() else {
        return Err(EngineError::Invalid(format!(
            "container {} has no defined healthcheck",
            record.short_id()
        )));
    };
    let pid = match (record.status(), record.state.pid) {
        (ContainerStatus::Running, Some(pid)) if pid.is_alive() => pid.pid,
        _ => {
            return Err(EngineError::Invalid(format!(
                "container {} is not running: container state improper",
                record.short_id()
            )));
        }
    };
    let plan = LaunchPlan::load(dirs, &record, &store.paths(&record.id))?;
    let mut process = plan.spec.process().clone().unwrap_or_default();
    process.set_args(Some(test_command(&check.test)?));
    let env = with_secret_env(dirs, &record, process.env().as_deref().unwrap_or_default())?;
    process.set_env(Some(env));
    process.set_terminal(Some(false));

    let start = SystemTime::now();
    let timeout = Duration::from_nanos(check.timeout_ns.max(1_000_000));
    let cgroup = record.state.cgroup_path.as_deref().and_then(Cgroup::open);
    let seccomp = plan.seccomp()?;
    let (exit_code, output) = probe(pid, cgroup.as_ref(), &process, timeout, seccomp.as_ref())?;
    let probe = HealthProbe {
        start: format_rfc3339_nanos(start),
        end: format_rfc3339_nanos(SystemTime::now()),
        exit_code,
        output,
    };

    let _lock = store.lock(&record.id)?;
    let mut record = store.load(&record.id)?;
    let in_start_period = record
        .state
        .started_at
        .as_deref()
        .and_then(parse_rfc3339_time)
        .and_then(|t| start.duration_since(t).ok())
        .is_some_and(|d| d < Duration::from_nanos(check.start_period_ns));
    let health = record.state.health.get_or_insert(HealthState {
        status: HealthStatus::Starting,
        failing_streak: 0,
        log: Vec::new(),
    });
    if exit_code == 0 {
        health.status = HealthStatus::Healthy;
        health.failing_streak = 0;
    } else if !in_start_period {
        health.failing_streak += 1;
        if health.failing_streak >= check.retries.max(1) {
            health.status = HealthStatus::Unhealthy;
        }
    }
    health.log.push(probe);
    let excess = health.log.len().saturating_sub(KEPT_PROBES);
    health.log.drain(..excess);
    let status = health.status;
    store.save(&record)?;
    Ok(status)
}

/// Runs the test with its output on a pipe; kills it at the timeout
/// (exit code -1, as docker records a timed-out probe).
fn probe(
    container_pid: i32,
    cgroup: Option<&Cgroup>,
    process: &oci_spec::runtime::Process,
    timeout: Duration,
    seccomp: Option<&crate::sandbox::seccomp::SeccompProgram>,
) -> Result<(i32, String), EngineError> {
    let (read_end, write_end) =
        pipe2(OFlag::O_CLOEXEC).map_err(EngineError::sys("creating a pipe"))?;
    // The exec'd process inherits our stdout and stderr: point both at
    // the pipe for the moment of the start, then put ours back.
    let saved: Vec<OwnedFd> = [std::io::stdout().as_fd(), std::io::stderr().as_fd()]
        .into_iter()
        .filter_map(|fd| nix::unistd::dup(fd).ok())
        .collect();
    for target in [1, 2] {
        // SAFETY: dup2 onto a standard fd; `write_end` stays valid.
        unsafe { libc::dup2(write_end.as_raw_fd(), target) };
    }
    let started = exec_in_container(&ExecRequest {
        container_pid,
        process,
        interactive: false,
        detach: false,
        winsize: None,
        cgroup,
        seccomp,
    });
    for (fd, target) in saved.iter().zip([1, 2]) {
        // SAFETY: restores our own stdout/stderr from the saved copies.
        unsafe { libc::dup2(fd.as_raw_fd(), target) };
    }
    drop(saved);
    drop(write_end);
    let started = match started {
        Ok(s) => s,
        Err(e) => return Ok((e.exit_code(), e.to_string())),
    };

    let deadline = Instant::now() + timeout;
    let mut output = Vec::new();
    let mut pipe = std::fs::File::from(read_end);
    let mut timed_out = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            timed_out = true;
            break;
        }
        let mut fds = [PollFd::new(pipe.as_fd(), PollFlags::POLLIN)];
        match poll(
            &mut fds,
            PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX),
        ) {
            Ok(0) | Err(nix::Error::EINTR) => continue,
            Err(_) => break,
            Ok(_) => {}
        }
        let mut chunk = [0u8; 4096];
        match pipe.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => output.extend_from_slice(&chunk[..n]),
        }
    }
    if timed_out {
        let _ = kill(started.pid, Signal::SIGKILL);
    }
    let code = loop {
        match waitpid(started.pid, None) {
            Ok(WaitStatus::Exited(_, code)) => break code,
            Ok(WaitStatus::Signaled(_, sig, _)) => break 128 + sig as i32,
            Err(nix::Error::EINTR) => continue,
            _ => break -1,
        }
    };
    output.truncate(KEPT_OUTPUT);
    let text = String::from_utf8_lossy(&output).into_owned();
    if timed_out {
        return Ok((-1, format!("Health check exceeded timeout ({timeout:?})")));
    }
    Ok((code, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tests_become_commands_like_docker() {
        let cmd = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            test_command(&cmd(&["CMD", "true"])).unwrap(),
            cmd(&["true"])
        );
        assert_eq!(
            test_command(&cmd(&["CMD-SHELL", "exit 1"])).unwrap(),
            cmd(&["/bin/sh", "-c", "exit 1"])
        );
        assert!(test_command(&cmd(&["NONE"])).is_err());
        assert!(test_command(&cmd(&["CMD"])).is_err());
    }
}
