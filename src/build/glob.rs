//! Path patterns as Go's `filepath.Match` (`*`, `?`, `[...]`, `\`
//! escapes; `*` and `?` never match `/`), which COPY/ADD sources use,
//! plus the `**` tokens `.dockerignore` adds (`ignore` compiles its
//! patterns to the same tokens).
//!
//! Go's classes: `[abc]`, `[a-z]`, `[^a-z]` (only `^` negates; `!` is an
//! ordinary member), `\` escapes inside too; a class may match `/`. A
//! malformed pattern (unclosed `[`, empty class, a range missing an end,
//! a trailing `\`) is an error even when the path would not match, as
//! Go reports it.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad pattern \"{0}\"")]
pub struct PatternError(pub String);

/// Whether `path` (slash-separated, relative) matches `pattern` as Go's
/// `filepath.Match` does.
pub fn matches(pattern: &str, path: &str) -> Result<bool, PatternError> {
    let tokens = compile(pattern)?;
    Ok(match_tokens(&tokens, path))
}

/// Whether `pattern` has any of the special characters of
/// `filepath.Match` (`*`, `?`, `[`, `\`); without them it names one path.
pub fn has_meta(pattern: &str) -> bool {
    pattern.contains(['*', '?', '[', '\\'])
}

/// One element of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    Literal(char),
    /// `?`: one character other than `/`.
    AnyChar,
    /// `*`: any run of characters other than `/`.
    Star,
    /// `[...]`: one character in (or, negated, not in) the ranges.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    /// `.dockerignore`'s `**/` (or `**` before more pattern): any number
    /// of whole directories, including none (the regex `(.*/)?`).
    AnyDirs,
    /// `.dockerignore`'s trailing `**`: anything at all.
    AnyRest,
}

/// Compiles a `filepath.Match` pattern (no `**` meaning).
pub(crate) fn compile(pattern: &str) -> Result<Vec<Token>, PatternError> {
    let bad = || PatternError(pattern.to_string());
    let mut tokens = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        tokens.push(match c {
            '*' => Token::Star,
            '?' => Token::AnyChar,
            '\\' => Token::Literal(chars.next().ok_or_else(bad)?),
            '[' => class(&mut chars).ok_or_else(bad)?,
            c => Token::Literal(c),
        });
    }
    Ok(tokens)
}

/// The rest of a `[...]` class after its `[`, as Go reads it.
pub(crate) fn class(chars: &mut std::iter::Peekable<std::str::Chars>) -> Option<Token> {
    let negated = chars.next_if_eq(&'^').is_some();
    let mut ranges = Vec::new();
    loop {
        if !ranges.is_empty() && chars.next_if_eq(&']').is_some() {
            return Some(Token::Class { negated, ranges });
        }
        let lo = class_char(chars)?;
        let hi = if chars.next_if_eq(&'-').is_some() {
            class_char(chars)?
        } else {
            lo
        };
        ranges.push((lo, hi));
    }
}

/// One possibly escaped member of a class; an unescaped `-` or `]` (or
/// the end) where a member must be is malformed.
fn class_char(chars: &mut std::iter::Peekable<std::str::Chars>) -> Option<char> {
    match chars.next()? {
        '-' | ']' => None,
        '\\' => chars.next(),
        c => Some(c),
    }
}

fn class_matches(negated: bool, ranges: &[(char, char)], c: char) -> bool {
    ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != negated
}

/// Matches compiled tokens against the whole of `path`. Dynamic
/// programming over (token, position): no exponential backtracking on
/// patterns with many stars.
pub(crate) fn match_tokens(tokens: &[Token], path: &str) -> bool {
    let chars: Vec<char> = path.chars().collect();
    let n = chars.len();
    // reach[i]: the pattern so far can end just before chars[i].
    let mut reach = vec![false; n + 1];
    reach[0] = true;
    for token in tokens {
        let mut next = vec![false; n + 1];
        for i in 0..=n {
            if !reach[i] {
                continue;
            }
            match token {
                Token::Literal(l) => {
                    if chars.get(i) == Some(l) {
                        next[i + 1] = true;
                    }
                }
                Token::AnyChar => {
                    if chars.get(i).is_some_and(|&c| c != '/') {
                        next[i + 1] = true;
                    }
                }
                Token::Class { negated, ranges } => {
                    if chars
                        .get(i)
                        .is_some_and(|&c| class_matches(*negated, ranges, c))
                    {
                        next[i + 1] = true;
                    }
                }
                Token::Star => {
                    next[i] = true;
                    let mut j = i;
                    while j < n && chars[j] != '/' {
                        j += 1;
                        next[j] = true;
                    }
                }
                Token::AnyDirs => {
                    next[i] = true;
                    for j in i..n {
                        if chars[j] == '/' {
                            next[j + 1] = true;
                        }
                    }
                }
                Token::AnyRest => next[i..].iter_mut().for_each(|r| *r = true),
            }
        }
        reach = next;
        if !reach.iter().any(|&r| r) {
            return false;
        }
    }
    reach[n]
}

#[cfg(test)]
#[path = "glob_tests.rs"]
mod tests;
