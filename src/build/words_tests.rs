use super::*;

/// The environment of the tables: PWD and SHELL set, NULL set but
/// empty, ALL holding a space; anything else unset.
fn env(name: &str) -> Option<String> {
    match name {
        "PWD" => Some("/home".into()),
        "SHELL" => Some("bash".into()),
        "NULL" => Some(String::new()),
        "ALL" => Some("a b".into()),
        "FILE" => Some("dir/sub/file.tar.gz".into()),
        _ => None,
    }
}

fn word(raw: &str) -> Result<String, WordError> {
    expand_word(raw, '\\', &env)
}

/// Quotes and escapes. The expected values of this table and of
/// `variables`, `modifiers` and `pattern_removal_and_replacement` were
/// checked against `bash -c 'printf %s <word>'` with the variables above;
/// the one difference is docker's: a trailing lone escape is dropped
/// (`hello\`), where bash keeps it.
#[test]
fn quoting_and_escapes() {
    let cases: &[(&str, &str)] = &[
        ("hello", "hello"),
        ("he'll'o", "hello"),
        ("he\\'llo", "he'llo"),
        ("abc\\tdef", "abctdef"),
        ("\"abc\\tdef\"", "abc\\tdef"),
        ("\"abc\\\\tdef\"", "abc\\tdef"),
        ("'abc\\tdef'", "abc\\tdef"),
        ("hello\\", "hello"),
        ("hello\\\\", "hello\\"),
        ("\"hel'lo\"", "hel'lo"),
        ("'hello\\'", "hello\\"),
        ("'hello\\\\there'", "hello\\\\there"),
        ("\"''\"", "''"),
        ("'\"hello\"'", "\"hello\""),
        ("안'녕'하세요", "안녕하세요"),
        ("안녕\\'하세요", "안녕'하세요"),
        ("\"a\\\"b\"", "a\"b"),
    ];
    for &(raw, want) in cases {
        assert_eq!(word(raw).as_deref(), Ok(want), "{raw:?}");
    }
}

#[test]
fn variables() {
    let cases: &[(&str, &str)] = &[
        ("$.", "$."),
        ("he$1x", "hex"),
        ("he$.x", "he$.x"),
        ("he$pwd.", "he."),
        ("he$PWD", "he/home"),
        ("he\\$PWD", "he$PWD"),
        ("he\\\\$PWD", "he\\/home"),
        ("\"he\\$PWD\"", "he$PWD"),
        ("\"he\\\\$PWD\"", "he\\/home"),
        ("\\${}", "${}"),
        ("he\\${}xx", "he${}xx"),
        ("he${hi}xx", "hexx"),
        ("he${PWD}", "he/home"),
        ("'he${XX}'", "he${XX}"),
        ("\"he${PWD}\"", "he/home"),
        ("\"he'$PWD'\"", "he'/home'"),
        ("'$PWD'", "$PWD"),
        ("'\\$PWD'", "\\$PWD"),
        ("$", "$"),
        ("a$", "a$"),
        ("$PWD$SHELL", "/homebash"),
        ("${PWD}_x", "/home_x"),
        ("$PWD_x", ""),
    ];
    for &(raw, want) in cases {
        assert_eq!(word(raw).as_deref(), Ok(want), "{raw:?}");
    }
}

/// docker's documented modifiers: `:-`, `:+`, `-`, `+`, `:?`, `?`.
#[test]
fn modifiers() {
    let cases: &[(&str, &str)] = &[
        ("he${XXX:-000}xx", "he000xx"),
        ("he${PWD:-000}xx", "he/homexx"),
        ("he${XXX:-$PWD}xx", "he/homexx"),
        ("he${XXX:-${PWD:-yyy}}xx", "he/homexx"),
        ("he${XXX:-${YYY:-yyy}}xx", "heyyyxx"),
        ("he${PWD?}", "he/home"),
        ("he${PWD:?}", "he/home"),
        ("he${NULL?}", "he"),
        ("he${XXX:+${PWD}}xx", "hexx"),
        ("he${PWD:+${XXX}}xx", "hexx"),
        ("he${PWD:+${SHELL}}xx", "hebashxx"),
        ("he${XXX:+000}xx", "hexx"),
        ("he${PWD:+000}xx", "he000xx"),
        ("he${PWD:+${PWD}:}xx", "he/home:xx"),
        ("he${XXX:-\\$PWD:}xx", "he$PWD:xx"),
        ("he${XXX:-\\${PWD}z}xx", "he${PWDz}xx"),
        // Empty counts as unset only with the colon.
        ("${NULL:-d}", "d"),
        ("${NULL-d}", ""),
        ("${NULL:+a}", ""),
        ("${NULL+a}", "a"),
        ("${XXX-d}", "d"),
        ("${XXX+a}", ""),
        ("${XXX:-'a b'}", "a b"),
        ("${XXX:-\"$PWD x\"}", "/home x"),
    ];
    for &(raw, want) in cases {
        assert_eq!(word(raw).as_deref(), Ok(want), "{raw:?}");
    }
}

