//! What init does for a volume or bind mount beyond mounting it: docker's
//! copy-up of the image's content into an empty volume, and podman's `:U`
//! chown. Both run in the container's user namespace, as its root, so the
//! files get the owners the container sees (rootless: mapped subordinate
//! IDs), and before anything of the container runs.

use std::fs;
use std::os::unix::fs::{MetadataExt, lchown};
use std::path::Path;

use super::SetupError;
use super::copy_rootfs::{copy_owner_and_mode, copy_tree};
use super::spec::{CHOWN_OPTION, COPY_UP_OPTION};

/// skiff's own bind options, taken out of a mount's option list.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BindExtras {
    pub copy_up: bool,
    pub chown: Option<(u32, u32)>,
}

impl BindExtras {
    /// Removes skiff's options from `options`, leaving the kernel's.
    pub fn take(options: &mut Vec<String>) -> Result<BindExtras, SetupError> {
        let mut extras = BindExtras::default();
        let mut kept = Vec::new();
        for option in options.drain(..) {
            if option == COPY_UP_OPTION {
                extras.copy_up = true;
            } else if let Some(ids) = option
                .strip_prefix(CHOWN_OPTION)
                .and_then(|rest| rest.strip_prefix('='))
            {
                let parsed = ids
                    .split_once(':')
                    .and_then(|(u, g)| Some((u.parse().ok()?, g.parse().ok()?)));
                extras.chown = Some(parsed.ok_or_else(|| {
                    SetupError::Message(format!("malformed mount option \"{option}\""))
                })?);
            } else {
                kept.push(option);
            }
        }
        *options = kept;
        Ok(extras)
    }
}

fn io(what: String) -> impl FnOnce(std::io::Error) -> SetupError {
    move |source| SetupError::Io { what, source }
}

/// Copies what the image has at `image_dir` into `source` when `source`
/// is an empty directory (docker copies into a volume only then, so a
/// volume's own data is never overwritten), with owners and modes.
pub fn copy_up(image_dir: &Path, source: &Path) -> Result<(), SetupError> {
    let Ok(image_meta) = fs::symlink_metadata(image_dir) else {
        return Ok(());
    };
    if !image_meta.is_dir() {
        return Ok(());
    }
    let empty = fs::read_dir(source)
        .map_err(io(format!("reading {}", source.display())))?
        .next()
        .is_none();
    if !empty {
        return Ok(());
    }
    copy_tree(image_dir, source)?;
    copy_owner_and_mode(&image_meta, source)
}

/// Gives `dir` and everything below it to `uid:gid`, not following
/// symlinks.
pub fn chown_tree(dir: &Path, uid: u32, gid: u32) -> Result<(), SetupError> {
    lchown(dir, Some(uid), Some(gid)).map_err(io(format!("chowning {}", dir.display())))?;
    let meta = fs::symlink_metadata(dir).map_err(io(format!("reading {}", dir.display())))?;
    if !meta.is_dir() {
        return Ok(());
    }
    let device = meta.dev();
    for entry in fs::read_dir(dir).map_err(io(format!("reading {}", dir.display())))? {
        let path = entry
            .map_err(io(format!("reading {}", dir.display())))?
            .path();
        let child =
            fs::symlink_metadata(&path).map_err(io(format!("reading {}", path.display())))?;
        // Stay on the mount's file system: a mount below is not its tree.
        if child.dev() != device {
            continue;
        }
        if child.is_dir() {
            chown_tree(&path, uid, gid)?;
        } else {
            lchown(&path, Some(uid), Some(gid))
                .map_err(io(format!("chowning {}", path.display())))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skiffs_options_are_taken_and_the_kernels_kept() {
        let mut options: Vec<String> = ["rbind", "ro", COPY_UP_OPTION, "skiff.chown=1000:100"]
            .map(String::from)
            .to_vec();
        let extras = BindExtras::take(&mut options).unwrap();
        assert_eq!(
            extras,
            BindExtras {
                copy_up: true,
                chown: Some((1000, 100))
            }
        );
        assert_eq!(options, ["rbind", "ro"]);
        let mut bad = vec!["skiff.chown=me".to_string()];
        assert!(BindExtras::take(&mut bad).is_err());
    }

    #[test]
    fn copy_up_fills_only_an_empty_volume() {
        let tmp = tempfile::tempdir().unwrap();
        let image = tmp.path().join("image");
        fs::create_dir_all(image.join("sub")).unwrap();
        fs::write(image.join("sub/f"), "from image").unwrap();
        let volume = tmp.path().join("volume");
        fs::create_dir(&volume).unwrap();
        copy_up(&image, &volume).unwrap();
        assert_eq!(
            fs::read_to_string(volume.join("sub/f")).unwrap(),
            "from image"
        );

        fs::write(image.join("sub/f"), "changed").unwrap();
        copy_up(&image, &volume).unwrap();
        assert_eq!(
            fs::read_to_string(volume.join("sub/f")).unwrap(),
            "from image",
            "a volume with data is never overwritten"
        );
        // Nothing in the image there: nothing to copy, no error.
        copy_up(&tmp.path().join("missing"), &volume).unwrap();
    }
}
