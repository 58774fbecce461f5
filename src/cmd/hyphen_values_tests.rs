//! Free-text flag values may begin with `-`, as with docker and podman
//! (`--format '--{{.ID}}--'`, `-e -x=1`): parsed here with the real clap
//! definitions and the same `--` insertion `parse` does.

use clap::{ArgMatches, CommandFactory};

use super::{Cli, argv};

fn matches(line: &[&str]) -> ArgMatches {
    let args = std::iter::once("skiff")
        .chain(line.iter().copied())
        .map(std::ffi::OsString::from)
        .collect();
    let mut command = Cli::command();
    let args = argv::end_flags_at_first_positional(&command, args);
    command
        .try_get_matches_from_mut(args)
        .unwrap_or_else(|e| panic!("{line:?}: {e}"))
}

/// The matches of the innermost subcommand named by `path`.
fn sub<'a>(m: &'a ArgMatches, path: &[&str]) -> &'a ArgMatches {
    path.iter()
        .fold(m, |m, name| m.subcommand_matches(name).expect(name))
}

fn values(m: &ArgMatches, id: &str) -> Vec<String> {
    m.get_many::<String>(id)
        .map(|v| v.cloned().collect())
        .unwrap_or_default()
}

fn value(m: &ArgMatches, id: &str) -> String {
    m.get_one::<String>(id).cloned().unwrap_or_default()
}

#[test]
fn format_values_may_begin_with_a_dash() {
    for (line, path) in [
        (
            &["history", "--format", "--{{.ID}}--", "busybox"][..],
            &["history"][..],
        ),
        (&["ps", "--format", "-{{.ID}}"], &["ps"]),
        (&["images", "--format", "-{{.ID}}"], &["images"]),
        (
            &["image", "inspect", "-f", "-{{.Id}}", "busybox"],
            &["image", "inspect"],
        ),
        (&["inspect", "-f", "-{{.Id}}", "ctr"], &["inspect"]),
        (
            &["volume", "ls", "--format", "-{{.Name}}"],
            &["volume", "ls"],
        ),
        (
            &["system", "df", "--format", "-{{.Type}}"],
            &["system", "df"],
        ),
        (&["info", "-f", "-{{.Store.GraphRoot}}"], &["info"]),
        (
            &["version", "--format", "-{{.Client.Version}}"],
            &["version"],
        ),
    ] {
        let m = matches(line);
        let format = value(sub(&m, path), "format");
        assert!(format.starts_with('-'), "{line:?} gave {format:?}");
    }
}

#[test]
fn run_takes_dashed_env_labels_entrypoint_and_health_cmd() {
    let m = matches(&[
        "run",
        "-e",
        "-x=1",
        "--env",
        "--y",
        "-l",
        "-a=b",
        "--entrypoint",
        "-sh",
        "--health-cmd",
        "-c true",
        "--log-opt",
        "-max-size=1k",
        "busybox",
        "-c",
        "echo",
    ]);
    let run = sub(&m, &["run"]);
    assert_eq!(values(run, "env"), ["-x=1", "--y"]);
    assert_eq!(values(run, "label"), ["-a=b"]);
    assert_eq!(value(run, "entrypoint"), "-sh");
    assert_eq!(value(run, "health_cmd"), "-c true");
    assert_eq!(values(run, "log_opt"), ["-max-size=1k"]);
    // Flags still end at the image: `-c` belongs to the command.
    assert_eq!(value(run, "image"), "busybox");
    assert_eq!(values(run, "command"), ["-c", "echo"]);
}

#[test]
fn exec_commit_import_and_volumes_take_dashed_values() {
    let m = matches(&["exec", "-e", "-x=1", "ctr", "env"]);
    assert_eq!(values(sub(&m, &["exec"]), "env"), ["-x=1"]);

    let m = matches(&[
        "commit", "-m", "-fix-", "-c", "-ENV A=1", "-a", "-me", "ctr",
    ]);
    let commit = sub(&m, &["commit"]);
    assert_eq!(value(commit, "message"), "-fix-");
    assert_eq!(values(commit, "change"), ["-ENV A=1"]);
    assert_eq!(value(commit, "author"), "-me");

    let m = matches(&["import", "--message", "-m", "-c", "-CMD x", "root.tar"]);
    let import = sub(&m, &["import"]);
    assert_eq!(value(import, "message"), "-m");
    assert_eq!(values(import, "change"), ["-CMD x"]);

    let m = matches(&["volume", "create", "-l", "-k=v", "data"]);
    assert_eq!(values(sub(&m, &["volume", "create"]), "label"), ["-k=v"]);

    let m = matches(&["login", "-u", "-me", "-p", "-secret", "localhost:5000"]);
    let login = sub(&m, &["login"]);
    assert_eq!(value(login, "password"), "-secret");
}

#[test]
fn switches_and_positionals_still_parse() {
    let m = matches(&["ps", "-a", "--format", "{{.ID}}"]);
    assert!(sub(&m, &["ps"]).get_flag("all"));
    let m = matches(&["history", "--format", "-x", "busybox"]);
    assert_eq!(value(sub(&m, &["history"]), "image"), "busybox");
}
