//! Extended attributes, read and written without following symlinks: on
//! an open fd, or on a path whose last component is taken as it is
//! (`l*xattr`). `layers` (unpack, upper-dir walks) and `sandbox` (the
//! copying root filesystem) both need them; the libc calls live here once.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// The file an attribute call is aimed at.
enum Target<'a> {
    Fd(BorrowedFd<'a>),
    /// Not followed when it is a symlink.
    Path(CString),
}

impl Target<'_> {
    fn path(path: &Path) -> io::Result<Target<'static>> {
        Ok(Target::Path(CString::new(path.as_os_str().as_bytes())?))
    }
}

fn get(target: &Target<'_>, name: &str) -> io::Result<Option<Vec<u8>>> {
    let c_name = CString::new(name)?;
    let mut value: Vec<u8> = Vec::new();
    loop {
        // SAFETY: `c_name` (and a path target) are NUL-terminated strings
        // owned by this frame, `value` is writable for the length passed
        // (0 with a null pointer only asks for the size), an fd target is
        // open for the duration; the call retains none of them.
        let n = unsafe {
            let buf = if value.is_empty() {
                std::ptr::null_mut()
            } else {
                value.as_mut_ptr().cast()
            };
            match target {
                Target::Fd(fd) => {
                    libc::fgetxattr(fd.as_raw_fd(), c_name.as_ptr(), buf, value.len())
                }
                Target::Path(p) => libc::lgetxattr(p.as_ptr(), c_name.as_ptr(), buf, value.len()),
            }
        };
        if n >= 0 {
            let n = n as usize;
            if value.is_empty() && n > 0 {
                // That was the size query; now read the value.
                value.resize(n, 0);
                continue;
            }
            value.truncate(n);
            return Ok(Some(value));
        }
        let error = io::Error::last_os_error();
        match error.raw_os_error() {
            Some(libc::ENODATA) => return Ok(None),
            // The value grew between the size query and the read.
            Some(libc::ERANGE) => value.clear(),
            _ => return Err(error),
        }
    }
}

fn set(target: &Target<'_>, name: &str, value: &[u8]) -> io::Result<()> {
    let c_name = CString::new(name)?;
    // SAFETY: `c_name` (and a path target) are NUL-terminated strings owned
    // by this frame and `value` a live slice whose length is passed with
    // it; an fd target is open for the duration; nothing is retained.
    let rc = unsafe {
        let (ptr, len) = (value.as_ptr().cast(), value.len());
        match target {
            Target::Fd(fd) => libc::fsetxattr(fd.as_raw_fd(), c_name.as_ptr(), ptr, len, 0),
            Target::Path(p) => libc::lsetxattr(p.as_ptr(), c_name.as_ptr(), ptr, len, 0),
        }
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The value of attribute `name` on the open file `fd`; `None` when unset.
pub fn get_fd(fd: BorrowedFd<'_>, name: &str) -> io::Result<Option<Vec<u8>>> {
    get(&Target::Fd(fd), name)
}

/// The value of attribute `name` on `path` itself (a symlink is not
/// followed); `None` when unset.
pub fn get_path(path: &Path, name: &str) -> io::Result<Option<Vec<u8>>> {
    get(&Target::path(path)?, name)
}

/// Sets attribute `name` on the open file `fd`.
pub fn set_fd(fd: BorrowedFd<'_>, name: &str, value: &[u8]) -> io::Result<()> {
    set(&Target::Fd(fd), name, value)
}

/// Sets attribute `name` on `path` itself (a symlink is not followed).
pub fn set_path(path: &Path, name: &str, value: &[u8]) -> io::Result<()> {
    set(&Target::path(path)?, name, value)
}

/// The names of `path`'s attributes (a symlink's own, not followed).
pub fn list_path(path: &Path) -> io::Result<Vec<String>> {
    let c_path = CString::new(path.as_os_str().as_bytes())?;
    let mut names: Vec<u8> = Vec::new();
    loop {
        // SAFETY: `c_path` is a NUL-terminated string owned by this frame;
        // `names` is writable for the length passed (0 with a null pointer
        // only asks for the size); nothing is retained.
        let n = unsafe {
            let buf = if names.is_empty() {
                std::ptr::null_mut()
            } else {
                names.as_mut_ptr().cast()
            };
            libc::llistxattr(c_path.as_ptr(), buf, names.len())
        };
        if n < 0 {
            let error = io::Error::last_os_error();
            if error.raw_os_error() == Some(libc::ERANGE) {
                names.clear();
                continue;
            }
            return Err(error);
        }
        let n = n as usize;
        if names.is_empty() && n > 0 {
            names.resize(n, 0);
            continue;
        }
        names.truncate(n);
        return Ok(names
            .split(|b| *b == 0)
            .filter(|n| !n.is_empty())
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn values_round_trip_by_fd_and_by_path() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        let handle = std::fs::File::create(&file).unwrap();
        assert_eq!(get_path(&file, "user.skiff.test").unwrap(), None);
        set_fd(handle.as_fd(), "user.skiff.test", b"one").unwrap();
        assert_eq!(
            get_path(&file, "user.skiff.test").unwrap().as_deref(),
            Some(&b"one"[..])
        );
        set_path(&file, "user.skiff.test", b"").unwrap();
        assert_eq!(
            get_fd(handle.as_fd(), "user.skiff.test")
                .unwrap()
                .as_deref(),
            Some(&b""[..])
        );
    }
}
