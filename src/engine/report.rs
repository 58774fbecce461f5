//! Where the engine's notices go. Library code never prints: what the
//! user should hear besides a verb's result (a degraded mode it went on
//! in, the steps of a pull that `run` started) goes to the `Reporter` the
//! caller passed. The CLI's writes plain lines to stderr; a compose
//! front-end's can prefix each line with its service, or collect them.

use crate::layers::ImageReference;
use crate::layers::registry::PullEvent;

pub trait Reporter {
    /// Something is degraded and the verb went on anyway (a root
    /// filesystem driver fallback, a single-ID mapping, a failed
    /// `--pull=newer` check).
    fn warning(&self, text: &str);
    /// A pull of `reference` begins.
    fn pull_started(&self, reference: &ImageReference);
    /// One step of a pull.
    fn pull_event(&self, event: &PullEvent);
}

/// Drops every notice: for work whose notices were already given (the
/// clean-up after a refused load repeats its ID mapping).
pub struct Quiet;

impl Reporter for Quiet {
    fn warning(&self, _text: &str) {}
    fn pull_started(&self, _reference: &ImageReference) {}
    fn pull_event(&self, _event: &PullEvent) {}
}
