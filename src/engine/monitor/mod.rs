//! A detached container's monitor: the container's parent for its whole
//! life. It starts the container, writes its output to the log, serves the
//! attach socket, runs healthchecks, records every exit, applies the
//! restart policy and cleans up. One single-threaded poll loop; no daemon.
//!
//! Lock protocol: the process that spawns the monitor holds the
//! container's lock until the monitor reports the first start, so the
//! monitor writes that first `running` state without taking it. Every
//! later state change (exit, restart) takes the lock.

pub mod attach_protocol;
mod relay;
mod spawn;
mod trim;

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant, SystemTime};

use nix::fcntl::{OFlag, open};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::stat::Mode;
use nix::unistd::pipe2;

use super::EngineError;
use super::cleanup::remove_tree;
use super::launch::{LaunchPlan, launch};
use super::teardown::{RunResources, teardown_run};
use super::volumes::remove_anonymous_volumes;
use crate::state::log::LogWriter;
use crate::state::{
    ContainerPaths, ContainerRecord, ContainerStatus, ContainerStore, ProcessIdentity, RunExit,
    StorageDirs,
};
use crate::timestamp::format_rfc3339_nanos;
use relay::{Relay, Streams};
pub use spawn::{MONITOR_COMMAND, StartReport, spawn_monitor};

/// Back-off between restarts: doubles from 100 ms up to a minute, and
/// starts over once the container stayed up for 10 seconds (docker's rule).
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
const STABLE_UPTIME: Duration = Duration::from_secs(10);

struct Monitor {
    dirs: StorageDirs,
    store: ContainerStore,
    record: ContainerRecord,
    paths: ContainerPaths,
    plan: LaunchPlan,
    relay: Relay,
    /// The container's user namespace (rootless), for removing its files.
    user_namespace: Option<OwnedFd>,
    /// What the current run holds; released after each exit.
    run: RunResources,
}

fn report(pipe: &mut File, message: &StartReport) {
    let mut json = serde_json::to_vec(message).expect("report serializes");
    json.push(b'\n');
    let _ = pipe.write_all(&json);
}

/// How long a monitor started for `start -a` waits for its client.
const ATTACH_DEADLINE: Duration = Duration::from_secs(30);

/// The `container-monitor` command. Returns the monitor's exit status.
/// With `attach`, the container starts only once the spawning process
/// connected to the attach socket.
pub fn monitor_main(dirs: &StorageDirs, id: &str, report_fd: RawFd, attach: bool) -> i32 {
    // SAFETY: the spawner passed this fd open across exec for us alone.
    let mut report_pipe = unsafe { File::from_raw_fd(report_fd) };
    let mut monitor = match Monitor::new(dirs, id) {
        Ok(m) => m,
        Err(e) => {
            report(&mut report_pipe, &StartReport::failed(&e));
            return 1;
        }
    };
    if attach {
        if let Err(e) = monitor.relay.listen() {
            report(
                &mut report_pipe,
                &StartReport::Failed {
                    exit_code: 125,
                    error: format!("opening the attach socket: {e}"),
                },
            );
            return 1;
        }
        report(&mut report_pipe, &StartReport::Listening);
        // If the client never comes, start anyway: its output is in the log.
        monitor.relay.wait_for_client(ATTACH_DEADLINE);
    }
    match monitor.start_container(true) {
        Ok((pid, warnings)) => report(&mut report_pipe, &StartReport::Started { pid, warnings }),
        Err(e) => {
            report(&mut report_pipe, &StartReport::failed(&e));
            monitor.clean_up(false);
            return 1;
        }
    }
    drop(report_pipe);
    monitor.relay.trim();
    monitor.supervise();
    0
}

fn block_signals() -> Result<SignalFd, EngineError> {
    let mut set = SigSet::empty();
    for sig in [
        Signal::SIGCHLD,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGPIPE,
    ] {
        set.add(sig);
    }
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None)
        .map_err(EngineError::sys("blocking signals"))?;
    SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .map_err(EngineError::sys("creating a signalfd"))
}

/// Points fd `target` of this process at `fd`. The container inherits the
/// monitor's standard fds, so this is how its stdio reaches the pipes.
fn redirect(fd: &OwnedFd, target: RawFd) -> Result<(), EngineError> {
    // SAFETY: dup2 onto a standard fd number; `fd` stays valid.
    if unsafe { libc::dup2(fd.as_raw_fd(), target) } < 0 {
        return Err(EngineError::sys("redirecting the container's stdio")(
            nix::Error::last(),
        ));
    }
    Ok(())
}

impl Monitor {
    fn new(dirs: &StorageDirs, id: &str) -> Result<Monitor, EngineError> {
        let store = ContainerStore::new(dirs);
        let record = store.load(id)?;
        let paths = store.paths(id);
        let plan = LaunchPlan::load(dirs, &record, &paths)?;
        let log = LogWriter::open(&paths.log_file(), record.config.log_max_size)?;
        let signals = block_signals()?;
        Ok(Monitor {
            dirs: dirs.clone(),
            store,
            relay: Relay::new(log, signals, paths.attach_socket()),
            record,
            paths,
            plan,
            user_namespace: None,
            run: RunResources::default(),
        })
    }

