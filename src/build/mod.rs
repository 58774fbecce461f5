//! `skiff build`: a Dockerfile/Containerfile becomes an image in the store.
//!
//! Layout: `dockerfile` parses the text into stages of instructions (raw
//! words, nothing substituted: what a word means depends on the ARG/ENV
//! state at that step, which only the executor knows); `words` is docker's
//! shell-word lexer (quotes, escapes, `${VAR:-x}` substitution) that the
//! executor applies where docker does; `ignore` is `.dockerignore`.
//! The executor turns stages into steps over `engine` (RUN steps are
//! containers made by the run path) and `layers` (each step's change is a
//! layer in the same content-addressed store).

pub mod dockerfile;
pub mod glob;
pub mod ignore;
pub mod words;
