//! What a build is asked (`BuildRequest`, typed: the CLI and a compose
//! front-end fill it alike), where its notices go (`BuildReporter`), what
//! it gives back, and how it fails (`BuildError`).

use std::path::PathBuf;

use crate::engine::{EngineError, NetworkMode, PullOptions, PullPolicy, Reporter};
use crate::layers::{Digest, LayerError};

use super::dockerfile::ParseError;
pub use super::run_mounts::BuildSecret;

/// Where the build context comes from.
#[derive(Debug, Clone)]
pub enum ContextSource {
    /// A directory on the host.
    Dir(PathBuf),
    /// Standard input's bytes: a tar archive (plain, gzip or zstd) is the
    /// context; anything else is the Dockerfile, with no context.
    Stdin(Vec<u8>),
}

/// Where the Dockerfile comes from.
#[derive(Debug, Clone)]
pub enum DockerfileSource {
    /// `Dockerfile`, else `Containerfile`, in the context.
    Default,
    /// `-f PATH` (relative to the current directory, as docker's CLI).
    Path(PathBuf),
    /// `-f -`: these bytes.
    Text(Vec<u8>),
}

/// One `skiff build`, every choice typed.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    pub context: ContextSource,
    pub dockerfile: DockerfileSource,
    /// Names the result gets (`-t`), as given.
    pub tags: Vec<String>,
    /// `--build-arg NAME=VALUE`; a bare `NAME` was resolved from the
    /// caller's environment by the front-end (or left out, as docker).
    pub build_args: Vec<(String, String)>,
    /// `--target`: the stage to stop at (name or index).
    pub target: Option<String>,
    /// `--no-cache`: run every step (results are still cached).
    pub no_cache: bool,
    /// `--layers=false`: no cache at all, no intermediate images kept.
    pub layers: bool,
    /// `--pull` for FROM images.
    pub pull: PullPolicy,
    pub pull_options: PullOptions,
    /// `--label` on the final image.
    pub labels: Vec<(String, String)>,
    /// RUN steps' network: host (the default: DESIGN.md says why) or
    /// none.
    pub network: NetworkMode,
    /// `--timestamp` / SOURCE_DATE_EPOCH: created times and file times
    /// of new layers clamped to it, for byte-identical images.
    pub timestamp: Option<i64>,
    /// RUN steps' standard output goes to standard error (`-q`: standard
    /// output carries only the image ID).
    pub run_output_to_stderr: bool,
    /// `--secret id=ID,src=FILE`: what `RUN --mount=type=secret` mounts.
    pub secrets: Vec<BuildSecret>,
    /// `--format oci`: the result's config keeps only the OCI config's
    /// fields (HEALTHCHECK, SHELL and ONBUILD dropped with a warning, as
    /// podman does); the default is docker's config.
    pub oci_format: bool,
}

impl Default for BuildRequest {
    fn default() -> Self {
        BuildRequest {
            context: ContextSource::Dir(PathBuf::from(".")),
            dockerfile: DockerfileSource::Default,
            tags: Vec::new(),
            build_args: Vec::new(),
            target: None,
            no_cache: false,
            layers: true,
            pull: PullPolicy::Missing,
            pull_options: PullOptions::default(),
            labels: Vec::new(),
            network: NetworkMode::Host,
            timestamp: None,
            run_output_to_stderr: false,
            secrets: Vec::new(),
            oci_format: false,
        }
    }
}

/// Where a build's notices go: the engine's (warnings, pulls) and its
/// own progress lines (`STEP 2/6: RUN make`, `--> Using cache …`).
pub trait BuildReporter {
    fn engine(&self) -> &dyn Reporter;
    /// One line of progress.
    fn progress(&self, line: &str);
}

/// A finished build.
#[derive(Debug, Clone)]
pub struct BuildOutcome {
    pub image_id: Digest,
    /// The normalized names it got.
    pub tags: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// A RUN step's command exited non-zero: the build exits with it.
    #[error("building at STEP \"{step}\": exit status {code}")]
    RunFailed { step: String, code: i32 },
    /// A RUN step's command could not start (not found: 127, not
    /// executable: 126): the build exits with that code.
    #[error("building at STEP \"{step}\": {message}")]
    RunNotStarted {
        step: String,
        message: String,
        code: i32,
    },
    /// A step that cannot be done as written (missing source, unknown
    /// stage, bad flag value), naming the step.
    #[error("building at STEP \"{step}\": {message}")]
    Step { step: String, message: String },
    /// Bad input before any step (context, Dockerfile, flags).
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Layers(#[from] LayerError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

impl BuildError {
    /// The build's exit status: a failed RUN's own, else what the engine
    /// says (a signal, 126/127), else 125.
    pub fn exit_code(&self) -> i32 {
        match self {
            BuildError::RunFailed { code, .. } | BuildError::RunNotStarted { code, .. } => *code,
            BuildError::Engine(e) => e.exit_code(),
            _ => 125,
        }
    }

    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BuildError {
        let what = what.into();
        move |source| BuildError::Io { what, source }
    }
}

/// Errors raised inside a store-owner helper travel as `EngineError`.
impl From<BuildError> for EngineError {
    fn from(e: BuildError) -> EngineError {
        match e {
            BuildError::Engine(e) => e,
            other => EngineError::Invalid(other.to_string()),
        }
    }
}
