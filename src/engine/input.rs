//! Checking and normalising user input (`-v`, `--tmpfs`, `-e`,
//! `--env-file`) before anything is created, so bad input changes nothing.

use std::path::{Path, PathBuf};

use super::EngineError;
use crate::sandbox::spec::MountRequest;

/// `-v SRC:DST[:OPTS]` with an absolute, existing host source.
pub fn parse_volume(spec: &str) -> Result<MountRequest, EngineError> {
    let invalid =
        |why: &str| EngineError::Invalid(format!("invalid volume specification \"{spec}\": {why}"));
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, destination, options) = match parts.as_slice() {
        [src, dst] => (*src, *dst, ""),
        [src, dst, opts] => (*src, *dst, *opts),
        [_] => {
            return Err(invalid(
                "anonymous volumes are not supported yet: give SOURCE:DESTINATION",
            ));
        }
        _ => return Err(invalid("expected SOURCE:DESTINATION[:OPTIONS]")),
    };
    if source.is_empty() || destination.is_empty() {
        return Err(invalid("empty source or destination"));
    }
    if !source.starts_with('/') {
        return Err(invalid(
            "the source must be an absolute host path (named volumes are not supported yet)",
        ));
    }
    if !destination.starts_with('/') {
        return Err(invalid("the destination must be an absolute path"));
    }
    let mut read_only = false;
    for opt in options.split(',').filter(|o| !o.is_empty()) {
        match opt {
            "ro" => read_only = true,
            "rw" => read_only = false,
            // SELinux relabelling and propagation hints: nothing to do on
            // hosts without SELinux; accepted for docker compatibility.
            "z" | "Z" | "rprivate" | "private" => {}
            other => return Err(invalid(&format!("unknown option \"{other}\""))),
        }
    }
    let source_path = PathBuf::from(source);
    std::fs::metadata(&source_path).map_err(|e| invalid(&format!("source {source}: {e}")))?;
    Ok(MountRequest::Bind {
        source: source_path,
        destination: destination.to_string(),
        read_only,
    })
}

/// `--tmpfs DST[:OPTS]`.
pub fn parse_tmpfs(spec: &str) -> Result<MountRequest, EngineError> {
    let (destination, options) = spec.split_once(':').unwrap_or((spec, ""));
    if !destination.starts_with('/') {
        return Err(EngineError::Invalid(format!(
            "invalid tmpfs specification \"{spec}\": the destination must be an absolute path"
        )));
    }
    Ok(MountRequest::Tmpfs {
        destination: destination.to_string(),
        options: options
            .split(',')
            .filter(|o| !o.is_empty())
            .map(String::from)
            .collect(),
    })
}

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
    fn volumes_parse_and_bad_specs_are_refused() {
        let ok = parse_volume("/tmp:/src:ro").unwrap();
        assert_eq!(
            ok,
            MountRequest::Bind {
                source: "/tmp".into(),
                destination: "/src".into(),
                read_only: true
            }
        );
        for bad in [
            "bad",
            "rel:/x",
            "/tmp:rel",
            "/tmp:/x:bogus",
            "/no/such/dir:/x",
            "/tmp:/x:ro:extra",
            ":/x",
        ] {
            let err = parse_volume(bad).unwrap_err().to_string();
            assert!(err.contains("invalid volume specification"), "{bad}: {err}");
        }
    }

    #[test]
    fn tmpfs_takes_options() {
        assert_eq!(
            parse_tmpfs("/scratch:size=1m,mode=1777").unwrap(),
            MountRequest::Tmpfs {
                destination: "/scratch".into(),
                options: vec!["size=1m".into(), "mode=1777".into()]
            }
        );
        assert!(parse_tmpfs("scratch").is_err());
    }

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
