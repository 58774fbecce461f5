//! Bounds on what one layer tar may cost, whatever it claims.
//!
//! - `RecordLimit` watches the tar stream on its way to the `tar` crate and
//!   refuses any header record (GNU long name or link, PAX local or global
//!   extensions, GNU sparse extension blocks) over `MAX_HEADER_RECORD`:
//!   the crate reads such records whole into memory before we see the
//!   entry. The limit is Go's archive/tar cap on PAX records (CVE-2022-2879).
//! - `WriteBudget` caps the bytes one unpack may write (file data, a
//!   sparse file's holes counted as if written, and a header block per
//!   entry, so an archive of millions of empty files is bounded too).
//!
//! `RecordLimit` also completes a stream that ends early but whole: after
//! the last entry's data without the zero padding to the block boundary,
//! or without the end-of-archive blocks (umoci 0.4 writes such layers;
//! docker and podman load them). It supplies the missing zeros to the
//! `tar` crate, which would otherwise fail skipping the padding; they are
//! not hashed, the diff-id stays that of the bytes received. A stream that
//! ends inside an entry's data is an error naming how much is missing.

use std::io::{self, Read};

use crate::units::parse_byte_size;

/// The largest header record accepted.
pub(super) const MAX_HEADER_RECORD: u64 = 1 << 20;
const BLOCK: usize = 512;
/// Offsets in a GNU header: the "more sparse blocks follow" flags.
const GNU_IS_EXTENDED: usize = 482;
const GNU_EXT_IS_EXTENDED: usize = 504;

/// The environment variable that sets the per-layer write cap (a size
/// such as `64g`); unset, the cap is `DEFAULT_WRITE_CAP` or the free space
/// of the store less a twentieth, whichever is smaller.
pub const WRITE_CAP_ENV: &str = "SKIFF_LAYER_SIZE_LIMIT";
const DEFAULT_WRITE_CAP: u64 = 64 << 30;

/// Where the watcher is in the stream.
enum State {
    /// Collecting a 512-byte header block.
    Header,
    /// GNU sparse extension blocks of an entry whose data (`size`) follows.
    SparseBlocks { size: u64, count: u64 },
    /// Entry data and padding: `remaining` bytes, the last `padding` of
    /// which are zero padding and the first `keep` of which are a PAX
    /// record to remember.
    Data {
        remaining: u64,
        padding: u64,
        keep: u64,
    },
    /// After the end-of-archive block: nothing more is interpreted.
    Done,
}

/// A reader that passes the stream through unchanged, or fails with
/// `InvalidData` before the `tar` crate would read an oversized record.
pub(super) struct RecordLimit<R> {
    inner: R,
    state: State,
    block: [u8; BLOCK],
    filled: usize,
    /// The PAX record being collected, and the `size` of the last one,
    /// which (as in the `tar` crate) applies to the next real entry.
    pax: Vec<u8>,
    pax_size: Option<u64>,
}

impl<R: Read> RecordLimit<R> {
    pub(super) fn new(inner: R) -> RecordLimit<R> {
        RecordLimit {
            inner,
            state: State::Header,
            block: [0; BLOCK],
            filled: 0,
            pax: Vec::new(),
            pax_size: None,
        }
    }

