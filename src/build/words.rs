//! docker's shell-word lexer for Dockerfile arguments: quote removal,
//! escapes (with the file's escape character) and `$VAR`, `${VAR}`,
//! `${VAR:-default}`, `${VAR-default}`, `${VAR:+alt}`, `${VAR+alt}`,
//! `${VAR:?msg}`, `${VAR?msg}`, `${VAR#pat}`, `${VAR%pat}` (and `##`,
//! `%%`), `${VAR/pat/rep}`, `${VAR//pat/rep}` substitution, done in one
//! pass as BuildKit's `ProcessWord`. Unset variables expand to the empty
//! string.
//!
//! Quoting: `'...'` is literal; `"..."` expands `$` and lets the escape
//! character escape only `"`, `$` and itself (any other escape is kept);
//! outside quotes the escape character takes the next character
//! literally. `expand_words` then splits on whitespace the way
//! `ProcessWords` does: an unquoted variable's value splits (`$A` with
//! `A="a b"` gives two words), quoted or escaped whitespace does not.

/// A word that cannot be expanded (an unterminated quote or `${`, a bad
/// modifier, `${V:?msg}` of an unset variable).
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
    let mut lexer = Lexer::new(raw, escape, vars);
    let (text, _) = lexer
        .process_until(None, false)
        .map_err(|e| in_word(raw, e))?;
    Ok(text)
}

/// Expands and splits on unquoted whitespace, as docker's `ProcessWords`
/// (what COPY/ADD sources, EXPOSE and VOLUME in shell form use).
pub fn expand_words(
    raw: &str,
    escape: char,
    vars: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<String>, WordError> {
    let mut lexer = Lexer::new(raw, escape, vars);
    let (_, words) = lexer
        .process_until(None, false)
        .map_err(|e| in_word(raw, e))?;
    Ok(words.finish())
}

/// docker's wording: `failed to process "<word>": <problem>`.
fn in_word(raw: &str, e: WordError) -> WordError {
    WordError(format!("failed to process \"{raw}\": {}", e.0))
}

/// The words being collected while a text is expanded. A character that
/// came from quotes or an escape never splits; one that came from the
/// text or from an unquoted variable's value does when it is whitespace.
#[derive(Default)]
struct Words {
    words: Vec<String>,
    current: String,
    in_word: bool,
}

impl Words {
    fn add_char(&mut self, ch: char) {
        if ch.is_whitespace() {
            if self.in_word && !self.current.is_empty() {
                self.words.push(std::mem::take(&mut self.current));
                self.in_word = false;
            }
        } else {
            self.add_raw_char(ch);
        }
    }

    fn add_raw_char(&mut self, ch: char) {
        self.current.push(ch);
        self.in_word = true;
    }

    fn add_string(&mut self, s: &str) {
        s.chars().for_each(|c| self.add_char(c));
    }

    /// Quoted text: kept whole (`""` alone makes no word, as docker).
    fn add_raw_string(&mut self, s: &str) {
        self.current.push_str(s);
        self.in_word = true;
    }

    fn finish(mut self) -> Vec<String> {
        if !self.current.is_empty() {
            self.words.push(self.current);
        }
        self.words
    }
}

struct Lexer<'a> {
    chars: Vec<char>,
    pos: usize,
    escape: char,
    vars: &'a dyn Fn(&str) -> Option<String>,
}

impl<'a> Lexer<'a> {
    fn new(raw: &str, escape: char, vars: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Lexer {
            chars: raw.chars().collect(),
            pos: 0,
            escape,
            vars,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    /// Processes up to `stop` (consumed) or the end: the expanded text
    /// and its words. Reaching the end while looking for `stop` is an
    /// error. `raw_escapes` keeps escape characters in the text (a
    /// `${V#pattern}` pattern needs them to tell `\*` from `*`).
    fn process_until(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> Result<(String, Words), WordError> {
        let mut result = String::new();
        let mut words = Words::default();
        while let Some(ch) = self.peek() {
            if Some(ch) == stop {
                self.pos += 1;
                return Ok((result, words));
            }
            match ch {
                '\'' => {
                    let s = self.single_quoted()?;
                    result.push_str(&s);
                    words.add_raw_string(&s);
                }
                '"' => {
                    let s = self.double_quoted()?;
                    result.push_str(&s);
                    words.add_raw_string(&s);
                }
                '$' => {
                    let s = self.dollar()?;
                    result.push_str(&s);
                    words.add_string(&s);
                }
                _ => {
                    self.pos += 1;
                    if ch == self.escape {
                        if raw_escapes {
                            words.add_raw_char(ch);
                            result.push(ch);
                        }
                        // The escape character takes the next one
                        // literally; at the very end it is dropped.
                        let Some(escaped) = self.next() else { break };
                        words.add_raw_char(escaped);
                        result.push(escaped);
                    } else {
                        words.add_char(ch);
                        result.push(ch);
                    }
                }
            }
        }
        match stop {
            Some(c) => Err(WordError(format!(
                "unexpected end of statement while looking for matching {c}"
            ))),
            None => Ok((result, words)),
        }
    }

    fn single_quoted(&mut self) -> Result<String, WordError> {
        self.pos += 1; // the opening quote
        let mut s = String::new();
        loop {
            match self.next() {
                None => {
                    return Err(WordError(
                        "unexpected end of statement while looking for matching single-quote"
                            .into(),
                    ));
                }
                Some('\'') => return Ok(s),
                Some(c) => s.push(c),
            }
        }
    }

    fn double_quoted(&mut self) -> Result<String, WordError> {
        self.pos += 1; // the opening quote
        let mut s = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(WordError(
                        "unexpected end of statement while looking for matching double-quote"
                            .into(),
                    ));
                }
                Some('"') => {
                    self.pos += 1;
                    return Ok(s);
                }
                Some('$') => s.push_str(&self.dollar()?),
                Some(c) => {
                    self.pos += 1;
                    // Inside double quotes the escape character only
                    // escapes `"`, `$` and itself; otherwise it stays.
                    if c == self.escape {
                        if let Some(n @ ('"' | '$')) = self.peek() {
                            self.pos += 1;
                            s.push(n);
                            continue;
                        }
                        if self.peek() == Some(self.escape) {
                            self.pos += 1;
                        }
                    }
                    s.push(c);
                }
            }
        }
    }

