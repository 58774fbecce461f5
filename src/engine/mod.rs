//! The verbs as library functions: each wires `layers`, `sandbox`, `net`
//! and `state` together for one user-visible action. `cmd` parses flags
//! and prints; everything in between lives here.

mod cleanup;
mod images;
mod input;
mod run;

pub use images::{import_rootfs, list_images, load_archive};
pub use input::{parse_env_entries, parse_tmpfs, parse_volume};
pub use run::{RunRequest, run_container};

use crate::layers::LayerError;
use crate::net::NetError;
use crate::sandbox::SandboxError;
use crate::sandbox::spec::PlanError;
use crate::sandbox::user::UserError;
use crate::sandbox::userns::UsernsError;
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
            _ => 125,
        }
    }

    fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> EngineError {
        let what = what.into();
        move |source| EngineError::Io { what, source }
    }
}

/// True when skiff runs without root and so works through a user namespace.
pub fn is_rootless() -> bool {
    !nix::unistd::geteuid().is_root()
}