    /// Starts the container's process with its stdio on fresh pipes (or
    /// its terminal) and records it as running. Returns its PID and what
    /// init warned about (the first start's go to the user; a restart's
    /// would repeat them to nobody).
    fn start_container(&mut self, first: bool) -> Result<(i32, Vec<String>), EngineError> {
        let config = &self.record.config;
        let pipe = || pipe2(OFlag::O_CLOEXEC).map_err(EngineError::sys("creating a pipe"));
        let mut streams = Streams::default();
        if !config.tty {
            let (out_read, out_write) = pipe()?;
            let (err_read, err_write) = pipe()?;
            redirect(&out_write, 1)?;
            redirect(&err_write, 2)?;
            streams.stdout = Some(out_read);
            streams.stderr = Some(err_read);
            if config.interactive {
                let (in_read, in_write) = pipe()?;
                redirect(&in_read, 0)?;
                streams.stdin = Some(in_write);
            }
        }
        let started = launch(&self.dirs, &self.plan, &self.record, &self.paths, None);
        // The monitor keeps no copy of the container's ends: end-of-file on
        // the pipes must mean the container closed them.
        let null: OwnedFd = open("/dev/null", OFlag::O_RDWR | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(EngineError::sys("opening /dev/null"))?;
        for target in 0..=2 {
            redirect(&null, target)?;
        }
        let (started, run) = started?;
        self.run = run;
        streams.pty = started.pty_master;
        if started.user_namespace.is_some() {
            self.user_namespace = started.user_namespace;
        }
        let pid = started.pid.as_raw();

        let _lock = if first {
            None
        } else {
            Some(self.store.lock(&self.record.id)?)
        };
        if !first {
            self.record = self.store.load(&self.record.id)?;
        }
        let state = &mut self.record.state;
        state.status = Some(ContainerStatus::Running);
        state.pid = ProcessIdentity::of(pid);
        state.monitor = Some(ProcessIdentity::current());
        self.run.record_into(state);
        state.started_at = Some(format_rfc3339_nanos(SystemTime::now()));
        state.finished_at = None;
        state.exit_code = None;
        state.error = None;
        if self.record.config.healthcheck.is_some() {
            let health = state.health.get_or_insert(crate::state::HealthState {
                status: crate::state::HealthStatus::Starting,
                failing_streak: 0,
                log: Vec::new(),
            });
            health.status = crate::state::HealthStatus::Starting;
            health.failing_streak = 0;
        }
        self.store.save(&self.record)?;
        self.relay.begin(started.pid, streams, &self.record);
        Ok((pid, started.warnings))
    }

    /// Relays and records until the container exits for good.
    fn supervise(&mut self) {
        let mut backoff = FIRST_BACKOFF;
        loop {
            let started = Instant::now();
            let exit_code = self.relay.run(&self.dirs, &self.record);
            // A record that cannot be written (removed meanwhile) ends it.
            let restart = self.record_exit(exit_code).unwrap_or_default();
            if !restart {
                self.relay.finish(exit_code);
                self.clean_up(true);
                return;
            }
            if started.elapsed() >= STABLE_UPTIME {
                backoff = FIRST_BACKOFF;
            }
            if !self.relay.sleep(backoff) {
                self.clean_up(true);
                return;
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
            // A `stop`, `kill` or `rm` during the back-off cancels it.
            let cancelled = match self.store.load(&self.record.id) {
                Ok(r) => r.state.stopped_by_user,
                Err(_) => true,
            };
            if cancelled || self.start_container(false).is_err() {
                self.clean_up(true);
                return;
            }
        }
    }

    /// Writes the exit into the record; says whether to restart.
    fn record_exit(&mut self, exit_code: i32) -> Result<bool, EngineError> {
        let teardown = teardown_run(std::mem::take(&mut self.run));
        let _lock = self.store.lock(&self.record.id)?;
        self.record = self.store.load(&self.record.id)?;
        self.record.state.mark_exited(RunExit {
            code: exit_code,
            error: None,
            oom_killed: teardown.oom_killed,
        });
        let state = &mut self.record.state;
        let restart = self.record.config.restart.wants_restart(
            exit_code,
            state.restart_count,
            state.stopped_by_user,
        );
        if restart {
            state.restart_count += 1;
            // Still the container's monitor through the back-off: `start`
            // and `restart` must not start a second one meanwhile.
            state.monitor = Some(ProcessIdentity::current());
        }
        self.store.save(&self.record)?;
        Ok(restart)
    }

    /// Removes the per-run files and, for `--rm` containers that ran,
    /// the whole container.
    fn clean_up(&mut self, ran: bool) {
        teardown_run(std::mem::take(&mut self.run));
        let Ok(_lock) = self.store.lock(&self.record.id) else {
            let _ = remove_tree(&self.paths.run_dir, self.user_namespace.as_ref());
            return;
        };
        let _ = remove_tree(&self.paths.run_dir, self.user_namespace.as_ref());
        if let Ok(mut record) = self.store.load(&self.record.id) {
            if record.state.monitor == Some(ProcessIdentity::current()) {
                record.state.monitor = None;
                let _ = self.store.save(&record);
            }
            if ran && record.config.auto_remove {
                self.store.forget(&record);
                let _ = remove_tree(&self.paths.dir, self.user_namespace.as_ref());
                let _ = remove_anonymous_volumes(&self.dirs, &record);
            }
        }
    }
}
