//! One logical line (other than FROM) to its `Instruction`, with docker's
//! argument rules and messages. Arguments stay raw words: the executor
//! substitutes them per step.

use super::ast::*;
use super::flags::{Flags, Kind};
use super::lines::RawHeredoc;
use super::split;

/// Parses the instruction `written` (its keyword as written, any case)
/// with the text after it. Errors are the message only; the caller adds
/// file and line.
pub(crate) fn parse(
    written: &str,
    rest: &str,
    heredocs: &[RawHeredoc],
    escape: char,
) -> Result<Instruction, String> {
    let keyword = written.to_ascii_lowercase();
    let keyword = keyword.as_str();
    let name = keyword.to_ascii_uppercase();
    let (flag_words, args) = split::extract_flags(rest, escape);
    let flags = |known: &[(&str, Kind)]| Flags::parse(&name, &flag_words, known);
    let at_least_one = || {
        if args.is_empty() {
            Err(format!("{name} requires at least one argument"))
        } else {
            Ok(())
        }
    };
    let exactly_one = || {
        if args.is_empty() {
            Err(format!("{name} requires exactly one argument"))
        } else {
            Ok(args.to_string())
        }
    };
    Ok(match keyword {
        "run" => {
            let f = flags(&[
                ("mount", Kind::List),
                ("network", Kind::Str),
                ("security", Kind::Str),
            ])?;
            at_least_one()?;
            let (command, scripts) = run_command(args, heredocs)?;
            if command == Command::Exec(Vec::new()) {
                return Err(format!("{name} requires at least one argument"));
            }
            Instruction::Run(RunInstruction {
                command,
                scripts,
                mounts: f.list("mount"),
                network: f.string("network"),
                security: f.string("security"),
            })
        }
        "cmd" | "entrypoint" => {
            flags(&[])?;
            at_least_one()?;
            let command = command(args)?;
            if keyword == "cmd" {
                Instruction::Cmd(command)
            } else {
                Instruction::Entrypoint(command)
            }
        }
        "shell" => {
            flags(&[])?;
            let Some(argv) = split::json_array(args)? else {
                return Err("SHELL requires the arguments to be in JSON form".into());
            };
            if argv.is_empty() {
                return Err("SHELL requires at least one argument".into());
            }
            Instruction::Shell(argv)
        }
        "env" | "label" => {
            flags(&[])?;
            at_least_one()?;
            let pairs = name_values(&name, args, escape)?;
            if keyword == "env" {
                Instruction::Env(pairs)
            } else {
                Instruction::Label(pairs)
            }
        }
        "arg" => {
            flags(&[])?;
            at_least_one()?;
            let mut decls = Vec::new();
            for word in split::raw_words(args, escape) {
                let (n, default) = match word.split_once('=') {
                    Some((n, v)) => (n.to_string(), Some(v.to_string())),
                    None => (word, None),
                };
                if n.is_empty() {
                    return Err("ARG names can not be blank".into());
                }
                decls.push(ArgDecl { name: n, default });
            }
            Instruction::Arg(decls)
        }
        "expose" => {
            flags(&[])?;
            at_least_one()?;
            Instruction::Expose(split::blank_words(args))
        }
        "workdir" => {
            flags(&[])?;
            Instruction::Workdir(exactly_one()?)
        }
        "user" => {
            flags(&[])?;
            Instruction::User(exactly_one()?)
        }
        "stopsignal" => {
            flags(&[])?;
            Instruction::StopSignal(exactly_one()?)
        }
        "maintainer" => {
            flags(&[])?;
            Instruction::Maintainer(exactly_one()?)
        }
        "volume" => {
            flags(&[])?;
            at_least_one()?;
            let paths = split::json_array(args)?.unwrap_or_else(|| split::blank_words(args));
            let paths: Vec<String> = paths.iter().map(|p| p.trim().to_string()).collect();
            if paths.iter().any(String::is_empty) {
                return Err("VOLUME specified can not be an empty string".into());
            }
            Instruction::Volume(paths)
        }
        "copy" | "add" => copy(&name, keyword == "add", &flag_words, args, heredocs)?,
        "healthcheck" => healthcheck(&flag_words, args)?,
        "onbuild" => {
            flags(&[])?;
            at_least_one()?;
            let (sub, sub_rest) = split::split_command(args);
            match sub.to_ascii_lowercase().as_str() {
                "onbuild" => {
                    return Err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into());
                }
                "from" | "maintainer" => {
                    return Err(format!(
                        "{} isn't allowed as an ONBUILD trigger",
                        sub.to_ascii_uppercase()
                    ));
                }
                _ => {}
            }
            let parsed = parse(sub, sub_rest, heredocs, escape)?;
            // The trigger carries its heredocs, as BuildKit stores it.
            let mut trigger = args.to_string();
            for h in heredocs {
                trigger.push('\n');
                trigger.push_str(&h.body);
                trigger.push_str(&h.name);
            }
            Instruction::Onbuild {
                trigger,
                parsed: Box::new(parsed),
            }
        }
        "from" => unreachable!("FROM starts a stage; the caller handles it"),
        _ => return Err(unknown(written)),
    })
}