    fn observe(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            match &mut self.state {
                State::Done => return Ok(()),
                State::Data {
                    remaining, keep, ..
                } => {
                    let n = (*remaining).min(bytes.len() as u64) as usize;
                    let kept = (*keep).min(n as u64) as usize;
                    self.pax.extend_from_slice(&bytes[..kept]);
                    *keep -= kept as u64;
                    *remaining -= n as u64;
                    if *remaining == 0 {
                        self.state = State::Header;
                        self.finish_pax();
                    }
                    bytes = &bytes[n..];
                }
                State::Header | State::SparseBlocks { .. } => {
                    let n = (BLOCK - self.filled).min(bytes.len());
                    self.block[self.filled..self.filled + n].copy_from_slice(&bytes[..n]);
                    self.filled += n;
                    bytes = &bytes[n..];
                    if self.filled == BLOCK {
                        self.filled = 0;
                        self.block_complete()?;
                    }
                }
            }
        }
        Ok(())
    }

    /// A whole PAX record arrived: remember its `size`, parsed the way the
    /// `tar` crate parses it (a malformed record means no size).
    fn finish_pax(&mut self) {
        if self.pax.is_empty() {
            return;
        }
        self.pax_size = tar::PaxExtensions::new(&self.pax)
            .map_while(Result::ok)
            .find(|e| e.key() == Ok("size"))
            .and_then(|e| e.value().ok()?.parse().ok());
        self.pax.clear();
    }

    fn block_complete(&mut self) -> io::Result<()> {
        if let State::SparseBlocks { size, count } = self.state {
            let count = count + 1;
            if count * BLOCK as u64 > MAX_HEADER_RECORD {
                return Err(too_large("GNU sparse map", count * BLOCK as u64));
            }
            self.state = if self.block[GNU_EXT_IS_EXTENDED] != 0 {
                State::SparseBlocks { size, count }
            } else {
                data(size, 0)
            };
            return Ok(());
        }
        if self.block.iter().all(|&b| b == 0) {
            // The `tar` crate ends at the first zero block.
            self.state = State::Done;
            return Ok(());
        }
        let header = tar::Header::from_byte_slice(&self.block);
        let Ok(header_size) = header.entry_size() else {
            // The `tar` crate refuses this header itself.
            self.state = State::Done;
            return Ok(());
        };
        let recognized = header.as_gnu().is_some() || header.as_ustar().is_some();
        let kind = self.block[156];
        let record = match kind {
            b'L' => Some("GNU long name"),
            b'K' => Some("GNU long link name"),
            b'x' => Some("PAX header"),
            b'g' => Some("PAX global header"),
            _ => None,
        };
        if let Some(what) = record {
            if header_size > MAX_HEADER_RECORD {
                return Err(too_large(what, header_size));
            }
            let keep = if kind == b'x' && recognized {
                header_size
            } else {
                0
            };
            if kind == b'g' || !recognized {
                // Not an extension of the next entry: the crate returns it
                // as an entry of its own, which takes a pending PAX record.
                self.pax_size = None;
            }
            self.state = data(header_size, keep);
            return Ok(());
        }
        let size = self.pax_size.take().unwrap_or(header_size);
        self.state =
            if kind == b'S' && header.as_gnu().is_some() && self.block[GNU_IS_EXTENDED] != 0 {
                State::SparseBlocks { size, count: 0 }
            } else {
                data(size, 0)
            };
        Ok(())
    }
}

/// Entry data rounded up to whole blocks; an empty entry has none.
fn data(size: u64, keep: u64) -> State {
    let remaining = size.div_ceil(BLOCK as u64).saturating_mul(BLOCK as u64);
    if remaining == 0 {
        State::Header
    } else {
        State::Data {
            remaining,
            padding: remaining - size,
            keep,
        }
    }
}

fn cut_short(missing: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("the stream ends {missing} bytes short of an entry's data"),
    )
}

fn too_large(what: &str, size: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "a {what} of {size} bytes is larger than the limit of {} bytes",
            MAX_HEADER_RECORD
        ),
    )
}

impl<R: Read> RecordLimit<R> {
    /// The input has ended: zeros for missing padding or a partial zero
    /// block (then the end of the archive), an error for missing entry
    /// data, else the end.
    fn at_end(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let missing = match &self.state {
            State::Data {
                remaining, padding, ..
            } if remaining > padding => return Err(cut_short(remaining - padding)),
            State::Data { remaining, .. } => *remaining,
            State::Header if self.block[..self.filled].iter().all(|&b| b == 0) => {
                // Nothing of a block (the usual end), or zeros: an
                // end-of-archive block cut short.
                (BLOCK - self.filled) as u64 % BLOCK as u64
            }
            // A header or sparse map cut short: the `tar` crate refuses it.
            State::Header | State::SparseBlocks { .. } | State::Done => 0,
        };
        let n = missing.min(buf.len() as u64) as usize;
        buf[..n].fill(0);
        self.observe(&buf[..n])?;
        Ok(n)
    }
}

impl<R: Read> Read for RecordLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if n == 0 {
            return self.at_end(buf);
        }
        self.observe(&buf[..n])?;
        Ok(n)
    }
}

/// The bytes one unpack may still write.
#[derive(Debug, Clone, Copy)]
pub(super) struct WriteBudget {
    pub(super) cap: u64,
    pub(super) used: u64,
}

impl WriteBudget {
    pub(super) fn new(cap: u64) -> WriteBudget {
        WriteBudget { cap, used: 0 }
    }