    /// A name after `$`: letters, digits and `_`; a leading digit takes
    /// only digits; a special parameter (`$@`, `$*`, ...) is one char.
    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if name.is_empty() && c.is_ascii_digit() {
                while let Some(d) = self.peek().filter(char::is_ascii_digit) {
                    name.push(d);
                    self.pos += 1;
                }
                return name;
            }
            if name.is_empty() && "@*#?-$!".contains(c) {
                self.pos += 1;
                return c.to_string();
            }
            if !(c.is_alphanumeric() || c == '_') {
                break;
            }
            name.push(c);
            self.pos += 1;
        }
        name
    }

    fn dollar(&mut self) -> Result<String, WordError> {
        self.pos += 1; // `$`
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok((self.vars)(&name).unwrap_or_default());
        }
        self.pos += 1; // `{`
        match self.peek() {
            None => return Err(WordError("syntax error: missing '}'".into())),
            Some('{' | '}' | ':') => {
                return Err(WordError("syntax error: bad substitution".into()));
            }
            _ => {}
        }
        let name = self.name();
        let value = (self.vars)(&name);
        let (colon, modifier) = match self.next() {
            None => return Err(WordError("syntax error: missing '}'".into())),
            Some('}') => return Ok(value.unwrap_or_default()),
            Some('/') => return self.replace(value.unwrap_or_default()),
            Some(':') => (true, self.next()),
            Some(c) => (false, Some(c)),
        };
        // `${V:#p}` and `${V:%p}` mean nothing (BuildKit refuses them too).
        let known = if colon { "-+?" } else { "-+?#%" };
        let Some(m) = modifier.filter(|m| known.contains(*m)) else {
            let shown = format!(
                "{}{}",
                if colon { ":" } else { "" },
                modifier.unwrap_or(' ')
            );
            return Err(WordError(format!(
                "unsupported modifier ({}) in substitution",
                shown.trim_end()
            )));
        };
        let (word, _) = self
            .process_until(Some('}'), m == '#' || m == '%')
            .map_err(|e| self.missing_brace(e))?;
        // `:` makes an empty value count as unset.
        let unset = value.as_deref().is_none_or(|v| colon && v.is_empty());
        match m {
            '-' if unset => Ok(word),
            '+' if unset => Ok(String::new()),
            '+' => Ok(word),
            '?' if value.is_none() => Err(unset_error(&name, &word, "is not allowed to be unset")),
            '?' if unset => Err(unset_error(&name, &word, "is not allowed to be empty")),
            '#' | '%' => {
                let value = value.unwrap_or_default();
                let (greedy, word) = match word.strip_prefix(m) {
                    Some(w) => (true, w),
                    None => (false, word.as_str()),
                };
                let p = pattern::Pattern::parse(word)?;
                Ok(if m == '#' {
                    p.trim_prefix(&value, greedy)
                } else {
                    p.trim_suffix(&value, greedy)
                })
            }
            _ => Ok(value.unwrap_or_default()),
        }
    }

    /// `${VAR/pattern/replacement}` and `${VAR//pattern/replacement}`.
    fn replace(&mut self, value: String) -> Result<String, WordError> {
        let all = self.peek() == Some('/');
        if all {
            self.pos += 1;
        }
        let (pat, _) = self.process_until(Some('/'), true).map_err(|e| {
            if self.peek().is_none() {
                WordError("syntax error: missing '/' in ${}".into())
            } else {
                e
            }
        })?;
        let (replacement, _) = self
            .process_until(Some('}'), true)
            .map_err(|e| self.missing_brace(e))?;
        let p = pattern::Pattern::parse(&pat)?;
        Ok(p.replace(&value, &replacement, all))
    }

    /// An unterminated `${...` reads as docker says it.
    fn missing_brace(&self, e: WordError) -> WordError {
        if self.peek().is_none() {
            WordError("syntax error: missing '}'".into())
        } else {
            e
        }
    }
}

fn unset_error(name: &str, message: &str, default: &str) -> WordError {
    let message = if message.is_empty() { default } else { message };
    WordError(format!("{name}: {message}"))
}

#[path = "words_pattern.rs"]
mod pattern;

#[cfg(test)]
#[path = "words_tests.rs"]
mod tests;
