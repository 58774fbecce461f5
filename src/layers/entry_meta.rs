//! What a layer entry's header and PAX records say about it besides its
//! name and data: mode, owner, mtime, xattrs, device numbers.

use std::io::{self, Read};
use std::os::fd::BorrowedFd;

use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid};

/// Overlay's own xattrs are never taken from a layer: a layer could
/// otherwise mark directories opaque or set redirects behind our back.
const RESERVED_XATTR_PREFIXES: [&str; 2] = ["user.overlay.", "trusted.overlay."];
/// The owner a header asks for, or `None` when it does not fit an id.
fn owner(uid: u64, gid: u64) -> Option<(Uid, Gid)> {
    Some((
        Uid::from_raw(u32::try_from(uid).ok()?),
        Gid::from_raw(u32::try_from(gid).ok()?),
    ))
}

/// The header fields every non-whiteout entry applies.
pub(super) struct EntryMeta {
    pub mode: u32,
    pub owner: Option<(Uid, Gid)>,
    pub mtime: TimeSpec,
    pub xattrs: Vec<(String, Vec<u8>)>,
}

/// Mode, owner, mtime and xattrs from the header and its PAX records.
pub(super) fn read_entry_meta<R: Read>(entry: &mut tar::Entry<'_, R>) -> io::Result<EntryMeta> {
    let header = entry.header();
    let mode = header.mode()? & 0o7777;
    let uid = header.uid()?;
    let gid = header.gid()?;
    let (xattrs, pax_mtime) = read_pax(entry);
    let mtime = match pax_mtime {
        Some(t) => t,
        None => {
            let secs = entry.header().mtime()?;
            TimeSpec::new(i64::try_from(secs).unwrap_or(i64::MAX), 0)
        }
    };
    Ok(EntryMeta {
        mode,
        owner: owner(uid, gid),
        mtime,
        xattrs,
    })
}

pub(super) fn header_device(value: io::Result<Option<u32>>) -> u32 {
    value.ok().flatten().unwrap_or(0)
}

/// Best effort: file systems without xattr support, or a namespace
/// (`security.*`, `trusted.*`) we may not write, lose the attribute.
pub(super) fn apply_xattrs(fd: BorrowedFd<'_>, xattrs: &[(String, Vec<u8>)]) {
    for (name, value) in xattrs {
        if RESERVED_XATTR_PREFIXES.iter().any(|p| name.starts_with(p)) {
            continue;
        }
        let _ = crate::xattr::set_fd(fd, name, value);
    }
}

/// PAX `SCHILY.xattr.*` records and a PAX `mtime` (fractional seconds).
fn read_pax<R: Read>(entry: &mut tar::Entry<'_, R>) -> (Vec<(String, Vec<u8>)>, Option<TimeSpec>) {
    let mut xattrs = Vec::new();
    let mut mtime = None;
    let Ok(Some(extensions)) = entry.pax_extensions() else {
        return (xattrs, mtime);
    };
    for ext in extensions.flatten() {
        let Ok(key) = ext.key() else { continue };
        if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
            xattrs.push((name.to_string(), ext.value_bytes().to_vec()));
        } else if key == "mtime" {
            mtime = ext.value().ok().and_then(parse_pax_time);
        }
    }
    (xattrs, mtime)
}

/// `1700000000.25` → seconds and nanoseconds.
fn parse_pax_time(s: &str) -> Option<TimeSpec> {
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = secs.parse().ok()?;
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut nanos: i64 = 0;
    for i in 0..9 {
        nanos = nanos * 10 + frac.as_bytes().get(i).map_or(0, |b| i64::from(b - b'0'));
    }
    // A negative time with a fraction counts the fraction downwards.
    if secs < 0 && nanos > 0 {
        Some(TimeSpec::new(secs - 1, 1_000_000_000 - nanos))
    } else {
        Some(TimeSpec::new(secs, nanos))
    }
}
