//! The Dockerfile parser. `parse` is the one entry point; the types it
//! returns are in `ast`.

pub mod ast;

pub use ast::*;
