use super::*;

fn ok(text: &str) -> Dockerfile {
    parse(text, "Dockerfile").unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

#[test]
fn smoke() {
    let d = ok(
        "# syntax=docker/dockerfile:1\nARG V=1\nFROM busybox:${V} AS Build\nRUN echo a \\\n  b\nCMD [\"sh\"]\nCOPY --from=x --chown=1:2 a b /d/\n",
    );
    println!("{d:#?}");
}
