//! docker stops reading flags at the first positional of `run`, `create`
//! and `exec` (the image, the container): everything after it belongs to
//! the command, `-c` or `-m` included (`skiff run --entrypoint sh busybox
//! -c 'echo hi'`). clap cannot stop early, so an `--` goes in right after
//! that positional, found with clap's own knowledge of which flags take a
//! value.

use std::ffi::OsString;

/// Subcommands whose first positional ends the flags.
const STOPS_AT_FIRST_POSITIONAL: [&str; 3] = ["run", "create", "exec"];

/// Whether the flag spelled `arg` (without its value) takes a value in
/// `command`; unknown flags are taken to be switches (clap reports them).
fn long_takes_value(command: &clap::Command, name: &str) -> bool {
    command
        .get_arguments()
        .find(|a| {
            a.get_long() == Some(name)
                || a.get_all_aliases()
                    .is_some_and(|aliases| aliases.contains(&name))
        })
        .is_some_and(|a| a.get_action().takes_values())
}

fn short_takes_value(command: &clap::Command, name: char) -> bool {
    command
        .get_arguments()
        .find(|a| a.get_short() == Some(name))
        .is_some_and(|a| a.get_action().takes_values())
}

/// Index of the first positional in `args[from..]` as `command` parses
/// it, or `None` when there is none or the user already wrote `--`.
fn first_positional(command: &clap::Command, args: &[OsString], from: usize) -> Option<usize> {
    let mut i = from;
    while i < args.len() {
        let arg = args[i].to_str()?;
        if arg == "--" {
            return None;
        }
        if let Some(long) = arg.strip_prefix("--") {
            if !long.contains('=') && long_takes_value(command, long) {
                i += 1;
            }
        } else if let Some(shorts) = arg.strip_prefix('-').filter(|s| !s.is_empty()) {
            // A cluster such as `-it` or `-e=X`/`-eX`: the first flag that
            // takes a value takes the rest, or the next argument.
            for (at, c) in shorts.char_indices() {
                if short_takes_value(command, c) {
                    if at + c.len_utf8() == shorts.len() {
                        i += 1;
                    }
                    break;
                }
            }
        } else {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Inserts `--` after the image (container) of `run`, `create` and `exec`
/// (also under `skiff container`); other command lines pass unchanged.
pub fn end_flags_at_first_positional(
    root: &clap::Command,
    mut args: Vec<OsString>,
) -> Vec<OsString> {
    let mut command = root;
    let mut i = 1;
    while i < args.len() {
        let Some(arg) = args[i].to_str() else {
            return args;
        };
        match arg {
            // skiff's own global flags before the subcommand.
            "--root" | "--runroot" => i += 1,
            a if a.starts_with('-') => {}
            name => match command.find_subcommand(name) {
                Some(sub) if STOPS_AT_FIRST_POSITIONAL.contains(&name) => {
                    if let Some(at) = first_positional(sub, &args, i + 1) {
                        args.insert(at + 1, OsString::from("--"));
                    }
                    return args;
                }
                Some(sub) if name == "container" => command = sub,
                _ => return args,
            },
        }
        i += 1;
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, ArgAction, Command};

    fn cli() -> Command {
        let run = Command::new("run")
            .arg(Arg::new("entrypoint").long("entrypoint"))
            .arg(
                Arg::new("env")
                    .short('e')
                    .long("env")
                    .action(ArgAction::Append),
            )
            .arg(Arg::new("i").short('i').action(ArgAction::SetTrue))
            .arg(Arg::new("t").short('t').action(ArgAction::SetTrue))
            .arg(Arg::new("cpu").short('c').long("cpu-shares"))
            .arg(Arg::new("image"))
            .arg(Arg::new("command").num_args(0..).trailing_var_arg(true));
        Command::new("skiff")
            .arg(Arg::new("root").long("root"))
            .subcommand(run.clone())
            .subcommand(Command::new("container").subcommand(run))
            .subcommand(Command::new("ps").arg(Arg::new("all").short('a')))
    }

    fn fixed(args: &[&str]) -> Vec<String> {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        end_flags_at_first_positional(&cli(), args)
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn flags_end_at_the_image() {
        assert_eq!(
            fixed(&[
                "skiff",
                "run",
                "--entrypoint",
                "sh",
                "busybox",
                "-c",
                "echo"
            ]),
            [
                "skiff",
                "run",
                "--entrypoint",
                "sh",
                "busybox",
                "--",
                "-c",
                "echo"
            ]
        );
        assert_eq!(
            fixed(&[
                "skiff", "--root", "/r", "run", "-it", "-e", "A=1", "-eB=2", "img", "-c"
            ]),
            [
                "skiff", "--root", "/r", "run", "-it", "-e", "A=1", "-eB=2", "img", "--", "-c"
            ]
        );
        assert_eq!(
            fixed(&["skiff", "container", "run", "--env=X", "img"]),
            ["skiff", "container", "run", "--env=X", "img", "--"]
        );
    }

    #[test]
    fn other_lines_pass_unchanged() {
        for line in [
            &["skiff", "ps", "-a"][..],
            &["skiff", "run", "--", "img"],
            &["skiff", "run", "-e"],
        ] {
            assert_eq!(fixed(line), line);
        }
        // After the image even `--` is the command's, as in docker.
        assert_eq!(
            fixed(&["skiff", "run", "img", "--", "x"]),
            ["skiff", "run", "img", "--", "--", "x"]
        );
    }
}
