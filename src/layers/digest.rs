//! Content digests (`sha256:<hex>`) and readers/writers that compute them
//! while data streams through.

use std::fmt;
use std::io::{self, Read, Write};
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

use super::LayerError;

/// A sha256 digest, always validated: 64 lowercase hex characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    hex: String,
}

impl Digest {
    /// Parses `sha256:<64 lowercase hex>`. Other algorithms are refused:
    /// the store only knows sha256.
    pub fn parse(s: &str) -> Result<Digest, LayerError> {
        let invalid = || LayerError::InvalidDigest {
            value: s.to_string(),
        };
        let hex = s.strip_prefix("sha256:").ok_or_else(invalid)?;
        Digest::from_hex(hex).map_err(|_| invalid())
    }

    /// Accepts the bare 64-character lowercase hex form.
    pub fn from_hex(hex: &str) -> Result<Digest, LayerError> {
        if is_sha256_hex(hex) {
            Ok(Digest {
                hex: hex.to_string(),
            })
        } else {
            Err(LayerError::InvalidDigest {
                value: hex.to_string(),
            })
        }
    }

    /// The digest of a byte slice.
    pub fn of_bytes(data: &[u8]) -> Digest {
        let mut hasher = Sha256::new();
        hasher.update(data);
        Digest {
            hex: to_hex(&hasher.finalize()),
        }
    }

    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The first 12 hex characters, as `docker images` shows IDs.
    pub fn short(&self) -> &str {
        &self.hex[..12]
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

impl FromStr for Digest {
    type Err = LayerError;
    fn from_str(s: &str) -> Result<Digest, LayerError> {
        Digest::parse(s)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Digest, D::Error> {
        let s = String::deserialize(deserializer)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// True for exactly 64 lowercase hex characters.
pub(crate) fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0xf)] as char);
    }
    out
}

/// A reader that hashes and counts every byte read through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> HashingReader<R> {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// Reads the rest of the input (so trailing padding is hashed too) and
    /// returns the digest and total byte count.
    pub fn drain_and_finish(mut self) -> io::Result<(Digest, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok(self.finish())
    }

    /// The digest and byte count of what has been read so far.
    pub fn finish(self) -> (Digest, u64) {
        (
            Digest {
                hex: to_hex(&self.hasher.finalize()),
            },
            self.count,
        )
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// A writer that hashes and counts every byte written through it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> HashingWriter<W> {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// The inner writer, the digest and the byte count.
    pub fn finish(self) -> (W, Digest, u64) {
        (
            self.inner,
            Digest {
                hex: to_hex(&self.hasher.finalize()),
            },
            self.count,
        )
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn empty_input_has_the_well_known_digest() {
        assert_eq!(Digest::of_bytes(b"").hex(), EMPTY);
        let (d, n) = HashingReader::new(&b""[..]).drain_and_finish().unwrap();
        assert_eq!((d.hex(), n), (EMPTY, 0));
    }

    #[test]
    fn reader_and_writer_agree_with_of_bytes() {
        let data = b"hello world\n".repeat(1000);
        let (d, n) = HashingReader::new(&data[..]).drain_and_finish().unwrap();
        assert_eq!(d, Digest::of_bytes(&data));
        assert_eq!(n, data.len() as u64);
        let mut w = HashingWriter::new(Vec::new());
        w.write_all(&data).unwrap();
        let (out, d2, n2) = w.finish();
        assert_eq!(
            (out, d2, n2),
            (data.clone(), Digest::of_bytes(&data), data.len() as u64)
        );
    }

    #[test]
    fn parse_and_display_round_trip() {
        let s = format!("sha256:{EMPTY}");
        let d = Digest::parse(&s).unwrap();
        assert_eq!(d.to_string(), s);
        assert_eq!(d.short(), &EMPTY[..12]);
        assert_eq!(serde_json::to_string(&d).unwrap(), format!("\"{s}\""));
        let back: Digest = serde_json::from_str(&format!("\"{s}\"")).unwrap();
        assert_eq!(back, d);
    }

    #[test]
    fn parse_refuses_malformed_digests() {
        for bad in [
            "",
            EMPTY,
            "sha256:",
            "sha256:abc",
            &format!("sha512:{EMPTY}"),
            &format!("sha256:{}", EMPTY.to_uppercase()),
            &format!("sha256:{EMPTY}0"),
            &format!("sha256:{}g", &EMPTY[..63]),
        ] {
            assert!(Digest::parse(bad).is_err(), "{bad:?} parsed");
        }
    }
}
