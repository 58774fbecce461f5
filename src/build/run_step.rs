//! A RUN step: a real skiff container made by `skiff run`'s own path
//! (engine's create and foreground launch; rootless with the same user
//! namespace mapping), from the image of the step before, with that
//! image's Env, User, WorkingDir and the step's build args. Its output
//! is the build's; its exit status is checked; its upper directory
//! becomes a layer through `commit`'s walk; then it is removed, whatever
//! happened (a signal that ends the build kills it first).

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::os::fd::AsRawFd;

use super::copy_tar::clamp_tar_times;
use super::request::BuildError;
use super::run_mounts::RunMounts;
use crate::engine::build_support::store_container_layer;
use crate::engine::lifecycle::remove_container;
use crate::engine::mounts::check_distinct_destinations;
use crate::engine::{
    ContainerOptions, EngineError, NetworkMode, PullPolicy, Reporter, RunRequest, run_container,
};
use crate::layers::{Digest, LayerPart};
use crate::state::{ProcessIdentity, StorageDirs};

/// RUN containers are named `skiff-build-<pid of the build>-<random>`.
const NAME_PREFIX: &str = "skiff-build-";

/// The label that marks a RUN container with the build that made it:
/// `<pid>:<start time>` (field 22 of `/proc/<pid>/stat`, so a reused
/// PID is not taken for the build).
const BUILD_LABEL: &str = "io.skiff.build.process";

/// This build's mark, `BUILD_LABEL`'s value.
fn own_mark() -> String {
    let me = ProcessIdentity::current();
    format!("{}:{}", me.pid, me.start_ticks)
}

/// Removes the RUN containers of builds that were killed outright
/// (`kill -9`: nothing of theirs ran to clean up): those marked with a
/// build process that is gone (or whose PID now names another
/// process). A container that only has a build's name is not touched.
/// Best effort; a build calls it before its first RUN.
pub fn sweep_orphaned_containers(dirs: &StorageDirs) {
    let Ok(records) = crate::engine::lookup::list_containers(dirs) else {
        return;
    };
    for record in records {
        if !record.name.starts_with(NAME_PREFIX) {
            continue;
        }
        let Some(build) = record
            .config
            .labels
            .get(BUILD_LABEL)
            .and_then(|mark| mark.split_once(':'))
            .and_then(|(pid, start)| {
                Some(ProcessIdentity {
                    pid: pid.parse().ok()?,
                    start_ticks: start.parse().ok()?,
                })
            })
        else {
            continue;
        };
        if !build.is_alive() {
            let _ = remove_container(dirs, &record.id, true);
        }
    }
}

/// One RUN to execute.
pub struct RunStep {
    /// The instruction as written (for the error).
    pub text: String,
    pub image: Digest,
    pub argv: Vec<String>,
    /// Build args, on top of the image's Env.
    pub env: Vec<String>,
    pub user: String,
    pub workdir: String,
    pub network: NetworkMode,
    /// The container's standard output goes to standard error.
    pub stdout_to_stderr: bool,
    pub clamp: Option<i64>,
    pub mounts: RunMounts,
}

/// Points fd 1 at fd 2 until dropped (`build -q`: standard output is
/// for the image ID only). The container inherits fds 0-2.
struct StdoutToStderr {
    saved: Option<std::os::fd::OwnedFd>,
}

impl StdoutToStderr {
    fn new(active: bool) -> StdoutToStderr {
        if !active {
            return StdoutToStderr { saved: None };
        }
        let saved = nix::unistd::dup(std::io::stdout()).ok();
        if saved.is_some() {
            // SAFETY: dup2 of the process's own standard fds; fd 1 is
            // restored from `saved` on drop.
            unsafe { libc::dup2(2, 1) };
        }
        StdoutToStderr { saved }
    }
}

impl Drop for StdoutToStderr {
    fn drop(&mut self) {
        if let Some(saved) = self.saved.take() {
            // SAFETY: restores fd 1 from the duplicate made in `new`.
            unsafe { libc::dup2(saved.as_raw_fd(), 1) };
        }
    }
}

fn anonymous_temp() -> Result<File, EngineError> {
    crate::engine::temp_file_in(&std::env::temp_dir())
}

/// Runs the step and stores its changes as a layer.
pub fn run_step(
    dirs: &StorageDirs,
    step: &RunStep,
    reporter: &dyn Reporter,
) -> Result<LayerPart, BuildError> {
    let name = format!(
        "{NAME_PREFIX}{}-{}",
        std::process::id(),
        &crate::state::new_container_id()[..12]
    );
    let request = RunRequest {
        image: step.image.to_string(),
        command: step.argv.clone(),
        entrypoint: Some(String::new()),
        env: step.env.clone(),
        workdir: Some(step.workdir.clone()),
        user: (!step.user.is_empty()).then(|| step.user.clone()),
        name: Some(name.clone()),
        network: crate::engine::net_options::NetRequest {
            networks: vec![step.network.to_string()],
            ..Default::default()
        },
        pull: PullPolicy::Never,
        tmpfs: step.mounts.tmpfs.clone(),
        ..RunRequest::default()
    };
    let mut options = ContainerOptions::from_request(&request)?;
    options.ignore_image_volumes = true;
    options.owner_userns = true;
    // The binds, typed, before the tmpfs mounts (`--mount` comes before
    // `--tmpfs` in a run's order).
    let tmpfs = std::mem::take(&mut options.mounts);
    options.mounts = step.mounts.mounts.clone();
    options.mounts.extend(tmpfs);
    check_distinct_destinations(&options.mounts)?;
    options.labels.insert(BUILD_LABEL.to_string(), own_mark());
    let result = {
        let _redirect = StdoutToStderr::new(step.stdout_to_stderr);
        run_container(dirs, &options, false, reporter)
    };
    let outcome = match result {
        Ok(0) => {
            let clamp = step.clamp;
            let rewrite = move |tar: &mut File| -> Result<File, EngineError> {
                let Some(clamp) = clamp else {
                    return tar.try_clone().map_err(|source| EngineError::Io {
                        what: "reading the layer".into(),
                        source,
                    });
                };
                let mut out = anonymous_temp()?;
                clamp_tar_times(tar, clamp, &mut out)
                    .and_then(|()| out.seek(SeekFrom::Start(0)).map(|_| ()))
                    .map_err(|source| EngineError::Io {
                        what: "clamping the layer's times".into(),
                        source,
                    })?;
                Ok(out)
            };
            store_container_layer(dirs, &name, &rewrite, reporter).map_err(BuildError::from)
        }
        Ok(code) => Err(BuildError::RunFailed {
            step: step.text.clone(),
            code,
        }),
        // The command could not start (not found, not executable).
        Err(e) if matches!(e.exit_code(), 126 | 127) => Err(BuildError::RunNotStarted {
            step: step.text.clone(),
            message: e.to_string(),
            code: e.exit_code(),
        }),
        Err(e) => Err(e.into()),
    };
    // The container goes whatever happened; a failure to remove it must
    // not hide the step's own error.
    match (remove_container(dirs, &name, true), outcome) {
        (_, Err(e)) => Err(e),
        (Err(e), Ok(_)) => Err(e.into()),
        (Ok(_), Ok(layer)) => Ok(layer),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mark_names_this_process() {
        let (pid, start) = own_mark()
            .split_once(':')
            .map(|(p, s)| (p.parse().unwrap(), s.parse().unwrap()))
            .unwrap();
        assert_eq!(pid, std::process::id() as i32);
        assert_eq!(
            Some(ProcessIdentity {
                pid,
                start_ticks: start
            }),
            ProcessIdentity::of(pid)
        );
    }
}
