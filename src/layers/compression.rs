//! How a layer blob is compressed, told from its first bytes.

use std::io::{self, ErrorKind, Read};

/// How a layer blob is compressed, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// Detects gzip and zstd by magic bytes; anything else is taken as a
    /// plain tar (which the tar reader validates).
    pub fn detect(magic: &[u8]) -> Compression {
        if magic.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    /// The OCI layer media type for a blob with this compression.
    pub fn layer_media_type(self) -> &'static str {
        match self {
            Compression::None => "application/vnd.oci.image.layer.v1.tar",
            Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        }
    }
}

/// Reads the first bytes of `input` and returns the compression and a reader
/// that still yields the whole stream.
fn sniff_compression<'a>(input: &'a mut dyn Read) -> io::Result<(Compression, impl Read + 'a)> {
    let mut magic = [0u8; 4];
    let mut n = 0;
    while n < magic.len() {
        match input.read(&mut magic[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let compression = Compression::detect(&magic[..n]);
    Ok((
        compression,
        io::Cursor::new(magic[..n].to_vec()).chain(input),
    ))
}

/// The uncompressed tar stream of a (plain, gzip or zstd) layer blob.
pub(super) fn decompressed<'a>(input: &'a mut dyn Read) -> io::Result<Box<dyn Read + 'a>> {
    let (compression, raw) = sniff_compression(input)?;
    Ok(match compression {
        Compression::None => Box::new(raw),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(raw)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(raw)?),
    })
}
