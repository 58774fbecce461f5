//! The last-resort root filesystem: copy every layer, bottom first, into
//! one directory, interpreting overlayfs whiteouts (a 0/0 character device
//! deletes, the `user.overlay.opaque` xattr hides what lies below) the way
//! the kernel would when stacking them.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use nix::fcntl::AT_FDCWD;
use nix::sys::stat::{UtimensatFlags, utimensat};
use nix::sys::time::TimeSpec;

use super::SetupError;

const OPAQUE_XATTR: &str = "user.overlay.opaque";

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SetupError + '_ {
    move |source| SetupError::Io {
        what: format!("copying layers: {}", path.display()),
        source,
    }
}

fn is_whiteout(meta: &fs::Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

fn is_opaque(dir: &Path) -> bool {
    crate::xattr::get_path(dir, OPAQUE_XATTR).is_ok_and(|v| v.as_deref() == Some(b"y"))
}

fn remove_any(path: &Path) -> std::io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Gives `dest` the owner, mode and times of what it was copied from.
pub(super) fn copy_owner_and_mode(meta: &fs::Metadata, dest: &Path) -> Result<(), SetupError> {
    // Ownership may be unmappable (single-ID mapping): keep going then.
    let _ = std::os::unix::fs::lchown(dest, Some(meta.uid()), Some(meta.gid()));
    if !meta.file_type().is_symlink() {
        fs::set_permissions(dest, fs::Permissions::from_mode(meta.mode() & 0o7777))
            .map_err(io(dest))?;
    }
    let time = |secs, nanos| TimeSpec::new(secs, nanos);
    utimensat(
        AT_FDCWD,
        dest,
        &time(meta.atime(), meta.atime_nsec()),
        &time(meta.mtime(), meta.mtime_nsec()),
        UtimensatFlags::NoFollowSymlink,
    )
    .map_err(|e| io(dest)(e.into()))
}

/// Copies `src`'s tree into `dest` (both directories), as overlay would
/// stack it (whiteouts delete, opaque directories hide).
pub(super) fn copy_tree(src: &Path, dest: &Path) -> Result<(), SetupError> {
    for entry in fs::read_dir(src).map_err(io(src))? {
        let entry = entry.map_err(io(src))?;
        let from = entry.path();
        let to: PathBuf = dest.join(entry.file_name());
        let meta = fs::symlink_metadata(&from).map_err(io(&from))?;
        if is_whiteout(&meta) {
            remove_any(&to).map_err(io(&to))?;
            continue;
        }
        if meta.is_dir() {
            // A non-directory below is replaced; a directory below is kept
            // and merged unless this one is opaque.
            let existing_dir = fs::symlink_metadata(&to).is_ok_and(|m| m.is_dir());
            if !existing_dir || is_opaque(&from) {
                remove_any(&to).map_err(io(&to))?;
            }
            if !to.exists() {
                fs::create_dir(&to).map_err(io(&to))?;
            }
            copy_tree(&from, &to)?;
            copy_owner_and_mode(&meta, &to)?;
            continue;
        }
        remove_any(&to).map_err(io(&to))?;
        if meta.file_type().is_symlink() {
            symlink(fs::read_link(&from).map_err(io(&from))?, &to).map_err(io(&to))?;
        } else if meta.is_file() {
            fs::copy(&from, &to).map_err(io(&to))?;
        } else {
            // Devices, fifos, sockets: not needed to run a container, and
            // device nodes cannot be created in a user namespace anyway.
            continue;
        }
        copy_owner_and_mode(&meta, &to)?;
    }
    Ok(())
}

/// Materialises the stacked `layers` (bottom first) into `dest`.
pub fn copy_layers(layers: &[PathBuf], dest: &Path) -> Result<(), SetupError> {
    fs::create_dir_all(dest).map_err(io(dest))?;
    for layer in layers {
        copy_tree(layer, dest)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::stat::{Mode, SFlag, makedev, mknod};

    #[test]
    fn whiteouts_and_opaque_dirs_hide_lower_content() {
        let tmp = tempfile::tempdir().unwrap();
        let (l1, l2, out) = (
            tmp.path().join("l1"),
            tmp.path().join("l2"),
            tmp.path().join("out"),
        );
        fs::create_dir_all(l1.join("gone")).unwrap();
        fs::create_dir_all(l1.join("opaque")).unwrap();
        fs::write(l1.join("gone/f"), "x").unwrap();
        fs::write(l1.join("opaque/old"), "x").unwrap();
        fs::write(l1.join("kept"), "1").unwrap();
        fs::create_dir_all(l2.join("opaque")).unwrap();
        fs::write(l2.join("opaque/new"), "y").unwrap();
        fs::write(l2.join("kept"), "2").unwrap();
        mknod(
            &l2.join("gone"),
            SFlag::S_IFCHR,
            Mode::empty(),
            makedev(0, 0),
        )
        .unwrap();
        crate::xattr::set_path(&l2.join("opaque"), OPAQUE_XATTR, b"y").unwrap();

        copy_layers(&[l1, l2], &out).unwrap();
        assert!(!out.join("gone").exists());
        assert!(!out.join("opaque/old").exists());
        assert!(out.join("opaque/new").exists());
        assert_eq!(fs::read_to_string(out.join("kept")).unwrap(), "2");
    }
}
