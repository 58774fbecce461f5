//! Fork-to-exec: turns a runtime Spec plus a set of layer directories into
//! a running container. Knows nothing of images or CLI flags.

pub mod cgroups;
pub mod client_end;
pub mod command;
mod command_line;
mod copy_rootfs;
pub mod device_rules;
pub mod enter;
pub mod exec;
pub mod foreground;
mod foreign_mount;
mod init;
pub mod joined_namespaces;
mod last_steps;
mod limits;
pub use limits::current_hard_limit;
mod message;
mod mini_init;
pub mod namespaces;
pub mod netns_holder;
pub mod overlay_probe;
pub mod paths;
pub mod privileges;
pub mod process;
mod reroot;
pub mod rootfs;
pub mod seccomp;
pub mod security;
mod setns;
pub mod settings;
mod settings_spec;
pub mod spec;
mod spec_mounts;
pub mod user;
pub mod userns;
pub mod userns_pending;
mod volume_setup;

pub use init::{InitContext, close_inherited_fds};
pub use rootfs::{RootfsDriver, RootfsLayers};

/// A failure inside the container's init, before its command ran.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("{what}: {source}")]
    Sys { what: String, source: nix::Error },
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Message(String),
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// Init reported a failure; `exit_code` is 125 for setup, 126/127 for
    /// a command that cannot run.
    #[error("{text}")]
    Init { exit_code: u8, text: String },
    #[error("{what}: {source}")]
    Sys {
        what: &'static str,
        source: nix::Error,
    },
    #[error("{0}")]
    Setup(String),
    #[error(transparent)]
    Userns(#[from] userns::UsernsError),
    #[error("putting the container in its cgroup: {0}")]
    Cgroup(#[from] cgroups::CgroupError),
    /// The client ended: its output's reader went away (SIGPIPE) or a
    /// signal ended it (`client_end`). `container_exit` is the status
    /// of the process it waited for, which ended with it.
    #[error("ended by {signal}")]
    Interrupted {
        signal: nix::sys::signal::Signal,
        container_exit: Option<i32>,
    },
}

impl SandboxError {
    fn sys(what: &'static str) -> impl FnOnce(nix::Error) -> SandboxError {
        move |source| SandboxError::Sys { what, source }
    }

    /// docker's exit code for this failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            SandboxError::Init { exit_code, .. } => *exit_code as i32,
            SandboxError::Userns(e) => e.exit_code(),
            SandboxError::Interrupted { signal, .. } => 128 + *signal as i32,
            _ => 125,
        }
    }
}
