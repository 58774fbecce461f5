//! An archive spooled to an unlinked temp file (stdin is not seekable)
//! and indexed once: members are then read in place by offset, never
//! extracted, so a hostile member name cannot write anywhere. Relative
//! symlink members (old `docker save` links duplicate `layer.tar`s) are
//! followed within the archive; `..` names, absolute names and links out
//! of the archive are refused.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek};
use std::os::unix::fs::FileExt;

use super::store::{Store, TempGuard};
use super::{LayerError, invalid, io_error};

/// Whole members read into memory (manifests, configs, indexes) larger
/// than this are refused.
const MAX_JSON_MEMBER: u64 = 32 << 20;

impl Store {
    /// Copies `input` into an already unlinked temp file.
    pub(crate) fn spool(&self, input: &mut dyn Read) -> Result<File, LayerError> {
        let tmp = TempGuard::new(self.temp_path("load"));
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(tmp.path())
            .map_err(io_error("creating", tmp.path()))?;
        drop(tmp);
        io::copy(input, &mut file).map_err(|e| invalid("archive", format!("reading: {e}")))?;
        file.rewind()
            .map_err(|e| invalid("archive", format!("rewinding the spool file: {e}")))?;
        Ok(file)
    }
}

/// A regular file inside the spooled archive, or a link to another member.
enum Member {
    File { offset: u64, size: u64 },
    Symlink(Vec<u8>),
    HardLink(String),
}

/// The members of the spooled archive by normalized name (`a/b`).
pub(crate) struct Members<'f> {
    file: &'f File,
    by_name: HashMap<String, Member>,
}

/// Normalizes an archive member name; `None` for absolute names and `..`.
fn member_name(raw: &[u8]) -> Option<String> {
    if raw.starts_with(b"/") {
        return None;
    }
    let mut parts = Vec::new();
    for part in raw.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => return None,
            _ => parts.push(String::from_utf8_lossy(part).into_owned()),
        }
    }
    Some(parts.join("/"))
}

impl<'f> Members<'f> {
    pub(crate) fn scan(file: &'f File) -> Result<Members<'f>, LayerError> {
        let tar_error = |e: io::Error| invalid("archive", format!("reading tar: {e}"));
        let len = file.metadata().map_err(tar_error)?.len();
        let mut by_name = HashMap::new();
        let mut archive = tar::Archive::new(file);
        for entry in archive.entries_with_seek().map_err(tar_error)? {
            let entry = entry.map_err(tar_error)?;
            let raw = entry.path_bytes();
            let shown = String::from_utf8_lossy(&raw).into_owned();
            let name = member_name(&raw).ok_or_else(|| {
                invalid(
                    format!("archive entry {shown:?}"),
                    "escapes the archive root",
                )
            })?;
            let member = match entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let (offset, size) = (entry.raw_file_position(), entry.size());
                    if offset.saturating_add(size) > len {
                        return Err(invalid(shown, "archive is truncated"));
                    }
                    Member::File { offset, size }
                }
                tar::EntryType::Symlink => {
                    Member::Symlink(entry.link_name_bytes().unwrap_or_default().into_owned())
                }
                tar::EntryType::Link => {
                    let target = entry.link_name_bytes().unwrap_or_default();
                    let target = member_name(&target).ok_or_else(|| {
                        invalid(
                            format!("archive entry {shown:?}"),
                            "links outside the archive",
                        )
                    })?;
                    Member::HardLink(target)
                }
                _ => continue,
            };
            by_name.insert(name, member);
        }
        Ok(Members { file, by_name })
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    /// The offset and size of `name`, following links within the archive.
    fn locate(&self, name: &str) -> Result<(u64, u64), LayerError> {
        let mut current = name.to_string();
        for _ in 0..16 {
            match self.by_name.get(&current) {
                None if current == name => return Err(invalid(name, "not found in the archive")),
                None => {
                    return Err(invalid(
                        name,
                        format!("links to {current:?}, not in the archive"),
                    ));
                }
                Some(Member::File { offset, size }) => return Ok((*offset, *size)),
                Some(Member::HardLink(target)) => current = target.clone(),
                Some(Member::Symlink(target)) => {
                    // Relative to the link's directory, resolved lexically.
                    if target.starts_with(b"/") {
                        return Err(invalid(name, "is a symlink to an absolute path"));
                    }
                    let mut parts: Vec<&str> = current.split('/').collect();
                    parts.pop();
                    let target = String::from_utf8_lossy(target).into_owned();
                    for part in target.split('/') {
                        match part {
                            "" | "." => {}
                            ".." => {
                                if parts.pop().is_none() {
                                    return Err(invalid(name, "is a symlink out of the archive"));
                                }
                            }
                            p => parts.push(p),
                        }
                    }
                    current = parts.join("/");
                }
            }
        }
        Err(invalid(name, "too many levels of links"))
    }

    pub(crate) fn open(&self, name: &str) -> Result<MemberReader<'f>, LayerError> {
        let (offset, size) = self.locate(name)?;
        Ok(MemberReader {
            file: self.file,
            pos: offset,
            end: offset + size,
        })
    }

    pub(crate) fn size(&self, name: &str) -> Result<u64, LayerError> {
        self.locate(name).map(|(_, size)| size)
    }

    /// A whole (small) member.
    pub(crate) fn read(&self, name: &str) -> Result<Vec<u8>, LayerError> {
        let mut reader = self.open(name)?;
        if reader.end - reader.pos > MAX_JSON_MEMBER {
            return Err(invalid(name, "too large"));
        }
        let mut data = Vec::new();
        reader
            .read_to_end(&mut data)
            .map_err(|e| invalid(name, format!("reading: {e}")))?;
        Ok(data)
    }
}

/// Reads one member in place with `pread`.
pub(crate) struct MemberReader<'f> {
    file: &'f File,
    pos: u64,
    end: u64,
}

impl Read for MemberReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf
            .len()
            .min(usize::try_from(self.end - self.pos).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "archive is truncated",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}
