//! The Dockerfile parser. `parse` is the one entry point; the types it
//! returns are in `ast`.
//!
//! Layers: `lines` turns text into logical lines (directives, comments,
//! continuations, heredoc bodies); `split` cuts a line into keyword,
//! flags and raw words; `instructions` gives each keyword its meaning;
//! this module groups instructions into stages.

pub mod ast;
pub mod duration;
mod flags;
mod instructions;
mod keyword;
mod lines;
mod split;

pub use ast::*;
pub use duration::parse_duration;

/// Parses a whole Dockerfile.
pub fn parse(text: &str, file_name: &str) -> Result<Dockerfile, ParseError> {
    let err = |line: usize, message: String| ParseError {
        file: file_name.to_string(),
        line,
        message,
    };
    let (directives, logical) = lines::read(text, file_name)?;
    if logical.is_empty() {
        return Err(err(1, "file with no instructions".into()));
    }
    let escape = directives.escape;
    let mut global_args = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for l in logical {
        let (keyword, rest) = split::split_command(&l.text);
        if keyword.eq_ignore_ascii_case("from") {
            let stage = from(rest, stages.len(), &l, escape).map_err(|m| err(l.line, m))?;
            if let Some(name) = stage
                .name
                .as_ref()
                .filter(|n| stages.iter().any(|s| s.name.as_ref() == Some(*n)))
            {
                return Err(err(l.line, format!("duplicate stage name \"{name}\"")));
            }
            stages.push(stage);
            continue;
        }
        let value =
            instructions::parse(keyword, rest, &l.heredocs, escape).map_err(|m| err(l.line, m))?;
        let located = Located {
            line: l.line,
            text: l.text.clone(),
            value,
        };
        match (stages.last_mut(), located) {
            (Some(stage), located) => stage.instructions.push(located),
            (
                None,
                Located {
                    line,
                    text,
                    value: Instruction::Arg(decls),
                },
            ) => global_args.extend(decls.into_iter().map(|value| Located {
                line,
                text: text.clone(),
                value,
            })),
            (None, located) => {
                return Err(err(
                    located.line,
                    format!(
                        "no build stage in current context: {} before the first FROM",
                        keyword.to_ascii_uppercase()
                    ),
                ));
            }
        }
    }
    if stages.is_empty() {
        return Err(err(1, "dockerfile contains no stages to build".into()));
    }
    Ok(Dockerfile {
        file_name: file_name.to_string(),
        directives,
        global_args,
        stages,
    })
}

/// `FROM [--platform=p] image [AS name]`.
fn from(rest: &str, index: usize, l: &lines::Logical, escape: char) -> Result<Stage, String> {
    let (flag_words, args) = split::extract_flags(rest, escape);
    let f = flags::Flags::parse("FROM", &flag_words, &[("platform", flags::Kind::Str)])?;
    let words = split::blank_words(args);
    let name = match words.as_slice() {
        [_] => None,
        [_, as_, name] if as_.eq_ignore_ascii_case("as") => Some(stage_name(name)?),
        _ => return Err("FROM requires either one or three arguments".into()),
    };
    Ok(Stage {
        index,
        name,
        base: words[0].clone(),
        platform: f.string("platform"),
        from_line: l.line,
        from_text: l.text.clone(),
        instructions: Vec::new(),
    })
}

/// docker's rule: `^[a-z][a-z0-9-_.]*$` after lowercasing.
fn stage_name(name: &str) -> Result<String, String> {
    let lower = name.to_ascii_lowercase();
    let mut chars = lower.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
    if !ok {
        return Err(format!(
            "invalid name for build stage: \"{name}\", name can't start with a number or contain symbols"
        ));
    }
    Ok(lower)
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "heredoc_tests.rs"]
mod heredoc_tests;

#[cfg(test)]
#[path = "error_tests.rs"]
mod error_tests;
