//! An image's files as a container would see them, read from its layer
//! directories without mounting: the topmost layer that has a path wins,
//! a whiteout hides it, an opaque directory hides what lower layers have
//! below it. `lookup` follows no symlink (a path through one counts as
//! missing); `resolve` follows them inside the image's root, as a
//! container would see them (`/bin -> usr/bin`), for a build's
//! destinations and `COPY --from` sources.

use std::fs::{self, Metadata};
use std::path::{Path, PathBuf};

use crate::layers::{OPAQUE_XATTR, is_whiteout};

/// The layer directories of an image, bottom first.
#[derive(Debug, Clone, Default)]
pub struct Layered {
    pub dirs: Vec<PathBuf>,
}

fn is_opaque(path: &Path) -> bool {
    matches!(crate::xattr::get_path(path, OPAQUE_XATTR), Ok(Some(v)) if v == b"y")
}

/// `a/b/c` → [`a`, `a/b`, `a/b/c`].
fn prefixes(rel: &str) -> Vec<String> {
    let parts: Vec<&str> = rel
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    (1..=parts.len()).map(|n| parts[..n].join("/")).collect()
}

impl Layered {
    /// The entry for `rel` (relative to the image root) and its host
    /// path, if the image has it.
    pub fn lookup(&self, rel: &str) -> Option<(PathBuf, Metadata)> {
        let prefixes = prefixes(rel);
        if prefixes.is_empty() {
            let top = self.dirs.last()?;
            return fs::symlink_metadata(top).ok().map(|m| (top.clone(), m));
        }
        'layers: for dir in self.dirs.iter().rev() {
            let mut hidden_below = false;
            for (i, prefix) in prefixes.iter().enumerate() {
                let path = dir.join(prefix);
                let Ok(meta) = fs::symlink_metadata(&path) else {
                    if hidden_below {
                        return None;
                    }
                    continue 'layers;
                };
                if is_whiteout(&meta) {
                    return None;
                }
                let last = i + 1 == prefixes.len();
                if last {
                    return Some((path, meta));
                }
                if !meta.is_dir() {
                    // A file or symlink where a directory would be.
                    return None;
                }
                if is_opaque(&path) {
                    hidden_below = true;
                }
            }
        }
        None
    }

    /// `rel` with the image's symlinks followed inside its root (an
    /// absolute target starts at the image root, `..` stops there); the
    /// last component too when `follow_last`. What does not exist is kept
    /// as written.
    pub fn resolve(&self, rel: &str, follow_last: bool) -> String {
        let mut pending: std::collections::VecDeque<String> =
            rel.split('/').map(str::to_string).collect();
        let mut done: Vec<String> = Vec::new();
        // Linux's limit of links in one resolution.
        let mut hops = 40;
        while let Some(part) = pending.pop_front() {
            match part.as_str() {
                "" | "." => continue,
                ".." => {
                    done.pop();
                    continue;
                }
                _ => {}
            }
            let is_last = pending.iter().all(|p| p.is_empty() || p == ".");
            if is_last && !follow_last {
                done.push(part);
                break;
            }
            let candidate = if done.is_empty() {
                part.clone()
            } else {
                format!("{}/{part}", done.join("/"))
            };
            let target = match self.lookup(&candidate) {
                Some((path, meta)) if meta.file_type().is_symlink() && hops > 0 => {
                    fs::read_link(path).ok()
                }
                _ => None,
            };
            match target {
                Some(target) => {
                    hops -= 1;
                    let text = target.to_string_lossy().into_owned();
                    if text.starts_with('/') {
                        done.clear();
                    }
                    for piece in text.split('/').rev() {
                        pending.push_front(piece.to_string());
                    }
                }
                None => done.push(part),
            }
        }
        done.join("/")
    }

    /// Whether `rel` is a directory in the image, symlinks followed.
    pub fn is_dir(&self, rel: &str) -> bool {
        self.lookup(&self.resolve(rel, true))
            .is_some_and(|(_, m)| m.is_dir())
    }

    /// A small text file of the image (`/etc/passwd`), symlinks followed.
    pub fn read_text(&self, rel: &str) -> Option<String> {
        let (path, meta) = self.lookup(&self.resolve(rel, true))?;
        meta.is_file()
            .then(|| fs::read_to_string(path).ok())
            .flatten()
    }

    /// The names in directory `rel`, merged over the layers.
    pub fn read_dir(&self, rel: &str) -> Vec<String> {
        let mut names = std::collections::BTreeSet::new();
        let mut hidden = std::collections::BTreeSet::new();
        for dir in self.dirs.iter().rev() {
            let path = if rel.is_empty() {
                dir.clone()
            } else {
                dir.join(rel)
            };
            match fs::symlink_metadata(&path) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => break,
                Err(_) => continue,
            }
            if let Ok(entries) = fs::read_dir(&path) {
                for entry in entries.flatten() {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if hidden.contains(&name) {
                        continue;
                    }
                    match entry.metadata() {
                        Ok(m) if is_whiteout(&m) => {
                            hidden.insert(name);
                        }
                        _ => {
                            names.insert(name);
                        }
                    }
                }
            }
            if is_opaque(&path) {
                break;
            }
        }
        names.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_layers_win_and_whiteouts_hide() {
        let tmp = tempfile::tempdir().unwrap();
        let low = tmp.path().join("low");
        let high = tmp.path().join("high");
        fs::create_dir_all(low.join("etc")).unwrap();
        fs::write(low.join("etc/passwd"), "low").unwrap();
        fs::write(low.join("etc/group"), "g").unwrap();
        fs::create_dir_all(high.join("etc")).unwrap();
        fs::write(high.join("etc/passwd"), "high").unwrap();
        let layered = Layered {
            dirs: vec![low, high],
        };
        assert_eq!(layered.read_text("etc/passwd").as_deref(), Some("high"));
        assert_eq!(layered.read_text("/etc/group").as_deref(), Some("g"));
        assert!(layered.is_dir("etc"));
        assert!(!layered.is_dir("etc/passwd"));
        assert!(layered.lookup("nope").is_none());
        assert_eq!(layered.read_dir("etc"), ["group", "passwd"]);
    }

    #[test]
    fn resolve_follows_links_inside_the_image() {
        let tmp = tempfile::tempdir().unwrap();
        let low = tmp.path().join("low");
        fs::create_dir_all(low.join("usr/bin")).unwrap();
        fs::write(low.join("usr/bin/sh"), "sh").unwrap();
        std::os::unix::fs::symlink("usr/bin", low.join("bin")).unwrap();
        std::os::unix::fs::symlink("/../../usr", low.join("up")).unwrap();
        std::os::unix::fs::symlink("loop", low.join("loop")).unwrap();
        let layered = Layered { dirs: vec![low] };
        assert_eq!(layered.resolve("bin/sh", false), "usr/bin/sh");
        assert_eq!(layered.resolve("bin", false), "bin");
        assert_eq!(layered.resolve("/bin/", true), "usr/bin");
        assert_eq!(layered.resolve("up/bin/new", false), "usr/bin/new");
        assert_eq!(layered.resolve("loop/x", false), "loop/x");
        assert!(layered.is_dir("bin"));
        assert_eq!(layered.read_text("bin/sh").as_deref(), Some("sh"));
    }
}
