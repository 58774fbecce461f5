//! `.dockerignore` with docker's rules (moby/patternmatcher): patterns
//! are cleaned and anchored at the context root (a leading `/` is
//! dropped), `**` matches any number of directories, `!` re-includes,
//! the last matching pattern wins, and excluding a directory excludes
//! everything below it. (Stub: the parser's owner fills it in.)

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct IgnoreError {
    pub file: String,
    pub message: String,
}

/// The parsed rules of one ignore file.
#[derive(Debug, Clone, Default)]
pub struct IgnoreRules {}

impl IgnoreRules {
    pub fn parse(text: &str, file_name: &str) -> Result<IgnoreRules, IgnoreError> {
        let _ = text;
        Err(IgnoreError {
            file: file_name.to_string(),
            message: "not written yet".into(),
        })
    }

    /// Whether `rel_path` (slash-separated, relative to the context root,
    /// no leading `./`) is left out of the build.
    pub fn is_excluded(&self, rel_path: &str) -> bool {
        let _ = rel_path;
        false
    }

    /// Whether a walk must still descend into the excluded directory
    /// `rel_dir`, because a `!` exception may re-include something below.
    pub fn may_include_below(&self, rel_dir: &str) -> bool {
        let _ = rel_dir;
        true
    }
}

/// The ignore file for a build: `<Dockerfile name>.dockerignore` beside
/// the Dockerfile first (so `Containerfile.dockerignore`), else
/// `.dockerignore` at the context root (docker also reads
/// `.containerignore` as podman does).
pub fn ignore_file_for(context: &Path, dockerfile: &Path) -> Option<PathBuf> {
    let _ = (context, dockerfile);
    None
}
