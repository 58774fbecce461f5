//! Errors: docker's messages, with the file and the instruction's line.

use super::*;

fn err(text: &str) -> ParseError {
    match parse(text, "Containerfile") {
        Ok(d) => panic!("{text:?} parsed: {d:?}"),
        Err(e) => e,
    }
}

fn check(text: &str, line: usize, message: &str) {
    let e = err(text);
    assert_eq!((e.line, e.message.as_str()), (line, message), "{text:?}");
    assert_eq!(e.file, "Containerfile");
}

#[test]
fn display_is_file_line_message() {
    assert_eq!(
        err("FROM a\nFORM b\n").to_string(),
        "Containerfile:2: unknown instruction: FORM (did you mean FROM?)"
    );
}

#[test]
fn file_level_errors() {
    check("", 1, "file with no instructions");
    check("# just a comment\n\n  \n", 1, "file with no instructions");
    check("ARG A=1\n", 1, "dockerfile contains no stages to build");
    check(
        "ARG A\nRUN x\nFROM a\n",
        2,
        "no build stage in current context: RUN before the first FROM",
    );
    check(
        "# escape=`\n# escape=\\\nFROM a\n",
        2,
        "only one escape parser directive can be used",
    );
    check(
        "# escape=x\nFROM a\n",
        1,
        "invalid escape token 'x' does not match ` or \\",
    );
    check(
        "FROM a AS x\nFROM b AS X\n",
        2,
        "duplicate stage name \"x\"",
    );
}

#[test]
fn unknown_instructions() {
    check("FROM a\nfoo bar\n", 2, "unknown instruction: foo");
    check("FROM a\nFOO bar\n", 2, "unknown instruction: FOO");
    check(
        "FROM a\nform b\n",
        2,
        "unknown instruction: form (did you mean FROM?)",
    );
    check(
        "FROM a\nMAINTAINER --boo joe@example.com\n",
        2,
        "unknown flag: --boo for MAINTAINER",
    );
    check(
        "FROM a\n\nRUNN x\n",
        3,
        "unknown instruction: RUNN (did you mean RUN?)",
    );
    check(
        "FROM a\nRUN a \\\n  b\nCOPPY x y\n",
        4,
        "unknown instruction: COPPY (did you mean COPY?)",
    );
}

#[test]
fn argument_counts() {
    let cases: &[(&str, &str)] = &[
        ("RUN", "RUN requires at least one argument"),
        ("RUN []", "RUN requires at least one argument"),
        ("CMD", "CMD requires at least one argument"),
        ("ENV", "ENV requires at least one argument"),
        ("ENV KEY", "ENV must have two arguments"),
        (
            "ENV a=b c",
            "Syntax error - can't find = in \"c\". Must be of the form: name=value",
        ),
        ("ENV =x", "ENV names can not be blank"),
        ("LABEL", "LABEL requires at least one argument"),
        ("ARG", "ARG requires at least one argument"),
        ("ARG =x", "ARG names can not be blank"),
        ("EXPOSE", "EXPOSE requires at least one argument"),
        ("WORKDIR", "WORKDIR requires exactly one argument"),
        ("USER", "USER requires exactly one argument"),
        ("STOPSIGNAL", "STOPSIGNAL requires exactly one argument"),
        ("VOLUME", "VOLUME requires at least one argument"),
        (
            "VOLUME [\"\"]",
            "VOLUME specified can not be an empty string",
        ),
        (
            "COPY a",
            "COPY requires at least two arguments, but only one was provided. Destination could not be determined",
        ),
        (
            "ADD",
            "ADD requires at least two arguments, but only one was provided. Destination could not be determined",
        ),
        (
            "COPY a <<EOF\nx\nEOF",
            "COPY cannot accept a heredoc as a destination",
        ),
        (
            "SHELL /bin/sh -c",
            "SHELL requires the arguments to be in JSON form",
        ),
        ("SHELL []", "SHELL requires at least one argument"),
        (
            "RUN [1, 2]",
            "when using JSON array syntax, arrays must be comprised of strings only",
        ),
        (
            "CMD [\"a\", [\"b\"]]",
            "when using JSON array syntax, arrays must be comprised of strings only",
        ),
        (
            "COPY [\"a\", 1]",
            "when using JSON array syntax, arrays must be comprised of strings only",
        ),
        ("HEALTHCHECK", "HEALTHCHECK requires at least one argument"),
        ("HEALTHCHECK NONE x", "HEALTHCHECK NONE takes no arguments"),
        ("HEALTHCHECK CMD", "Missing command after HEALTHCHECK CMD"),
        (
            "HEALTHCHECK RUN x",
            "Unknown type \"RUN\" in HEALTHCHECK (try CMD)",
        ),
        ("ONBUILD", "ONBUILD requires at least one argument"),
        (
            "ONBUILD ONBUILD RUN x",
            "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
        ),
        ("ONBUILD FROM x", "FROM isn't allowed as an ONBUILD trigger"),
        (
            "ONBUILD maintainer x",
            "MAINTAINER isn't allowed as an ONBUILD trigger",
        ),
        ("ONBUILD FOO x", "unknown instruction: FOO"),
    ];
    for &(line, message) in cases {
        check(&format!("FROM a\n{line}\n"), 2, message);
    }
}