#[test]
fn pattern_removal_and_replacement() {
    let cases: &[(&str, &str)] = &[
        ("${FILE#*/}", "sub/file.tar.gz"),
        ("${FILE##*/}", "file.tar.gz"),
        ("${FILE%.*}", "dir/sub/file.tar"),
        ("${FILE%%.*}", "dir/sub/file"),
        ("${FILE#nomatch}", "dir/sub/file.tar.gz"),
        ("${FILE%/*}", "dir/sub"),
        ("${FILE#d?r}", "/sub/file.tar.gz"),
        ("${FILE/\\//-}", "dir-sub/file.tar.gz"),
        ("${FILE//\\//-}", "dir-sub-file.tar.gz"),
        ("${FILE/s*b/X}", "dir/X/file.tar.gz"),
        ("${XXX#a}", ""),
        ("${PWD#\\*}", "/home"),
    ];
    for &(raw, want) in cases {
        assert_eq!(word(raw).as_deref(), Ok(want), "{raw:?}");
    }
}

#[test]
fn errors_name_the_word_and_the_problem() {
    let cases: &[(&str, &str)] = &[
        (
            "he'llo",
            "unexpected end of statement while looking for matching single-quote",
        ),
        (
            "he\\\\'llo",
            "unexpected end of statement while looking for matching single-quote",
        ),
        (
            "\"hello",
            "unexpected end of statement while looking for matching double-quote",
        ),
        (
            "\"hello\\\"",
            "unexpected end of statement while looking for matching double-quote",
        ),
        ("${}", "syntax error: bad substitution"),
        ("he${}xx", "syntax error: bad substitution"),
        ("he${.}", "unsupported modifier (.) in substitution"),
        ("he${XXX:YYY}", "unsupported modifier (:Y) in substitution"),
        (
            "he${PWD:=000}xx",
            "unsupported modifier (:=) in substitution",
        ),
        ("he${XXX?}", "XXX: is not allowed to be unset"),
        ("he${XXX:?}", "XXX: is not allowed to be unset"),
        ("he${NULL:?}", "NULL: is not allowed to be empty"),
        ("${XXX:?set XXX first}", "XXX: set XXX first"),
        ("he${PWD", "syntax error: missing '}'"),
        ("${XXX:-abc", "syntax error: missing '}'"),
        ("${", "syntax error: missing '}'"),
    ];
    for &(raw, problem) in cases {
        let want = format!("failed to process \"{raw}\": {problem}");
        assert_eq!(word(raw), Err(WordError(want)), "{raw:?}");
    }
}

#[test]
fn backtick_escape() {
    let w = |raw: &str| expand_word(raw, '`', &env);
    assert_eq!(w("c:\\dir\\$PWD").as_deref(), Ok("c:\\dir\\/home"));
    assert_eq!(w("a`$PWD").as_deref(), Ok("a$PWD"));
    assert_eq!(w("a` b").as_deref(), Ok("a b"));
    assert_eq!(w("\"a`\"b\"").as_deref(), Ok("a\"b"));
    assert_eq!(w("\"a\\b\"").as_deref(), Ok("a\\b"));
}

#[test]
fn words_split_like_process_words() {
    let words = |raw: &str| expand_words(raw, '\\', &env).unwrap();
    let cases: &[(&str, &[&str])] = &[
        ("hello", &["hello"]),
        ("hello world", &["hello", "world"]),
        ("  hello   world  ", &["hello", "world"]),
        ("\"hello world\"", &["hello world"]),
        ("'hello world'", &["hello world"]),
        ("hello\\ world", &["hello world"]),
        ("\"hello\"world", &["helloworld"]),
        ("$PWD", &["/home"]),
        ("${PWD} x", &["/home", "x"]),
        // An unquoted value splits, a quoted one does not.
        ("$ALL", &["a", "b"]),
        ("\"$ALL\"", &["a b"]),
        ("x$ALL", &["xa", "b"]),
        ("${XXX:-a b}", &["a", "b"]),
        // Empty words vanish, quoted or not.
        ("\"\" x ''", &["x"]),
        ("$XXX", &[]),
        ("", &[]),
    ];
    for &(raw, want) in cases {
        assert_eq!(words(raw), want, "{raw:?}");
    }
    assert!(expand_words("'a", '\\', &env).is_err());
}

