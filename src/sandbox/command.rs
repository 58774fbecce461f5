//! Finding and executing the container's command, with docker's exit codes
//! for the two ways that can fail: 127 not found, 126 cannot execute.

use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

pub const EXIT_NOT_FOUND: u8 = 127;
pub const EXIT_CANNOT_EXECUTE: u8 = 126;

/// Why the command could not be started, with its exit code.
#[derive(Debug, PartialEq, Eq)]
pub struct ExecFailure {
    pub exit_code: u8,
    pub text: String,
}

fn not_found(cmd: &str) -> ExecFailure {
    ExecFailure {
        exit_code: EXIT_NOT_FOUND,
        text: format!("executable file \"{cmd}\" not found in $PATH: no such file or directory"),
    }
}

fn cannot_execute(cmd: &str, why: &str) -> ExecFailure {
    ExecFailure {
        exit_code: EXIT_CANNOT_EXECUTE,
        text: format!("cannot execute \"{cmd}\": {why}"),
    }
}

fn is_executable_file(path: &Path) -> Option<bool> {
    let meta = std::fs::metadata(path).ok()?;
    Some(
        meta.is_file()
            && meta.permissions().mode() & 0o111 != 0
            && nix::unistd::access(path, nix::unistd::AccessFlags::X_OK).is_ok(),
    )
}

/// Looks `cmd` up like execvp would, in the container's PATH (from `env`,
/// not skiff's own).
pub fn find_executable(cmd: &str, env: &[String]) -> Result<PathBuf, ExecFailure> {
    if cmd.is_empty() {
        return Err(not_found(cmd));
    }
    if cmd.contains('/') {
        return match is_executable_file(Path::new(cmd)) {
            None => Err(ExecFailure {
                exit_code: EXIT_NOT_FOUND,
                text: format!("\"{cmd}\": no such file or directory"),
            }),
            Some(false) => Err(cannot_execute(cmd, "permission denied")),
            Some(true) => Ok(PathBuf::from(cmd)),
        };
    }
    let path_var = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    let mut saw_non_executable = false;
    for dir in path_var.split(':').filter(|d| !d.is_empty()) {
        let candidate = Path::new(dir).join(cmd);
        match is_executable_file(&candidate) {
            Some(true) => return Ok(candidate),
            Some(false) => saw_non_executable = true,
            None => {}
        }
    }
    if saw_non_executable {
        Err(cannot_execute(cmd, "permission denied"))
    } else {
        Err(not_found(cmd))
    }
}

fn cstrings(items: &[String]) -> Result<Vec<CString>, ExecFailure> {
    items
        .iter()
        .map(|s| {
            CString::new(s.as_bytes()).map_err(|_| ExecFailure {
                exit_code: EXIT_CANNOT_EXECUTE,
                text: format!("argument or environment entry {s:?} contains a NUL byte"),
            })
        })
        .collect()
}

/// Replaces this process with the command. Returns only on failure.
pub fn exec_command(args: &[String], env: &[String]) -> ExecFailure {
    let Some(cmd) = args.first() else {
        return not_found("");
    };
    let path = match find_executable(cmd, env) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let (argv, envp) = match (cstrings(args), cstrings(env)) {
        (Ok(a), Ok(e)) => (a, e),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let Ok(path_c) = CString::new(path.as_os_str().as_encoded_bytes()) else {
        return not_found(cmd);
    };
    let err = match nix::unistd::execve(&path_c, &argv, &envp) {
        Err(e) => e,
        Ok(never) => match never {},
    };
    match err {
        // The file went away, or its interpreter (#!) does not exist.
        Errno::ENOENT => not_found(cmd),
        other => cannot_execute(cmd, other.desc()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_uses_the_given_path() {
        let env = vec!["PATH=/nonexistent:/bin".to_string()];
        assert_eq!(
            find_executable("sh", &env).unwrap(),
            PathBuf::from("/bin/sh")
        );
        assert_eq!(
            find_executable("no-such-command-xyz", &env)
                .unwrap_err()
                .exit_code,
            127
        );
    }

    #[test]
    fn non_executables_give_126_and_missing_paths_127() {
        assert_eq!(
            find_executable("/etc/passwd", &[]).unwrap_err().exit_code,
            126
        );
        assert_eq!(
            find_executable("/no/such/file", &[]).unwrap_err().exit_code,
            127
        );
        assert_eq!(find_executable("/tmp", &[]).unwrap_err().exit_code, 126);
    }
}
