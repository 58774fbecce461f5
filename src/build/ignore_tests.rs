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

/// One-pattern cases with patternmatcher's answers (its own test table):
/// `**` in every position, classes, regex metacharacters taken literally.
#[test]
fn patternmatcher_cases() {
    let cases: &[(&str, &str, bool)] = &[
        ("**", "file", true),
        ("**", "file/", true),
        ("**/", "file", true),
        ("**", "/", true),
        ("**", "dir/file", true),
        ("**/**", "dir/file", true),
        ("dir/**", "dir/file", true),
        ("dir/**", "dir/dir2/file/", true),
        ("**/dir", "dir", true),
        ("**/dir", "dir/file", true),
        ("**/dir2/*", "dir/dir2/file", true),
        ("**/dir2/*", "dir/dir2/file/", true),
        ("**/dir2/**", "dir/dir2/dir3/file", true),
        ("**file", "file", true),
        ("**file", "dir/file", true),
        ("**file", "dir/dir/file", true),
        ("**/file*", "dir/dir/file.txt", true),
        ("**/file*.txt*", "dir/dir/file.txt", true),
        ("**/**/*.txt", "dir/dir/file.txt", true),
        ("**/**/*.txt2", "dir/dir/file.txt", false),
        ("**/*.txt", "file.txt", true),
        ("a**/*.txt", "a/file.txt", true),
        ("a**/*.txt", "a/dir/dir/file.txt", true),
        ("a/*.txt", "a/dir/file.txt", false),
        ("a/*.txt**", "a/file.txt", true),
        ("a[b-d]e", "ae", false),
        ("a[b-d]e", "ace", true),
        ("a[^b-d]e", "aze", true),
        (".*", ".foo", true),
        (".*", "foo", false),
        ("abc.def", "abcZdef", false),
        ("abc?def", "abcZdef", true),
        ("abc?def", "abcdef", false),
        ("a\\\\", "a\\", true),
        ("a\\*b", "a*b", true),
        ("**/foo/bar", "dir/dir2/foo/bar", true),
        ("abc/**", "abc", false),
        ("abc/**", "abc/def/ghi", true),
        ("**/.foo", ".foo", true),
        ("**/.foo", "bar.foo", false),
        ("a(b)c/def", "a(b)c/def", true),
        ("a.|)$(}+{bc", "a.|)$(}+{bc", true),
        (
            "dist/*.whl",
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            true,
        ),
        ("*.go", ".", false),
    ];
    for &(pattern, path, want) in cases {
        assert_eq!(
            rules(pattern).is_excluded(path),
            want,
            "{pattern:?} vs {path:?}"
        );
    }
    let multi: &[(&str, &str, bool)] = &[
        ("**\n!util/docker/web\n", "util/docker/web/foo", false),
        (
            "**\n!util/docker/web\nutil/docker/web/foo\n",
            "util/docker/web/foo",
            true,
        ),
        ("**\n!dist/*.whl\n", "dist/a-1.0+g0-py3-none-any.whl", false),
        ("!fileutils.go\n*.go\n", "fileutils.go", true),
        ("docs\n!docs/README.md\n", "docs/README.md", false),
        ("docs/\n!docs/README.md\n", "docs/README.md", false),
        ("docs/*\n!docs/README.md\n", "docs/README.md", false),
    ];
    for &(text, path, want) in multi {
        assert_eq!(rules(text).is_excluded(path), want, "{text:?} vs {path:?}");
    }
}
