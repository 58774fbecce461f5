//! The shell patterns of `${VAR#pat}`, `${VAR%pat}` and `${VAR/pat/rep}`
//! as BuildKit reads them: `*` any run of characters (`/` included), `?`
//! any one character, `\` escapes `*`, `?` or `\` (and is dropped before
//! `}` or `/`); no bracket expressions. Matching is POSIX's: `#`/`%`
//! remove the shortest matching prefix/suffix, `##`/`%%` the longest;
//! `/` replaces the leftmost-longest match.

use super::WordError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Lit(char),
    Any,
    Star,
}

pub(super) struct Pattern(Vec<Tok>);

impl Pattern {
    pub fn parse(text: &str) -> Result<Pattern, WordError> {
        let mut toks = Vec::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            toks.push(match c {
                '*' => Tok::Star,
                '?' => Tok::Any,
                '\\' => match chars.peek().copied() {
                    Some('}' | '/') => continue,
                    Some(n @ ('*' | '?' | '\\')) => {
                        chars.next();
                        Tok::Lit(n)
                    }
                    other => {
                        return Err(WordError(format!(
                            "invalid pattern ({text}) in substitution: invalid escape '\\{}'",
                            other.map(String::from).unwrap_or_default()
                        )));
                    }
                },
                c => Tok::Lit(c),
            });
        }
        Ok(Pattern(toks))
    }

    /// Whether the pattern matches all of `s`.
    fn matches(&self, s: &[char]) -> bool {
        let mut reach = vec![false; s.len() + 1];
        reach[0] = true;
        for tok in &self.0 {
            let mut next = vec![false; s.len() + 1];
            for i in (0..=s.len()).filter(|&i| reach[i]) {
                match tok {
                    Tok::Lit(c) if s.get(i) == Some(c) => next[i + 1] = true,
                    Tok::Any if i < s.len() => next[i + 1] = true,
                    Tok::Star => next[i..].iter_mut().for_each(|r| *r = true),
                    _ => {}
                }
            }
            reach = next;
        }
        reach[s.len()]
    }

    pub fn trim_prefix(&self, value: &str, greedy: bool) -> String {
        let chars: Vec<char> = value.chars().collect();
        let mut lens: Vec<usize> = (0..=chars.len()).collect();
        if greedy {
            lens.reverse();
        }
        match lens.into_iter().find(|&n| self.matches(&chars[..n])) {
            Some(n) => chars[n..].iter().collect(),
            None => value.to_string(),
        }
    }

    pub fn trim_suffix(&self, value: &str, greedy: bool) -> String {
        let chars: Vec<char> = value.chars().collect();
        let mut starts: Vec<usize> = (0..=chars.len()).rev().collect();
        if greedy {
            starts.reverse();
        }
        match starts.into_iter().find(|&i| self.matches(&chars[i..])) {
            Some(i) => chars[..i].iter().collect(),
            None => value.to_string(),
        }
    }

    /// Replaces the first (or every) leftmost-longest match.
    pub fn replace(&self, value: &str, replacement: &str, all: bool) -> String {
        let chars: Vec<char> = value.chars().collect();
        let mut out = String::new();
        let mut i = 0;
        while i <= chars.len() {
            let end = (i..=chars.len())
                .rev()
                .find(|&j| self.matches(&chars[i..j]));
            match end {
                Some(j) => {
                    out.push_str(replacement);
                    if j == i {
                        // An empty match: keep the character and move on.
                        if let Some(&c) = chars.get(i) {
                            out.push(c);
                        }
                        i += 1;
                    } else {
                        i = j;
                    }
                    if !all {
                        out.extend(&chars[i.min(chars.len())..]);
                        return out;
                    }
                }
                None => {
                    if let Some(&c) = chars.get(i) {
                        out.push(c);
                    }
                    i += 1;
                }
            }
        }
        out
    }
}
