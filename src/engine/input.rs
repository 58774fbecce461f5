//! Checking and normalising `-e` and `--env-file` before anything is
//! created, so bad input changes nothing. Mounts: `engine::mounts`.

use std::path::{Path, PathBuf};

use super::EngineError;

/// Combines `--env-file`s (first) and `-e`s (later wins) into `K=V`
/// entries. A bare `K` takes skiff's own value and is dropped when unset,
/// as docker does.
pub fn parse_env_entries(
    env_files: &[PathBuf],
    env: &[String],
) -> Result<Vec<String>, EngineError> {
    let mut entries = Vec::new();
    for file in env_files {
        entries.extend(read_env_file(file)?);
    }
    entries.extend(env.iter().filter_map(|e| expand_env_entry(e)));
    Ok(entries)
}

fn expand_env_entry(entry: &str) -> Option<String> {
    if entry.contains('=') {
        return Some(entry.to_string());
    }
    std::env::var(entry)
        .ok()
        .map(|value| format!("{entry}={value}"))
}

fn read_env_file(path: &Path) -> Result<Vec<String>, EngineError> {
    let text = std::fs::read_to_string(path).map_err(EngineError::io(format!(
        "reading env file {}",
        path.display()
    )))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('=') {
            return Err(EngineError::Invalid(format!(
                "env file {} line {}: variable name is empty",
                path.display(),
                n + 1
            )));
        }
        out.extend(expand_env_entry(line));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_files_skip_comments_and_flags_win() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("f");
        std::fs::write(
            &file,
            "# comment\n\nA=from-file\nB=2\nSKIFF_SURELY_UNSET_VAR\n",
        )
        .unwrap();
        let env = parse_env_entries(&[file], &["A=flag".into()]).unwrap();
        assert_eq!(env, vec!["A=from-file", "B=2", "A=flag"]);
        assert!(parse_env_entries(&[tmp.path().join("missing")], &[]).is_err());
    }
}
