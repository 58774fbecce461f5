//! `.dockerignore` with docker's rules (moby/patternmatcher): patterns
//! are cleaned and anchored at the context root (a leading `/` is
//! dropped), `**` matches any number of directories, `!` re-includes,
//! the last matching pattern wins, and excluding a directory excludes
//! everything below it.
//!
//! Reading (patternmatcher's `ignorefile.ReadAll`): a line starting with
//! `#` in column 1 is a comment; each line is trimmed; empty lines are
//! skipped; `!` marks an exception; the rest is cleaned as Go's
//! `filepath.Clean` (`./a/../b/` is `b`) and a leading `/` dropped. A
//! pattern is checked with `filepath.Match` syntax, so a malformed one
//! fails the build instead of silently matching nothing. `.` cleans to
//! the context root itself, which docker never matches against: it
//! excludes nothing.

use std::path::{Path, PathBuf};

use super::glob::{self, Token};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct IgnoreError {
    pub file: String,
    pub message: String,
}

/// The parsed rules of one ignore file.
#[derive(Debug, Clone, Default)]
pub struct IgnoreRules {
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone)]
struct Pattern {
    /// A `!` line: a match re-includes.
    exception: bool,
    /// The cleaned pattern, without `!`.
    text: String,
    tokens: Vec<Token>,
}

impl IgnoreRules {
    pub fn parse(text: &str, file_name: &str) -> Result<IgnoreRules, IgnoreError> {
        let err = |message: String| IgnoreError {
            file: file_name.to_string(),
            message,
        };
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut patterns = Vec::new();
        for line in text.lines() {
            if line.starts_with('#') {
                continue;
            }
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let (exception, body) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            if exception && body.is_empty() {
                return Err(err("illegal exclusion pattern: \"!\"".into()));
            }
            let mut cleaned = clean(body);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
            if let Err(e) = glob::compile(&cleaned) {
                return Err(err(format!("{e}: syntax error in pattern")));
            }
            let tokens = compile(&cleaned);
            patterns.push(Pattern {
                exception,
                text: cleaned,
                tokens,
            });
        }
        Ok(IgnoreRules { patterns })
    }

    /// Whether there are no rules at all (nothing is ever excluded).
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether `rel_path` (slash-separated, relative to the context root,
    /// no leading `./`) is left out of the build.
    pub fn is_excluded(&self, rel_path: &str) -> bool {
        let rel_path = rel_path.trim_end_matches('/');
        // The parent directories, shortest first: `a`, `a/b` for `a/b/c`.
        let parents: Vec<&str> = rel_path
            .match_indices('/')
            .map(|(i, _)| &rel_path[..i])
            .collect();
        let mut excluded = false;
        for p in &self.patterns {
            // An exclusion can only change an included path, an
            // exception only an excluded one.
            if p.exception != excluded {
                continue;
            }
            let hit = glob::match_tokens(&p.tokens, rel_path)
                || parents.iter().any(|d| glob::match_tokens(&p.tokens, d));
            if hit {
                excluded = !p.exception;
            }
        }
        excluded
    }

    /// Whether a walk must still descend into the excluded directory
    /// `rel_dir`, because a `!` exception may re-include something below.
    /// Conservative: a `**` exception, or one whose leading components
    /// match `rel_dir` (or that matches `rel_dir` or a parent), says yes.
    pub fn may_include_below(&self, rel_dir: &str) -> bool {
        let rel_dir = rel_dir.trim_end_matches('/');
        let dir: Vec<&str> = rel_dir.split('/').collect();
        self.patterns.iter().filter(|p| p.exception).any(|p| {
            if p.text.contains("**") {
                return true;
            }
            let parts: Vec<&str> = p.text.split('/').collect();
            let n = parts.len().min(dir.len());
            parts[..n]
                .iter()
                .zip(&dir[..n])
                .all(|(pat, name)| glob::matches(pat, name).unwrap_or(true))
        })
    }
}

/// patternmatcher's translation: `**/` (or `**` before more pattern) is
/// any number of directories, a trailing `**` anything, `*` and `?` stop
/// at `/`, `\` escapes, `[...]` is a class.
fn compile(pattern: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        tokens.push(match c {
            '*' if chars.next_if_eq(&'*').is_some() => {
                chars.next_if_eq(&'/');
                if chars.peek().is_none() {
                    Token::AnyRest
                } else {
                    Token::AnyDirs
                }
            }
            '*' => Token::Star,
            '?' => Token::AnyChar,
            '\\' => Token::Literal(chars.next().unwrap_or('\\')),
            // Checked by `glob::compile` before: a class is well formed.
            '[' => glob::class(&mut chars).unwrap_or(Token::Literal('[')),
            c => Token::Literal(c),
        });
    }
    tokens
}

/// Go's `filepath.Clean` for slash paths: no `.` elements, `..` resolved
/// lexically (kept at the start of a relative path, dropped at `/`), no
/// repeated or trailing `/`; empty is `.`.
pub fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// The ignore file for a build: `<Dockerfile name>.dockerignore` beside
/// the Dockerfile first (so `Containerfile.dockerignore`), else
/// `.dockerignore` at the context root, else `.containerignore` there
/// (podman's name).
pub fn ignore_file_for(context: &Path, dockerfile: &Path) -> Option<PathBuf> {
    let beside = dockerfile.file_name().filter(|n| *n != "-").map(|name| {
        let mut name = name.to_os_string();
        name.push(".dockerignore");
        dockerfile.with_file_name(name)
    });
    beside
        .into_iter()
        .chain([
            context.join(".dockerignore"),
            context.join(".containerignore"),
        ])
        .find(|p| p.is_file())
}

#[cfg(test)]
#[path = "ignore_tests.rs"]
mod tests;
