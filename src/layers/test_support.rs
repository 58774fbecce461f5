//! Test helpers: tar streams written header by header, so tests can
//! produce exactly the hostile entries (`..`, links out) that friendlier
//! builders refuse to write.

use std::io::Write;

use tar::{EntryType, Header};

pub const MTIME: u64 = 1_600_000_000;

pub struct TarBuilder {
    builder: tar::Builder<Vec<u8>>,
}

fn set_bytes(field: &mut [u8], value: &[u8]) {
    assert!(
        value.len() <= field.len(),
        "name too long for a test header"
    );
    field.fill(0);
    field[..value.len()].copy_from_slice(value);
}

impl TarBuilder {
    pub fn new() -> TarBuilder {
        TarBuilder {
            builder: tar::Builder::new(Vec::new()),
        }
    }

    /// A raw entry: the name and link name are written verbatim.
    #[allow(clippy::too_many_arguments)]
    pub fn raw(
        &mut self,
        name: &str,
        kind: EntryType,
        mode: u32,
        owner: (u64, u64),
        link: Option<&str>,
        device: (u32, u32),
        data: &[u8],
    ) -> &mut TarBuilder {
        let mut header = Header::new_gnu();
        set_bytes(&mut header.as_old_mut().name, name.as_bytes());
        if let Some(link) = link {
            set_bytes(&mut header.as_old_mut().linkname, link.as_bytes());
        }
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_uid(owner.0);
        header.set_gid(owner.1);
        header.set_mtime(MTIME);
        header.set_size(data.len() as u64);
        if matches!(kind, EntryType::Char | EntryType::Block) {
            header.set_device_major(device.0).unwrap();
            header.set_device_minor(device.1).unwrap();
        }
        header.set_cksum();
        self.builder.append(&header, data).unwrap();
        self
    }

    pub fn file(&mut self, name: &str, data: &[u8], mode: u32) -> &mut TarBuilder {
        self.raw(name, EntryType::Regular, mode, (0, 0), None, (0, 0), data)
    }

    pub fn dir(&mut self, name: &str, mode: u32) -> &mut TarBuilder {
        self.raw(name, EntryType::Directory, mode, (0, 0), None, (0, 0), b"")
    }

    pub fn symlink(&mut self, name: &str, target: &str) -> &mut TarBuilder {
        self.raw(
            name,
            EntryType::Symlink,
            0o777,
            (0, 0),
            Some(target),
            (0, 0),
            b"",
        )
    }

    pub fn hardlink(&mut self, name: &str, target: &str) -> &mut TarBuilder {
        self.raw(
            name,
            EntryType::Link,
            0o644,
            (0, 0),
            Some(target),
            (0, 0),
            b"",
        )
    }

    /// A PAX extended header applying to the next entry.
    pub fn pax(&mut self, records: &[(&str, &[u8])]) -> &mut TarBuilder {
        let mut data = Vec::new();
        for (key, value) in records {
            // "<len> <key>=<value>\n", where <len> counts itself.
            let rest = key.len() + value.len() + 3;
            let mut len = rest + 1;
            while len != rest + len.to_string().len() {
                len = rest + len.to_string().len();
            }
            write!(data, "{len} {key}=").unwrap();
            data.extend_from_slice(value);
            data.push(b'\n');
        }
        self.raw(
            "PaxHeader",
            EntryType::XHeader,
            0o644,
            (0, 0),
            None,
            (0, 0),
            &data,
        )
    }

    pub fn finish(self) -> Vec<u8> {
        self.builder.into_inner().unwrap()
    }
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

pub fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(data, 3).unwrap()
}
