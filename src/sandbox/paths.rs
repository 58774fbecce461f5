//! Resolving a container path on the host without leaving the container's
//! root: symlinks are followed as the container would see them, with `/`
//! meaning the container root, and `..` stops at the root.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

const MAX_SYMLINKS: usize = 40;

#[derive(Debug, thiserror::Error)]
#[error("resolving {path} inside the container: too many levels of symbolic links")]
pub struct SymlinkLoop {
    pub path: String,
}

/// The host path for container path `path` under `root`. Components that
/// do not exist yet are appended as given (the caller may create them).
pub fn resolve_in_root(root: &Path, path: &Path) -> Result<PathBuf, SymlinkLoop> {
    let mut pending: VecDeque<OsString> = components(path);
    let mut resolved: Vec<OsString> = Vec::new();
    let mut hops = 0;
    while let Some(part) = pending.pop_front() {
        if part == ".." {
            resolved.pop();
            continue;
        }
        let candidate = join(root, &resolved).join(&part);
        match std::fs::read_link(&candidate) {
            Ok(target) => {
                hops += 1;
                if hops > MAX_SYMLINKS {
                    return Err(SymlinkLoop {
                        path: path.display().to_string(),
                    });
                }
                if target.is_absolute() {
                    resolved.clear();
                }
                for c in components(&target).into_iter().rev() {
                    pending.push_front(c);
                }
            }
            Err(_) => resolved.push(part),
        }
    }
    Ok(join(root, &resolved))
}

fn components(path: &Path) -> VecDeque<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

fn join(root: &Path, parts: &[OsString]) -> PathBuf {
    let mut p = root.to_path_buf();
    p.extend(parts);
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::create_dir_all(root.join("usr/lib")).unwrap();
        symlink("/usr/lib", root.join("lib")).unwrap();
        symlink("../../../../etc", root.join("usr/escape")).unwrap();
        symlink("/", root.join("usr/top")).unwrap();
        assert_eq!(
            resolve_in_root(root, Path::new("/lib/x")).unwrap(),
            root.join("usr/lib/x")
        );
        assert_eq!(
            resolve_in_root(root, Path::new("/usr/escape/passwd")).unwrap(),
            root.join("etc/passwd"),
            "a relative link cannot climb out"
        );
        assert_eq!(
            resolve_in_root(root, Path::new("/usr/top/../../new")).unwrap(),
            root.join("new")
        );
    }

    #[test]
    fn loops_are_reported() {
        let tmp = tempfile::tempdir().unwrap();
        symlink("b", tmp.path().join("a")).unwrap();
        symlink("a", tmp.path().join("b")).unwrap();
        assert!(resolve_in_root(tmp.path(), Path::new("/a/x")).is_err());
    }
}