/// Exec form if the arguments are a JSON array of strings, else shell.
fn command(args: &str) -> Result<Command, String> {
    Ok(match split::json_array(args)? {
        Some(argv) => Command::Exec(argv),
        None => Command::Shell(args.to_string()),
    })
}

/// RUN's command and scripts. `RUN <<EOF` alone: the body is a script
/// (BuildKit runs it as a file when it starts with `#!`, else as the
/// shell's command text). Heredocs inside a longer command line: the
/// shell gets the line and, after a newline each, every body and its
/// terminator (BuildKit's reconstitution), so it applies quoting and
/// `<<-` itself.
fn run_command(args: &str, heredocs: &[RawHeredoc]) -> Result<(Command, Vec<Heredoc>), String> {
    if heredocs.is_empty() {
        return Ok((command(args)?, Vec::new()));
    }
    if heredocs.len() == 1 && split::marker(args).is_some() {
        let h = &heredocs[0];
        let script = Heredoc {
            name: h.name.clone(),
            body: h.chomped_body(),
            expand: h.expand,
        };
        return Ok((Command::Shell(args.to_string()), vec![script]));
    }
    let mut text = args.to_string();
    for h in heredocs {
        text.push('\n');
        text.push_str(&h.body);
        text.push_str(&h.name);
    }
    Ok((Command::Shell(text), Vec::new()))
}

/// ENV and LABEL: `k=v k2="v 2"` pairs, or the legacy `KEY value words`.
fn name_values(name: &str, args: &str, escape: char) -> Result<Vec<(String, String)>, String> {
    let words = split::raw_words(args, escape);
    if !words[0].contains('=') {
        let Some((key, value)) = args.split_once(char::is_whitespace) else {
            return Err(format!("{name} must have two arguments"));
        };
        return Ok(vec![(key.to_string(), value.trim_start().to_string())]);
    }
    let mut pairs = Vec::new();
    for word in words {
        let Some((key, value)) = word.split_once('=') else {
            return Err(format!(
                "Syntax error - can't find = in \"{word}\". Must be of the form: name=value"
            ));
        };
        if key.is_empty() {
            return Err(format!("{name} names can not be blank"));
        }
        pairs.push((key.to_string(), value.to_string()));
    }
    Ok(pairs)
}

