//! `skiff build`: a Dockerfile/Containerfile becomes an image in the store.
//!
//! Layout: `dockerfile` parses the text into stages of instructions (raw
//! words, nothing substituted: what a word means depends on the ARG/ENV
//! state at that step, which only the executor knows); `words` is docker's
//! shell-word lexer (quotes, escapes, `${VAR:-x}` substitution) that the
//! executor applies where docker does; `ignore` is `.dockerignore`.
//!
//! The executor: `context` (context directory or tar, Dockerfile, ignore
//! rules), `plan` (which stages the target needs), `scope` (ARG/ENV),
//! `executor` (stages, steps through the cache, the result), `instructions`
//! (each instruction's effect; `config` edits docker's config JSON),
//! `run_step` (RUN as a container made by engine's run path; `run_mounts`
//! its `--mount`s, `context_mask` the context as `.dockerignore` leaves it
//! for binds, `cache_mounts` the store's cache mounts: usage and prune),
//! `copy_step`,
//! `copy_plan`, `copy_tar` (COPY/ADD as a tar stored like a pulled layer),
//! `layered` (an image's files read from its layer directories), `cache`.
//! The entry point is `build_image` with a typed `BuildRequest`.

mod cache;
mod cache_mounts;
mod config;
mod context;
mod context_mask;
mod copy_plan;
mod copy_step;
mod copy_tar;
pub mod dockerfile;
mod download;
mod executor;
pub mod glob;
pub mod ignore;
mod in_root;
mod instructions;
mod layered;
mod plan;
mod request;
mod run_mount_cache;
mod run_mount_from;
mod run_mounts;
mod run_step;
mod scope;
mod stage;
pub mod words;

pub use cache_mounts::{BuildCachePrune, cache_mount_usage, prune_build_cache};
pub use executor::build_image;
pub use request::{
    BuildError, BuildOutcome, BuildReporter, BuildRequest, BuildSecret, ContextSource,
    DockerfileSource,
};
pub use scope::PROXY_ARGS;
