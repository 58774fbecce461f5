//! skiff: a daemonless, rootless container engine.
//!
//! The binary (`src/main.rs`) is a thin CLI over this library; integration
//! tests and benchmarks reach the pieces through it. Dependencies point
//! downwards only: `cmd` → `engine` → (`sandbox`, `layers`, `net`, `state`).

pub mod build;
pub mod engine;
pub mod layers;
pub mod net;
pub mod sandbox;
pub mod state;
pub mod timestamp;
pub mod units;
pub mod xattr;

#[cfg(test)]
mod architecture_tests;
