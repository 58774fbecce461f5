//! The integration-test harness: every file in `tests/` drives the real
//! `skiff` binary through it.
//!
//! - [`for_each_user`] runs a test body once as root and once rootless (as the
//!   unprivileged user `skifftest` that `scripts/test` creates). It is the one
//!   place that decides who a test runs as (`users.rs`).
//! - [`Ctx`] is one user's sandbox for one test: a fresh store (`--root`) and
//!   runroot (`--runroot`), a scratch directory the user owns, and
//!   preconfigured `skiff` commands (`ctx.rs`).
//! - The busybox image is built once per test process by
//!   `scripts/busybox-image.sh` into a directory every user can read
//!   (`fixtures.rs`).
//! - Every command has a deadline; waits poll a condition with a deadline
//!   (`processes.rs`, `pty.rs`).
//! - What containers print is parsed in `proc_files.rs`; archives are read
//!   and crafted in `archives.rs`, saved image layouts checked in
//!   `image_layout.rs`; container-lifecycle helpers are in
//!   `containers.rs`, registries in `registry.rs` and `token_server.rs`.
//!
//! Environment knobs: `CI` or `SKIFF_TEST_REQUIRE_ROOTLESS` make a missing
//! test user a failure instead of a skip; `SKIFF_OVERLAY` is passed through to
//! every skiff command (run the suite with `SKIFF_OVERLAY=fuse` to exercise
//! fuse-overlayfs everywhere); `SKIFF_TEST_KEEP=1` keeps the per-test
//! directories under /tmp/skiff-tests for inspection.
//!
//! Networking: every skiff command gets `SKIFF_DEFAULT_NETWORK=none`
//! unless its test called `ctx.enable_networking()` (`netns.rs`), so only
//! the network tests create bridges, rules or pasta processes, and root's
//! run inside a network namespace the test made.

// Every file in tests/ is its own crate that declares `mod common;` and so
// compiles the whole harness, but each uses only the part it needs: an item
// that one crate does not use is dead code *in that crate* only. Every item
// here is used by at least one test file (helpers nothing uses are deleted,
// not hidden); this one allow covers all of common/.
#![allow(dead_code)]

pub mod archives;
pub mod build;
pub mod containers;
pub mod ctx;
pub mod fixtures;
pub mod hostile_layers;
pub mod id_maps;
pub mod image_layout;
pub mod image_output;
pub mod net_checks;
pub mod netns;
pub mod proc_files;
pub mod processes;
pub mod pty;
pub mod registry;
pub mod token_server;
pub mod users;

// What every test file needs, under one `use common::*`; the rest is
// imported by name (`use common::archives::*;`), which also shows what a
// test file is about.
pub use ctx::*;
pub use fixtures::*;
pub use processes::*;
pub use users::*;
