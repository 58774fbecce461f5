//! Splitting one logical line the way BuildKit's parser does, before any
//! instruction-specific meaning: the keyword, the leading `--flags`, raw
//! words (quotes kept), the JSON exec form, and heredoc markers.

/// The keyword as written and the rest of the line, trimmed.
pub(crate) fn split_command(line: &str) -> (&str, &str) {
    let line = line.trim();
    match line.find(char::is_whitespace) {
        Some(at) => (&line[..at], line[at..].trim()),
        None => (line, ""),
    }
}

/// The leading `--name[=value]` words (quotes removed, the escape
/// character escapes the next one) and the rest of the line. A lone `--`
/// ends the flags.
pub(crate) fn extract_flags(rest: &str, escape: char) -> (Vec<String>, &str) {
    let mut flags = Vec::new();
    let mut s = rest.trim_start();
    loop {
        if !s.starts_with("--") {
            return (flags, s);
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        let mut chars = s.char_indices();
        let mut end = s.len();
        while let Some((i, c)) = chars.next() {
            match quote {
                None if c.is_whitespace() => {
                    end = i;
                    break;
                }
                None if c == '\'' || c == '"' => quote = Some(c),
                Some(q) if c == q => quote = None,
                _ if c == escape => {
                    if let Some((_, n)) = chars.next() {
                        word.push(n);
                    }
                }
                _ => word.push(c),
            }
        }
        let after = s[end..].trim_start();
        if word == "--" {
            return (flags, after);
        }
        flags.push(word);
        s = after;
    }
}

/// Words split on unquoted, unescaped whitespace, with the quotes and
/// escape characters kept (docker's `parseWords`): what ENV, LABEL and
/// ARG name=value pairs are cut from.
pub(crate) fn raw_words(rest: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            None if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
                continue;
            }
            None if c == '\'' || c == '"' => quote = Some(c),
            Some(q) if c == q => quote = None,
            _ => {}
        }
        in_word = true;
        // The escape character keeps itself and protects the next one,
        // except inside single quotes where nothing is escaped.
        if c == escape && quote != Some('\'') {
            let Some(n) = chars.next() else { break };
            word.push(c);
            word.push(n);
            continue;
        }
        word.push(c);
    }
    if in_word {
        words.push(word);
    }
    words
}

/// Words separated by blanks, nothing else (docker's
/// `parseStringsWhitespaceDelimited`, what FROM uses).
pub(crate) fn blank_words(rest: &str) -> Vec<String> {
    rest.split_whitespace().map(str::to_string).collect()
}

/// The exec form: `rest` is a JSON array of strings (Go's
/// `json.Unmarshal`: nothing but blanks may follow). Anything else is the
/// shell form (`None`), except a valid array holding something other than
/// strings, which is an error, as docker says.
pub(crate) fn json_array(rest: &str) -> Result<Option<Vec<String>>, String> {
    if !rest.starts_with('[') {
        return Ok(None);
    }
    let Ok(serde_json::Value::Array(items)) = serde_json::from_str(rest) else {
        return Ok(None);
    };
    items
        .into_iter()
        .map(|v| match v {
            serde_json::Value::String(s) => Ok(s),
            _ => Err(
                "when using JSON array syntax, arrays must be comprised of strings only"
                    .to_string(),
            ),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// A `<<[-]NAME` marker found among a line's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Marker {
    pub name: String,
    pub chomp: bool,
    pub expand: bool,
}

/// The heredoc markers of a RUN, COPY or ADD line in shell form, `None`
/// for any other line. A marker is a whole word `[n]<<[-]NAME` (BuildKit:
/// `^(\d*)<<(-?)\s*([^<]*)$`), NAME after quote removal; a quoted NAME
/// means the body is not expanded. `ONBUILD RUN <<EOF` has them too.
pub(crate) fn heredoc_markers(line: &str, escape: char) -> Option<Vec<Marker>> {
    let (keyword, rest) = split_command(line);
    let keyword = keyword.to_ascii_lowercase();
    if keyword == "onbuild" {
        return heredoc_markers(rest, escape);
    }
    if !matches!(keyword.as_str(), "run" | "copy" | "add") || !rest.contains("<<") {
        return None;
    }
    let (_, args) = extract_flags(rest, escape);
    if !matches!(json_array(args), Ok(None)) {
        return None;
    }
    // BuildKit's lexer keeps the blanks after `<<` in the word, so
    // `cat << EOF` has the marker `<< EOF`.
    let mut words = raw_words(args, '\\').into_iter().peekable();
    let mut markers = Vec::new();
    while let Some(mut word) = words.next() {
        if let Some(next) = words.next_if(|_| word.ends_with("<<")) {
            word = format!("{word} {next}");
        }
        markers.extend(marker(&word));
    }
    Some(markers)
}

/// The marker a word is, if it is one.
pub(crate) fn marker(word: &str) -> Option<Marker> {
    let after_fd = word.trim_start_matches(|c: char| c.is_ascii_digit());
    let rest = after_fd.strip_prefix("<<")?;
    let (chomp, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let rest = rest.trim_start();
    if rest.is_empty() || rest.contains('<') {
        return None;
    }
    let (name, quoted) = unquote(rest)?;
    if name.is_empty() {
        return None;
    }
    Some(Marker {
        expand: !quoted,
        name,
        chomp,
    })
}

/// Quote removal of a heredoc name (`"EOF"`, `'EOF'`, `E\OF`), `$` kept
/// as BuildKit keeps unset variables there; `None` if the name is not one
/// word. The flag says whether any quote was removed.
fn unquote(text: &str) -> Option<(String, bool)> {
    let mut out = String::new();
    let mut quoted = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                quoted = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        c => out.push(c),
                    }
                }
            }
            '"' => {
                quoted = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => out.push(chars.next()?),
                        c => out.push(c),
                    }
                }
            }
            '\\' => {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            c if c.is_whitespace() => return None,
            c => out.push(c),
        }
    }
    Some((out, quoted))
}