#[test]
fn from_errors() {
    check("FROM\n", 1, "FROM requires either one or three arguments");
    check(
        "FROM a b\n",
        1,
        "FROM requires either one or three arguments",
    );
    check(
        "FROM a AS\n",
        1,
        "FROM requires either one or three arguments",
    );
    check(
        "FROM a IS b\n",
        1,
        "FROM requires either one or three arguments",
    );
    check(
        "FROM a AS 1st\n",
        1,
        "invalid name for build stage: \"1st\", name can't start with a number or contain symbols",
    );
    check(
        "FROM a AS my/stage\n",
        1,
        "invalid name for build stage: \"my/stage\", name can't start with a number or contain symbols",
    );
    check(
        "FROM --platfrom=x a\n",
        1,
        "unknown flag: --platfrom for FROM",
    );
}

#[test]
fn flag_errors_name_the_flag_and_the_instruction() {
    let cases: &[(&str, &str)] = &[
        ("RUN --foo=bar x", "unknown flag: --foo for RUN"),
        ("RUN --network x", "missing a value on flag: --network"),
        (
            "RUN --network=a --network=b x",
            "duplicate flag specified: --network",
        ),
        (
            "COPY --checksum=sha256:x a b",
            "unknown flag: --checksum for COPY",
        ),
        ("ADD --from=x a b", "unknown flag: --from for ADD"),
        (
            "COPY --link=maybe a b",
            "expecting boolean value for flag --link, not: maybe",
        ),
        ("ENV --x=1 a=b", "unknown flag: --x for ENV"),
        ("CMD --help", "unknown flag: --help for CMD"),
        (
            "HEALTHCHECK --interval=abc CMD x",
            "time: invalid duration \"abc\" (--interval)",
        ),
        (
            "HEALTHCHECK --timeout=10us CMD x",
            "Interval \"timeout\" cannot be less than 1ms",
        ),
        (
            "HEALTHCHECK --retries=-1 CMD x",
            "--retries cannot be negative (-1)",
        ),
        (
            "HEALTHCHECK --retries=x CMD x",
            "invalid value for --retries: \"x\"",
        ),
        (
            "HEALTHCHECK --bogus=1 CMD x",
            "unknown flag: --bogus for HEALTHCHECK",
        ),
    ];
    for &(line, message) in cases {
        check(&format!("FROM a\n{line}\n"), 2, message);
    }
}

#[test]
fn heredoc_errors_point_at_the_instruction() {
    check(
        "FROM a\nRUN <<EOF\nbody\nEOFX\n",
        2,
        "unterminated heredoc EOF",
    );
    check(
        "FROM a\nRUN x\nCOPY <<A <<B /d\na\nA\n",
        3,
        "unterminated heredoc B",
    );
}

#[test]
fn durations_parse_like_go() {
    use std::time::Duration;
    let cases: &[(&str, Option<Duration>)] = &[
        ("30s", Some(Duration::from_secs(30))),
        ("1m30s", Some(Duration::from_secs(90))),
        ("1.5h", Some(Duration::from_secs(5400))),
        ("300ms", Some(Duration::from_millis(300))),
        ("2us", Some(Duration::from_micros(2))),
        ("0", Some(Duration::ZERO)),
        ("", None),
        ("10", None),
        ("-1s", None),
        ("1x", None),
        ("s", None),
        ("1..2s", None),
    ];
    for &(text, want) in cases {
        assert_eq!(parse_duration(text), want, "{text:?}");
    }
}

/// Junk never panics: lines built from the characters the parser treats
/// specially, in every instruction, with and without the backtick escape.
#[test]
fn junk_never_panics() {
    const PIECES: &[&str] = &[
        "RUN",
        "COPY",
        "ADD",
        "FROM",
        "ONBUILD",
        "HEALTHCHECK",
        "ENV",
        "ARG",
        "LABEL",
        "SHELL",
        "VOLUME",
        "x",
        " ",
        "\t",
        "\\",
        "`",
        "\n",
        "\r\n",
        "#",
        "# escape=`",
        "<<",
        "<<-",
        "EOF",
        "'",
        "\"",
        "[",
        "]",
        ",",
        "=",
        "--",
        "--mount=",
        "--from=",
        "AS",
        "$",
        "{",
        "}",
        "é",
        "\u{feff}",
        "NONE",
        "CMD",
        "[\"a\"]",
        "]\"",
    ];
    // A fixed linear congruential generator: the same junk every run.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize
    };
    for _ in 0..600 {
        let n = 1 + next() % 24;
        let text: String = (0..n).map(|_| PIECES[next() % PIECES.len()]).collect();
        let _ = parse(&text, "junk");
        let _ = parse(&format!("FROM a\n{text}"), "junk");
        let _ = crate::build::words::expand_words(&text, '\\', &|_| Some("v a".into()));
        let _ = crate::build::ignore::IgnoreRules::parse(&text, "junk");
    }
}
