//! Path patterns as Go's `filepath.Match` (`*`, `?`, `[...]`, `\`
//! escapes; `*` never crosses `/`), which COPY/ADD sources use, plus the
//! `**` extension `.dockerignore` adds. (Stub: the parser's owner fills
//! it in.)

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad pattern \"{0}\"")]
pub struct PatternError(pub String);

/// Whether `path` (slash-separated, relative) matches `pattern` as Go's
/// `filepath.Match` does.
pub fn matches(pattern: &str, path: &str) -> Result<bool, PatternError> {
    let _ = (pattern, path);
    Err(PatternError(pattern.to_string()))
}
