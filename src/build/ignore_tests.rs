use super::*;

fn rules(text: &str) -> IgnoreRules {
    IgnoreRules::parse(text, ".dockerignore").unwrap()
}

fn check(text: &str, cases: &[(&str, bool)]) {
    let r = rules(text);
    for &(path, want) in cases {
        assert_eq!(r.is_excluded(path), want, "{text:?}: {path}");
    }
}

#[test]
fn docker_docs_example() {
    // From docker's documentation of .dockerignore.
    check(
        "# comment\n*/temp*\n*/*/temp*\ntemp?\n",
        &[
            ("somedir/temporary.txt", true),
            ("somedir/temp", true),
            ("somedir/temp/inner", true),
            ("somedir/subdir/temporary.txt", true),
            ("tempa", true),
            ("tempb", true),
            ("temp", false),
            ("temporary.txt", false),
            ("a/b/c/temp.txt", false),
            ("# comment", false),
        ],
    );
}

#[test]
fn double_star_matches_any_number_of_dirs() {
    check(
        "**/*.go\n",
        &[
            ("main.go", true),
            ("a/main.go", true),
            ("a/b/c/main.go", true),
            ("main.rs", false),
            ("a/gopher", false),
        ],
    );
    check(
        "a/**/z\n",
        &[
            ("a/z", true),
            ("a/b/z", true),
            ("a/b/c/z", true),
            ("b/z", false),
        ],
    );
    check(
        "dir/**\n",
        &[
            ("dir/x", true),
            ("dir/x/y", true),
            ("dir", false),
            ("dirx", false),
        ],
    );
}

#[test]
fn exceptions_and_last_match_wins() {
    check(
        "*.md\n!README.md\n",
        &[("a.md", true), ("README.md", false), ("x/README.md", false)],
    );
    // docker's docs: README-secret.md stays out...
    check(
        "*.md\n!README*.md\nREADME-secret.md\n",
        &[
            ("README-secret.md", true),
            ("README-a.md", false),
            ("b.md", true),
        ],
    );
    // ...but not when the exception comes last.
    check(
        "*.md\nREADME-secret.md\n!README*.md\n",
        &[("README-secret.md", false), ("b.md", true)],
    );
    // Everything but some: `*` then exceptions.
    check(
        "*\n!src\n!Cargo.toml\n",
        &[
            ("src", false),
            ("src/main.rs", false),
            ("Cargo.toml", false),
            ("target", true),
            ("target/debug/x", true),
        ],
    );
}

#[test]
fn excluding_a_dir_excludes_below_it() {
    check(
        "node_modules\nbuild/\n",
        &[
            ("node_modules", true),
            ("node_modules/a/b.js", true),
            ("build/out", true),
            ("src/node_modules", false),
            ("node_modules2", false),
        ],
    );
}

#[test]
fn patterns_are_cleaned_and_rooted() {
    check(
        "/foo\n./bar/\nbaz/../qux\n  spaced  \n\n",
        &[
            ("foo", true),
            ("foo/x", true),
            ("a/foo", false),
            ("bar/x", true),
            ("qux", true),
            ("baz", false),
            ("spaced", true),
        ],
    );
    // `.` is the context root, which docker never matches: nothing goes.
    check(".\n", &[("a", false), ("a/b", false)]);
    // `#` only in column 1 starts a comment.
    check(" #x\n", &[("#x", true)]);
    check("! /foo\n", &[("foo", false)]);
}

#[test]
fn bad_lines_are_errors() {
    let e = IgnoreRules::parse("a\n!\n", "ctx/.dockerignore").unwrap_err();
    assert_eq!(
        e.to_string(),
        "ctx/.dockerignore: illegal exclusion pattern: \"!\""
    );
    let e = IgnoreRules::parse("[z-\n", ".dockerignore").unwrap_err();
    assert!(e.message.contains("[z-"), "{e}");
}

#[test]
fn may_include_below_follows_the_exceptions() {
    let r = rules("build\n!build/keep/*.txt\n");
    assert!(r.is_excluded("build/x"));
    assert!(!r.is_excluded("build/keep/a.txt"));
    assert!(r.may_include_below("build"));
    assert!(r.may_include_below("build/keep"));
    assert!(!r.may_include_below("build/other"));
    let r = rules("*\n!**/*.rs\n");
    assert!(r.may_include_below("anything/at/all"));
    assert!(!rules("build\n").may_include_below("build"));
}

#[test]
fn clean_is_go_filepath_clean() {
    for (input, want) in [
        ("", "."),
        (".", "."),
        ("./a", "a"),
        ("a/", "a"),
        ("a//b", "a/b"),
        ("a/./b/../c", "a/c"),
        ("../a", "../a"),
        ("a/../../b", "../b"),
        ("/../a", "/a"),
        ("/", "/"),
    ] {
        assert_eq!(clean(input), want, "{input:?}");
    }
}

#[test]
fn ignore_file_choice() {
    let dir = std::env::temp_dir().join(format!("skiff-ignore-test-{}", std::process::id()));
    let ctx = dir.join("ctx");
    std::fs::create_dir_all(ctx.join("docker")).unwrap();
    let dockerfile = ctx.join("docker/Dockerfile.java");
    assert_eq!(ignore_file_for(&ctx, &dockerfile), None);
    std::fs::write(ctx.join(".containerignore"), "x\n").unwrap();
    assert_eq!(
        ignore_file_for(&ctx, &dockerfile),
        Some(ctx.join(".containerignore"))
    );
    std::fs::write(ctx.join(".dockerignore"), "x\n").unwrap();
    assert_eq!(
        ignore_file_for(&ctx, &dockerfile),
        Some(ctx.join(".dockerignore"))
    );
    let beside = ctx.join("docker/Dockerfile.java.dockerignore");
    std::fs::write(&beside, "x\n").unwrap();
    assert_eq!(ignore_file_for(&ctx, &dockerfile), Some(beside));
    assert_eq!(
        ignore_file_for(&ctx, Path::new("-")),
        Some(ctx.join(".dockerignore"))
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