    /// Takes `n` bytes; false when that would pass the cap.
    pub(super) fn take(&mut self, n: u64) -> bool {
        match self.used.checked_add(n) {
            Some(total) if total <= self.cap => {
                self.used = total;
                true
            }
            _ => false,
        }
    }
}

/// The write cap for unpacking into `dir`'s file system: `WRITE_CAP_ENV`
/// when set (an invalid value is an error naming it), else the default or
/// the free space less a twentieth (so a full disk is reported as this
/// layer's size, not as ENOSPC halfway through), whichever is smaller.
pub(super) fn write_cap_for(dir: &std::path::Path) -> Result<u64, String> {
    if let Ok(value) = std::env::var(WRITE_CAP_ENV) {
        return parse_byte_size(&value)
            .ok_or_else(|| format!("{WRITE_CAP_ENV}={value:?}: expected a size such as 64g"));
    }
    let free = nix::sys::statvfs::statvfs(dir)
        .map(|s| s.blocks_available().saturating_mul(s.fragment_size()))
        .unwrap_or(u64::MAX);
    Ok(DEFAULT_WRITE_CAP.min(free - free / 20))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(kind: u8, size: u64) -> [u8; BLOCK] {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::new(kind));
        h.set_size(size);
        h.set_cksum();
        let mut block = [0; BLOCK];
        block.copy_from_slice(h.as_bytes());
        block
    }

    fn read_all(stream: &[u8]) -> io::Result<Vec<u8>> {
        let mut reader = RecordLimit::new(stream);
        let mut out = Vec::new();
        // Tiny reads, so records straddle read boundaries.
        let mut buf = [0u8; 7];
        loop {
            match reader.read(&mut buf)? {
                0 => return Ok(out),
                n => out.extend_from_slice(&buf[..n]),
            }
        }
    }

    #[test]
    fn oversized_records_are_refused_before_their_data() {
        for kind in [b'L', b'K', b'x', b'g'] {
            let mut stream = header(kind, MAX_HEADER_RECORD + 1).to_vec();
            stream.extend(vec![b'a'; 4096]);
            let err = read_all(&stream).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData);
            assert!(err.to_string().contains("1048577 bytes"), "{err}");
        }
    }

    #[test]
    fn big_file_data_and_records_at_the_limit_pass() {
        let mut stream = header(b'x', 19).to_vec();
        let mut record = b"19 size=3000000000\n".to_vec();
        record.resize(BLOCK, 0);
        stream.extend(&record);
        // The PAX size, not the header's 0, says where the next header is:
        // the data that follows is no header, even one that would be refused.
        stream.extend(header(b'0', 0));
        stream.extend(header(b'L', MAX_HEADER_RECORD + 1));
        // So the stream ends inside that entry's data.
        let err = read_all(&stream).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "{err}");

        let mut stream = header(b'L', MAX_HEADER_RECORD).to_vec();
        stream.extend(vec![b'n'; MAX_HEADER_RECORD as usize]);
        stream.extend(header(b'0', 5));
        stream.extend(vec![0; BLOCK]);
        stream.extend(header(b'L', MAX_HEADER_RECORD + 1));
        assert!(read_all(&stream).is_err(), "the second long name is over");
    }

    #[test]
    fn missing_padding_and_end_blocks_are_supplied_and_missing_data_is_an_error() {
        let mut entry = header(b'0', 5).to_vec();
        entry.extend(b"hello");
        // Padding supplied, then the end; no end blocks needed.
        let mut padded = entry.clone();
        padded.resize(2 * BLOCK, 0);
        assert_eq!(read_all(&entry).unwrap(), padded);
        assert_eq!(read_all(&padded).unwrap(), padded);
        // A partial zero block is completed.
        let mut partial = padded.clone();
        partial.extend([0; 100]);
        let mut whole = padded.clone();
        whole.extend([0; BLOCK]);
        assert_eq!(read_all(&partial).unwrap(), whole);
        // Data cut short is an error, a header cut short left to the crate.
        let err = read_all(&entry[..BLOCK + 2]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(
            err.to_string(),
            "the stream ends 3 bytes short of an entry's data"
        );
        assert_eq!(read_all(&entry[..300]).unwrap(), &entry[..300]);
    }

    #[test]
    fn budget_stops_at_the_cap() {
        let mut budget = WriteBudget::new(10);
        assert!(budget.take(6));
        assert!(budget.take(4));
        assert!(!budget.take(1));
        assert!(!budget.take(u64::MAX));
    }
}
