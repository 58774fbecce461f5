//! From text to logical instruction lines, as BuildKit's parser reads a
//! Dockerfile: parser directives at the top, comments and empty lines
//! skipped, continuation lines joined (the escape character and the
//! blanks after it removed, nothing else: `a \` + `  b` is `a   b`),
//! comment and blank lines inside a continuation skipped, and the bodies
//! of heredocs read after the line that opens them.

use super::ast::{Directives, ParseError};
use super::split;

/// One instruction's text and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Logical {
    /// 1-based number of the instruction's first line.
    pub line: usize,
    /// Continuation lines joined; trimmed.
    pub text: String,
    /// Heredocs opened on the line, in order, bodies as read.
    pub heredocs: Vec<RawHeredoc>,
}

/// A heredoc as read: the body is raw (tabs kept even for `<<-`, the
/// shell strips them when it reads the text itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawHeredoc {
    pub name: String,
    pub body: String,
    pub chomp: bool,
    pub expand: bool,
}

impl RawHeredoc {
    /// The body as a file gets it: leading tabs of each line removed for
    /// `<<-`.
    pub fn chomped_body(&self) -> String {
        if !self.chomp {
            return self.body.clone();
        }
        self.body
            .split_inclusive('\n')
            .map(|l| l.trim_start_matches('\t'))
            .collect()
    }
}

/// Reads the directives and the logical lines of a whole file.
pub(crate) fn read(text: &str, file: &str) -> Result<(Directives, Vec<Logical>), ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // Go's bufio.ScanLines: split on `\n`, drop one trailing `\r`.
    let lines: Vec<&str> = text
        .split_inclusive('\n')
        .map(|l| l.strip_suffix('\n').unwrap_or(l))
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let err = |line: usize, message: String| ParseError {
        file: file.to_string(),
        line,
        message,
    };

    let mut directives = Directives::default();
    let mut seen: Vec<String> = Vec::new();
    let mut directives_done = false;
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let raw = lines[i];
        i += 1;
        let start = i;
        let trimmed = raw.trim_start();
        if !directives_done {
            match directive(trimmed) {
                Some((key, value)) => {
                    apply_directive(&mut directives, &mut seen, key, value)
                        .map_err(|m| err(start, m))?;
                    continue;
                }
                None => directives_done = true,
            }
        }
        if is_comment(raw) {
            continue;
        }
        let (mut joined, mut ended) = trim_continuation(trimmed, directives.escape);
        if ended && joined.trim().is_empty() {
            continue;
        }
        while !ended && i < lines.len() {
            let next = lines[i];
            i += 1;
            if is_comment(next) || next.trim().is_empty() {
                continue;
            }
            let (part, e) = trim_continuation(next, directives.escape);
            joined.push_str(&part);
            ended = e;
        }
        let joined = joined.trim().to_string();
        let mut heredocs = Vec::new();
        for marker in split::heredoc_markers(&joined, directives.escape).unwrap_or_default() {
            let Some(body) = heredoc_body(&lines, &mut i, &marker) else {
                return Err(err(start, format!("unterminated heredoc {}", marker.name)));
            };
            heredocs.push(RawHeredoc {
                name: marker.name,
                body,
                chomp: marker.chomp,
                expand: marker.expand,
            });
        }
        out.push(Logical {
            line: start,
            text: joined,
            heredocs,
        });
    }
    Ok((directives, out))
}

/// Records one directive; a repeated one or a bad escape is an error.
fn apply_directive(
    directives: &mut Directives,
    seen: &mut Vec<String>,
    key: String,
    value: String,
) -> Result<(), String> {
    if seen.contains(&key) {
        return Err(format!("only one {key} parser directive can be used"));
    }
    match key.as_str() {
        "escape" => {
            directives.escape = match value.as_str() {
                "\\" => '\\',
                "`" => '`',
                _ => {
                    return Err(format!(
                        "invalid escape token '{value}' does not match ` or \\"
                    ));
                }
            }
        }
        "syntax" => directives.syntax = Some(value),
        _ => {} // `check`: known to BuildKit, not acted on here
    }
    seen.push(key);
    Ok(())
}

/// The body of one heredoc, read from `lines[*i..]` up to its terminator
/// (after leading tabs for `<<-`); `None` if the file ends first.
fn heredoc_body(lines: &[&str], i: &mut usize, marker: &split::Marker) -> Option<String> {
    let mut body = String::new();
    while let Some(&l) = lines.get(*i) {
        *i += 1;
        let candidate = if marker.chomp {
            l.trim_start_matches('\t')
        } else {
            l
        };
        if candidate == marker.name {
            return Some(body);
        }
        body.push_str(l);
        body.push('\n');
    }
    None
}

/// `# key=value` with a known key (lowercased), as BuildKit's directive
/// pattern `^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`. An unknown key
/// is a comment and ends the directives.
fn directive(line: &str) -> Option<(String, String)> {
    let rest = line.strip_prefix('#')?.trim_start();
    let key_len = rest
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())))
        .map_or(rest.len(), |(i, _)| i);
    if key_len == 0 {
        return None;
    }
    let key = rest[..key_len].to_ascii_lowercase();
    let value = rest[key_len..].trim_start().strip_prefix('=')?.trim();
    if value.is_empty() || !matches!(key.as_str(), "escape" | "syntax" | "check") {
        return None;
    }
    Some((key, value.to_string()))
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// Removes a trailing escape character (and the blanks after it): the
/// text and whether the instruction ends on this line. An escaped escape
/// character (`echo \\`) does not continue the line, as BuildKit's
/// `([^\\])\\[ \t]*$|^\\[ \t]*$`.
fn trim_continuation(line: &str, escape: char) -> (String, bool) {
    let body = line.trim_end_matches([' ', '\t']);
    match body.strip_suffix(escape) {
        Some(before) if !before.ends_with(escape) => (before.to_string(), false),
        _ => (line.to_string(), true),
    }
}
