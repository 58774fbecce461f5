//! The verbs as library functions: each wires `layers`, `sandbox`, `net`
//! and `state` together for one user-visible action. `cmd` parses flags
//! and prints; everything in between lives here.

pub mod attach;
pub mod build_support;
mod cgroup;
pub mod changes;
mod cleanup;
mod commit;
pub mod container_filter;
mod copy;
mod create;
mod disk_usage;
mod exec;
pub mod health;
mod idmapped_layers;
mod image_filter;
mod image_ops;
mod images;
mod input;
pub mod inspect;
mod keep_id_files;
pub mod label_filter;
mod launch;
pub mod lifecycle;
pub mod lookup;
pub mod monitor;
pub mod mounts;
mod namespace_joins;
pub mod net_options;
pub mod netns_reaper;
mod network_bridge;
mod network_inspect;
mod network_opts;
pub mod network_reload;
mod network_run;
pub mod networks;
mod options;
pub mod pause;
mod process_options;
pub mod processes;
mod pull;
mod push;
mod report;
pub mod resources;
mod rootless_netns;
mod run;
pub mod secrets;
pub mod security_options;
pub mod security_opts;
pub mod selection;
pub mod signals;
pub mod stats;
pub mod system_info;
pub mod system_prune;
mod teardown;
mod userns_modes;
pub mod volumes;

/// A container's network mode, as front-ends fill `RunRequest` with it.
pub use crate::net::NetworkMode;
/// For clients that stream: watching their output's readers, ending.
pub use crate::sandbox::client_end::{OutputWatch, die_of, write_all as write_output};
pub use attach::{AttachOptions, attach_container};
pub use commit::commit_container;
pub use copy::{CopyEndpoint, copy, temp_file_in};
pub use create::create_container;
pub use disk_usage::{DiskUsage, UsageLine, disk_usage};
pub use exec::{ExecOptions, exec_container};
pub use image_ops::{
    HistoryRow, all_image_ids, collect_garbage, image_history, inspect_image,
    prune_build_cache_images, prune_images, remove_images, tag_image, untag_image,
};
pub use images::{import_rootfs, list_images, load_archive, load_directory, save_images};
pub use input::parse_env_entries;
pub use options::{ContainerOptions, HealthOptions, HealthRequest, RunRequest};
pub use process_options::ProcessRequest;
pub use pull::{PullOptions, PullPolicy, PulledImage, image_for_run, pull_image};
pub use push::push_image;
pub use report::Reporter;
pub use resources::ResourceRequest;
pub use run::{run_container, run_detached};

use crate::layers::LayerError;
use crate::net::NetError;
use crate::sandbox::SandboxError;
use crate::sandbox::spec::PlanError;
use crate::sandbox::user::UserError;
use crate::sandbox::userns::{ChildFailure, UsernsError};
use crate::state::StateError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Layers(#[from] LayerError),
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    User(#[from] UserError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Net(#[from] NetError),
    #[error(transparent)]
    Userns(#[from] UsernsError),
    #[error(transparent)]
    Log(#[from] crate::state::log::LogError),
    /// The container's command could not be started (`exit_code` is
    /// 125, or 126/127 when the command cannot run).
    #[error("{error}")]
    StartFailed { exit_code: i32, error: String },
    /// The container runs (or is paused) and the verb needs it stopped.
    #[error("{0}")]
    ContainerRunning(String),
    /// `volume rm` of a volume containers still use (podman's words).
    #[error(
        "volume {name} is being used by the following container(s): {}: volume is being used",
        containers.join(", ")
    )]
    VolumeInUse {
        name: String,
        containers: Vec<String>,
    },
    /// `network rm` of a network containers are on (podman's words).
    #[error(
        "\"{name}\" has associated containers with it. Use -f to forcibly delete containers: network is being used"
    )]
    NetworkInUse { name: String },
    /// Removing a container whose namespaces others entered (podman's
    /// words); `rm --depend` removes them first.
    #[error(
        "container {id} has dependent containers which must be removed before it: {}",
        dependents.join(",")
    )]
    HasDependents { id: String, dependents: Vec<String> },
    #[error("timed out waiting for the container")]
    Timeout,
    /// Bad user input caught before anything was changed.
    #[error("{0}")]
    Invalid(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

impl EngineError {
    /// docker's exit code for this failure: 126/127 when the command could
    /// not run, 125 for everything skiff itself refused or failed at.
    pub fn exit_code(&self) -> i32 {
        match self {
            EngineError::Sandbox(e) => e.exit_code(),
            EngineError::StartFailed { exit_code, .. } => *exit_code,
            EngineError::Userns(e) => e.exit_code(),
            _ => 125,
        }
    }

    /// The signal a streaming client ended by (its output's reader went
    /// away, or a signal it does not forward): `main` dies of it.
    pub fn ended_by(&self) -> Option<nix::sys::signal::Signal> {
        match self {
            EngineError::Sandbox(SandboxError::Interrupted { signal, .. }) => Some(*signal),
            _ => None,
        }
    }

    /// A streaming client's output lost its reader.
    pub fn output_gone() -> EngineError {
        EngineError::Sandbox(SandboxError::Interrupted {
            signal: nix::sys::signal::Signal::SIGPIPE,
            container_exit: None,
        })
    }

    fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> EngineError {
        let what = what.into();
        move |source| EngineError::Io { what, source }
    }

    fn sys(what: &'static str) -> impl FnOnce(nix::Error) -> EngineError {
        move |errno| EngineError::Io {
            what: what.to_string(),
            source: errno.into(),
        }
    }
}

/// An engine error raised in a helper process (as the store's owner, in
/// the container's root), on its way back to the parent with its text
/// and exit code.
impl From<EngineError> for ChildFailure {
    fn from(error: EngineError) -> ChildFailure {
        ChildFailure {
            message: error.to_string(),
            exit_code: error.exit_code(),
        }
    }
}

/// True when skiff runs without root and so works through a user namespace.
pub fn is_rootless() -> bool {
    !nix::unistd::geteuid().is_root()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_from_a_helper_keeps_its_text_and_exit_code() {
        let in_helper = EngineError::StartFailed {
            exit_code: 127,
            error: "\"nope\": executable file not found in $PATH".into(),
        };
        let text = in_helper.to_string();
        let back = EngineError::from(UsernsError::Failed(ChildFailure::from(in_helper)));
        assert_eq!(back.exit_code(), 127);
        assert_eq!(back.to_string(), text);
        let plain = EngineError::from(UsernsError::Failed(ChildFailure::from(
            "removing /x: busy".to_string(),
        )));
        assert_eq!(plain.exit_code(), 125);
    }
}
