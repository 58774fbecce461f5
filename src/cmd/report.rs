//! The CLI's `Reporter`: the engine's notices as plain lines on stderr,
//! in docker's words.

use skiff::engine::Reporter;
use skiff::layers::ImageReference;
use skiff::layers::registry::PullEvent;

/// Prints every notice on stderr.
pub struct StderrReporter;

impl Reporter for StderrReporter {
    fn warning(&self, text: &str) {
        eprintln!("warning: {text}");
    }

    fn pull_started(&self, reference: &ImageReference) {
        eprintln!("Trying to pull {reference}...");
    }

    fn pull_event(&self, event: &PullEvent) {
        match event {
            PullEvent::LayerExists { digest } => eprintln!("{}: Already exists", digest.short()),
            PullEvent::LayerDone { digest } => eprintln!("{}: Pull complete", digest.short()),
            PullEvent::Resolved { .. } | PullEvent::Progress { .. } => {}
        }
    }
}