fn copy(
    name: &str,
    is_add: bool,
    flag_words: &[String],
    args: &str,
    heredocs: &[RawHeredoc],
) -> Result<Instruction, String> {
    let mut known = vec![
        ("chown", Kind::Str),
        ("chmod", Kind::Str),
        ("link", Kind::Bool),
        ("exclude", Kind::List),
    ];
    if is_add {
        known.extend([("checksum", Kind::Str), ("keep-git-dir", Kind::Bool)]);
    } else {
        known.extend([("from", Kind::Str), ("parents", Kind::Bool)]);
    }
    let f = Flags::parse(name, flag_words, &known)?;
    let words = split::json_array(args)?.unwrap_or_else(|| split::blank_words(args));
    let Some((dest, sources)) = words.split_last().filter(|(_, s)| !s.is_empty()) else {
        return Err(format!(
            "{name} requires at least two arguments, but only one was provided. Destination could not be determined"
        ));
    };
    if !heredocs.is_empty() && split::marker(dest).is_some() {
        return Err(format!("{name} cannot accept a heredoc as a destination"));
    }
    let mut paths = Vec::new();
    let mut inline_files = Vec::new();
    for source in sources {
        let found = split::marker(source).and_then(|m| heredocs.iter().find(|h| h.name == m.name));
        match found {
            Some(h) => inline_files.push(Heredoc {
                name: h.name.clone(),
                body: h.chomped_body(),
                expand: h.expand,
            }),
            None => paths.push(source.clone()),
        }
    }
    let copy = CopyInstruction {
        sources: paths,
        inline_files,
        dest: dest.clone(),
        from: f.string("from"),
        chown: f.string("chown"),
        chmod: f.string("chmod"),
        link: f.bool("link"),
        parents: f.bool("parents"),
        exclude: f.list("exclude"),
        checksum: f.string("checksum"),
        keep_git_dir: f.bool("keep-git-dir"),
    };
    Ok(if is_add {
        Instruction::Add(copy)
    } else {
        Instruction::Copy(copy)
    })
}

fn healthcheck(flag_words: &[String], args: &str) -> Result<Instruction, String> {
    let f = Flags::parse(
        "HEALTHCHECK",
        flag_words,
        &[
            ("interval", Kind::Str),
            ("timeout", Kind::Str),
            ("start-period", Kind::Str),
            ("start-interval", Kind::Str),
            ("retries", Kind::Str),
        ],
    )?;
    let (kind, rest) = match args.find(char::is_whitespace) {
        Some(at) => (&args[..at], args[at..].trim_start()),
        None => (args, ""),
    };
    match kind.to_ascii_uppercase().as_str() {
        "" => Err("HEALTHCHECK requires at least one argument".into()),
        "NONE" if !rest.is_empty() => Err("HEALTHCHECK NONE takes no arguments".into()),
        "NONE" => Ok(Instruction::Healthcheck(None)),
        "CMD" if rest.is_empty() => Err("Missing command after HEALTHCHECK CMD".into()),
        "CMD" => {
            for (flag, value) in ["interval", "timeout", "start-period", "start-interval"]
                .iter()
                .filter_map(|n| f.string(n).map(|v| (n, v)))
            {
                super::duration::check(flag, &value)?;
            }
            if let Some(r) = f.string("retries") {
                match r.parse::<i32>() {
                    Ok(n) if n < 0 => return Err(format!("--retries cannot be negative ({n})")),
                    Ok(_) => {}
                    Err(_) => return Err(format!("invalid value for --retries: \"{r}\"")),
                }
            }
            Ok(Instruction::Healthcheck(Some(HealthcheckInstruction {
                test: command(rest)?,
                interval: f.string("interval"),
                timeout: f.string("timeout"),
                start_period: f.string("start-period"),
                start_interval: f.string("start-interval"),
                retries: f.string("retries"),
            })))
        }
        other => Err(format!("Unknown type \"{other}\" in HEALTHCHECK (try CMD)")),
    }
}

const INSTRUCTIONS: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// `unknown instruction: FORM (did you mean FROM?)`, the word as written:
/// a suggestion when an instruction is at most two edits away and the
/// edits are at most half the word (`FOO` is not a misspelt `FROM`).
fn unknown(name: &str) -> String {
    let upper = name.to_ascii_uppercase();
    let best = INSTRUCTIONS
        .iter()
        .map(|i| (edit_distance(&upper, i), i))
        .min()
        .filter(|(d, _)| *d <= 2 && d * 2 <= name.chars().count());
    match best {
        Some((_, i)) => format!("unknown instruction: {name} (did you mean {i}?)"),
        None => format!("unknown instruction: {name}"),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}
