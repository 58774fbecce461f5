//! The context as `.dockerignore` leaves it, for `RUN --mount=type=bind`
//! without `from=`: BuildKit sends only the files the ignore rules keep,
//! so an excluded file must not show in the mount either. Nothing of the
//! context is copied: a bound directory with something excluded below it
//! is mounted as an overlay whose lower layers are a mask (whiteouts at
//! the excluded entries, directories where the walk went deeper) above
//! the context directory itself. A mask is made once per build and bound
//! path (every step that binds that path reuses it) under the store's
//! `tmp/bindmask-<pid>-…`, removed when the build ends (after `kill -9`,
//! by the store's stale-temp sweep).

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::sys::stat::{Mode, SFlag, makedev, mknod};

use super::context::Context;
use super::in_root::Root;

/// The build's masks, made on first need.
pub struct ContextMasks {
    /// `tmp/bindmask-<pid>-…` of the store (created with the first mask).
    dir: PathBuf,
    /// Bound path (relative to the context root) → its mask, or `None`
    /// when nothing below it is excluded (a plain bind shows it as is).
    made: RefCell<HashMap<String, Option<PathBuf>>>,
}

impl ContextMasks {
    pub fn new(tmp: &Path) -> ContextMasks {
        ContextMasks {
            dir: tmp.join(format!(
                "bindmask-{}-{}",
                std::process::id(),
                &crate::state::new_container_id()[..16]
            )),
            made: RefCell::new(HashMap::new()),
        }
    }

    /// The mask for binding context directory `rel`, or `None` when the
    /// ignore rules leave out nothing below it.
    pub fn mask_for(
        &self,
        context: &Context,
        root: &Root,
        rel: &str,
    ) -> io::Result<Option<PathBuf>> {
        if context.rules.is_empty() {
            return Ok(None);
        }
        if let Some(known) = self.made.borrow().get(rel) {
            return Ok(known.clone());
        }
        let index = self.made.borrow().len();
        let mask = self.dir.join(index.to_string());
        fs::create_dir_all(&mask)?;
        let needed = fill(context, root, rel, &mask)?;
        let mask = if needed {
            // The mount's root is the mask's directory: it must look like
            // the bound one.
            copy_attributes(&root.lookup(rel)?.0, &mask)?;
            Some(mask)
        } else {
            fs::remove_dir(&mask)?;
            None
        };
        self.made.borrow_mut().insert(rel.to_string(), mask.clone());
        Ok(mask)
    }
}

impl Drop for ContextMasks {
    fn drop(&mut self) {
        // Whiteouts and directories this process made: its own to remove,
        // once writable again (they copy the context's modes, 0555 too).
        make_writable(&self.dir);
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Gives the owner write access to `dir` and every directory below it
/// (never through a symlink: the mask holds none, and `symlink_metadata`
/// does not follow one).
fn make_writable(dir: &Path) {
    let Ok(meta) = fs::symlink_metadata(dir) else {
        return;
    };
    if !meta.is_dir() {
        return;
    }
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(meta.mode() | 0o700));
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        make_writable(&entry.path());
    }
}

fn join(rel: &str, name: &str) -> String {
    if rel.is_empty() {
        name.to_string()
    } else {
        format!("{rel}/{name}")
    }
}

/// Fills `mask` for context directory `rel`: a whiteout for each entry
/// the rules exclude (a directory a `!` exception may take something back
/// from is walked instead), a directory for each one with something
/// excluded below. Returns whether anything was needed.
fn fill(context: &Context, root: &Root, rel: &str, mask: &Path) -> io::Result<bool> {
    let mut needed = false;
    for name in root.read_dir(rel)? {
        let child = join(rel, &name);
        let (meta, _) = root.lookup(&child)?;
        let excluded = context.is_excluded(&child);
        let walk = meta.is_dir() && (!excluded || context.rules.may_include_below(&child));
        if !walk {
            if excluded {
                // A 0:0 character device: overlayfs's whiteout (no
                // privilege needed to make one since Linux 5.8).
                mknod(
                    &mask.join(&name),
                    SFlag::S_IFCHR,
                    Mode::empty(),
                    makedev(0, 0),
                )?;
                needed = true;
            }
            continue;
        }
        let below = mask.join(&name);
        fs::create_dir(&below)?;
        if fill(context, root, &child, &below)? {
            // The overlay shows the topmost layer's directory: the mask's
            // must look like the context's.
            copy_attributes(&meta, &below)?;
            needed = true;
        } else {
            fs::remove_dir(&below)?;
        }
    }
    Ok(needed)
}

fn copy_attributes(meta: &fs::Metadata, dir: &Path) -> io::Result<()> {
    fs::set_permissions(dir, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    // Root may give the context's owner; rootless, the mask is the
    // caller's, as the context files it makes are.
    let _ = std::os::unix::fs::lchown(dir, Some(meta.uid()), Some(meta.gid()));
    let times = fs::FileTimes::new()
        .set_accessed(meta.accessed()?)
        .set_modified(meta.modified()?);
    fs::File::open(dir)?.set_times(times)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::context::load_context;
    use crate::build::request::{ContextSource, DockerfileSource};
    use std::os::unix::fs::FileTypeExt;

    #[test]
    fn whiteouts_at_excluded_entries_and_walks_where_an_exception_may_apply() {
        let tmp = tempfile::tempdir().unwrap();
        let ctx = tmp.path().join("ctx");
        for dir in ["src/gen", "logs", "docs/keep", "plain"] {
            fs::create_dir_all(ctx.join(dir)).unwrap();
        }
        for file in [
            "src/a.rs",
            "src/gen/x.rs",
            "logs/1.log",
            "docs/a.md",
            "docs/keep/README.md",
            "plain/f",
            "secret.env",
        ] {
            fs::write(ctx.join(file), "x").unwrap();
        }
        fs::write(ctx.join("Dockerfile"), "FROM scratch\n").unwrap();
        fs::write(
            ctx.join(".dockerignore"),
            "logs\n*.env\nsrc/gen\ndocs\n!docs/keep/README.md\n",
        )
        .unwrap();
        let context = load_context(
            &ContextSource::Dir(ctx.clone()),
            &DockerfileSource::Default,
            tmp.path().join("unused"),
        )
        .unwrap();
        let root = context.fs_root.as_ref().unwrap();
        let masks = ContextMasks::new(tmp.path());
        let mask = masks.mask_for(&context, root, "").unwrap().unwrap();
        let whiteout = |p: &str| {
            fs::symlink_metadata(mask.join(p))
                .map(|m| m.file_type().is_char_device() && m.rdev() == 0)
                .unwrap_or(false)
        };
        assert!(whiteout("logs"));
        assert!(whiteout("secret.env"));
        assert!(whiteout("src/gen"));
        assert!(whiteout("docs/a.md"));
        assert!(!whiteout("docs/keep/README.md"));
        assert!(!mask.join("plain").exists(), "nothing excluded there");
        assert!(!mask.join("src/a.rs").exists());
        assert_eq!(
            masks.mask_for(&context, root, "").unwrap(),
            Some(mask.clone()),
            "made once"
        );
        assert_eq!(masks.mask_for(&context, root, "plain").unwrap(), None);
        let dir = masks.dir.clone();
        drop(masks);
        assert!(!dir.exists());
    }
}
