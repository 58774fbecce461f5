//! docker's shell-word lexer for Dockerfile arguments: quote removal,
//! escapes (with the file's escape character) and `$VAR`, `${VAR}`,
//! `${VAR:-default}`, `${VAR-default}`, `${VAR:+alt}`, `${VAR+alt}`
//! substitution, done in one pass as docker's `ProcessWord`.
//! (Stub: the parser's owner fills it in.)

/// A word that cannot be expanded (an unterminated quote or `${`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct WordError(pub String);

/// Expands one raw word: quotes removed, variables substituted, no
/// splitting (what ENV values, WORKDIR, USER, LABEL values use).
pub fn expand_word(
    raw: &str,
    escape: char,
    vars: &dyn Fn(&str) -> Option<String>,
) -> Result<String, WordError> {
    let _ = (raw, escape, vars);
    Err(WordError("word expansion is not written yet".into()))
}

/// Expands and splits on unquoted whitespace, as docker's `ProcessWords`
/// (what COPY/ADD sources, EXPOSE and VOLUME in shell form use).
pub fn expand_words(
    raw: &str,
    escape: char,
    vars: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<String>, WordError> {
    let _ = (raw, escape, vars);
    Err(WordError("word expansion is not written yet".into()))
}
