use super::*;

/// Cases from Go's `filepath.Match` table (path/filepath/match_test.go
/// semantics, written out here), plus `/` handling.
#[test]
fn go_match_table() {
    let cases: &[(&str, &str, bool)] = &[
        ("abc", "abc", true),
        ("*", "abc", true),
        ("*c", "abc", true),
        ("a*", "a", true),
        ("a*", "abc", true),
        ("a*", "ab/c", false),
        ("a*/b", "abc/b", true),
        ("a*/b", "a/c/b", false),
        ("a*b*c*d*e*/f", "axbxcxdxe/f", true),
        ("a*b*c*d*e*/f", "axbxcxdxexxx/f", true),
        ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false),
        ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", false),
        ("a*b?c*x", "abxbbxdbxebxczzx", true),
        ("a*b?c*x", "abxbbxdbxebxczzy", false),
        ("ab[c]", "abc", true),
        ("ab[b-d]", "abc", true),
        ("ab[e-g]", "abc", false),
        ("ab[^c]", "abc", false),
        ("ab[^b-d]", "abc", false),
        ("ab[^e-g]", "abc", true),
        ("a\\*b", "a*b", true),
        ("a\\*b", "ab", false),
        ("a?b", "a☺b", true),
        ("a[^a]b", "a☺b", true),
        ("a???b", "a☺b", false),
        ("a[^a][^a][^a]b", "a☺b", false),
        ("[a-ζ]*", "α", true),
        ("*[a-ζ]", "A", false),
        ("a?b", "a/b", false),
        ("a*b", "a/b", false),
        ("[\\]a]", "]", true),
        ("[\\-]", "-", true),
        ("[x\\-]", "x", true),
        ("[x\\-]", "-", true),
        ("[x\\-]", "z", false),
        ("[\\-x]", "x", true),
        ("[\\-x]", "a", false),
        ("*x", "xxx", true),
        // `!` is not negation in Go: it is a member.
        ("[!a]", "!", true),
        ("[!a]", "b", false),
        // A class may match `/` (only `*` and `?` stop there).
        ("a[/]b", "a/b", true),
        ("", "", true),
        ("", "a", false),
        ("*", "", true),
    ];
    for &(pattern, path, want) in cases {
        assert_eq!(matches(pattern, path), Ok(want), "{pattern:?} vs {path:?}");
    }
}

#[test]
fn malformed_patterns_are_errors_even_without_a_match() {
    for pattern in [
        "[]a]", "[-]", "[x-]", "[", "[^", "[^bc", "a[", "\\", "a\\", "[a-b-c]", "*[]", "a[]",
    ] {
        assert_eq!(
            matches(pattern, "zzz"),
            Err(PatternError(pattern.to_string())),
            "{pattern:?}"
        );
    }
}

#[test]
fn many_stars_do_not_blow_up() {
    let pattern = "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b";
    let path = "a".repeat(60);
    assert_eq!(matches(pattern, &path), Ok(false));
}

#[test]
fn has_meta_sees_every_special_character() {
    assert!(!has_meta("src/main.rs"));
    for p in ["*.rs", "a?", "[ab]", "a\\b"] {
        assert!(has_meta(p), "{p}");
    }
}