/// docker's documentation example: ENV FOO=/bar, then `${FOO}`, `$FOO`
/// and `\$FOO`.
#[test]
fn documentation_example() {
    let foo = |n: &str| (n == "FOO").then(|| "/bar".to_string());
    assert_eq!(expand_word("${FOO}", '\\', &foo).as_deref(), Ok("/bar"));
    assert_eq!(expand_words(". $FOO", '\\', &foo).unwrap(), [".", "/bar"]);
    assert_eq!(
        expand_words("\\$FOO /quux", '\\', &foo).unwrap(),
        ["$FOO", "/quux"]
    );
    assert_eq!(
        expand_word("${FOO:-x}/${BAR:-bar}", '\\', &foo).as_deref(),
        Ok("/bar/bar")
    );
    assert_eq!(
        expand_word("${FOO:+alt}${BAR:+alt}", '\\', &foo).as_deref(),
        Ok("alt")
    );
}

/// Pattern cases with regex metacharacters, escapes and variables in the
/// pattern (the values BuildKit's own lexer tests expect).
#[test]
fn patterns_with_special_characters() {
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        (
            "${FOO#()[]{\\}^$.\\*\\?|\\\\}",
            &[("FOO", "()[]{}^$.*?|\\x")],
            "x",
        ),
        ("${FOO%%\\**}", &[("FOO", "xx**")], "xx"),
        ("${FOO#*x*y}", &[("FOO", "xxyy")], "y"),
        ("${FOO#*}", &[("FOO", "xxyy")], "xxyy"),
        ("${FOO#$BAR}", &[("FOO", "xxyy"), ("BAR", "x")], "xyy"),
        ("${FOO#$BAR}", &[("FOO", "xxyy"), ("BAR", "")], "xxyy"),
        ("${FOO#}", &[("FOO", "xxyy")], "xxyy"),
        ("${FOO##*x}", &[("FOO", "xxyy")], "yy"),
        ("${FOO#?\\?}", &[("FOO", "???y")], "?y"),
        ("${ABC:-.}${FOO%x}${ABC:-.}", &[("FOO", "xxyy")], ".xxyy."),
        ("${FOO%%\\**\\*}", &[("FOO", "a***yy*")], "a"),
        (
            "${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}",
            &[("FOO", "/foo*/*/*.txt"), ("NEEDLE", "\\*/")],
            "/foo.*/*.txt - /foo..*.txt",
        ),
        (
            "${FOO/$NEEDLE/} - ${FOO//$NEEDLE/}",
            &[("FOO", "/tmp/tmp/bar.txt"), ("NEEDLE", "/tmp")],
            "/tmp/bar.txt - /bar.txt",
        ),
        (
            "${FOO/$N/$R} - ${FOO//$N/$R}",
            &[("FOO", "/a/foo/b/c.txt"), ("N", "/?/"), ("R", "/")],
            "/foo/b/c.txt - /foo/c.txt",
        ),
        (
            "${FOO//\\//\\/}",
            &[("FOO", "/tmp/foo.txt")],
            "\\/tmp\\/foo.txt",
        ),
        ("${FOO/$BAR/ww}", &[("FOO", "xxyy"), ("BAR", "")], "wwxxyy"),
        ("${FOO///}", &[("FOO", "xxyy")], "xxyy"),
        ("${FOO///}", &[], ""),
    ];
    for &(raw, env, want) in cases {
        let lookup = |n: &str| {
            env.iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.to_string())
        };
        assert_eq!(
            expand_word(raw, '\\', &lookup).as_deref(),
            Ok(want),
            "{raw:?}"
        );
    }
    for raw in [
        "${FOO:#}",
        "${FOO:##}",
        "${FOO:%}",
        "${FOO:%%}",
        "${FOO//ww}",
        "${FOO//}",
        "${FOO=}",
    ] {
        assert!(expand_word(raw, '\\', &env).is_err(), "{raw:?}");
    }
}
