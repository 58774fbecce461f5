//! `skiff build` tests: build contexts under the user's work directory,
//! builds whose output is kept whatever their status, and what the store
//! holds (layer directories, containers) to tell a cache hit from work.

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;
use std::process::Output;

use super::ctx::Ctx;

/// Writes a context `work/<name>/` with a Dockerfile and `files`
/// (relative path, contents); returns its path as text.
pub fn context(ctx: &Ctx, name: &str, dockerfile: &str, files: &[(&str, &str)]) -> String {
    let dir = ctx.make_dir(name);
    ctx.write_file(&format!("{name}/Dockerfile"), dockerfile);
    for (rel, contents) in files {
        ctx.write_file(&format!("{name}/{rel}"), contents);
    }
    dir.to_str().unwrap().to_string()
}

/// `skiff build ARGS…`, whatever its status.
pub fn build(ctx: &Ctx, args: &[&str]) -> Output {
    let mut all = vec!["build"];
    all.extend_from_slice(args);
    ctx.run_status(&all)
}

/// `skiff build ARGS…` that must succeed: its stdout.
pub fn build_ok(ctx: &Ctx, args: &[&str]) -> String {
    let out = build(ctx, args);
    assert!(
        out.status.success(),
        "{}: skiff build {args:?} failed ({:?}):\nstdout:\n{}\nstderr:\n{}",
        ctx.user,
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The image ID a build printed last.
pub fn last_line(stdout: &str) -> String {
    stdout.lines().last().unwrap_or_default().trim().to_string()
}

/// The unpacked layers in the store (`<root>/layers/<hex>`).
pub fn layer_dirs(ctx: &Ctx) -> BTreeSet<String> {
    names_in(ctx.root.join("layers"))
}

/// Container directories in the store (named by 64-hex IDs; `names/`
/// is the name index).
pub fn container_dirs(ctx: &Ctx) -> BTreeSet<String> {
    names_in(ctx.root.join("containers"))
        .into_iter()
        .filter(|n| n.len() == 64)
        .collect()
}

fn names_in(dir: PathBuf) -> BTreeSet<String> {
    fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// `image inspect --format TEMPLATE IMAGE`, trimmed.
pub fn inspect(ctx: &Ctx, image: &str, template: &str) -> String {
    ctx.run_ok(&["image", "inspect", "--format", template, image])
        .trim()
        .to_string()
}
