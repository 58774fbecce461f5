//! Layers no friendly tool writes: directory modes chosen per entry, and
//! gzip bombs that expand to gigabytes from a few megabytes.

use std::io::Write;

/// A plain tar entry header with every field set (GNU format).
pub fn header(
    name: &str,
    kind: tar::EntryType,
    mode: u32,
    size: u64,
    link: Option<&str>,
) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
    if let Some(link) = link {
        header.set_link_name(link).unwrap();
    }
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(mode);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(1_000_000_000);
    header.set_cksum();
    header
}

/// The layer: `a/`, `a/<sub>/` with mode 0777, then `a` again as a
/// symlink to `target`. Unpacked naively, the deferred directory metadata
/// lands on `<target>/<sub>`.
pub fn replaced_parent_layer(sub: &str, target: &str) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for h in [
        header("a/", tar::EntryType::Directory, 0o755, 0, None),
        header(
            &format!("a/{sub}/"),
            tar::EntryType::Directory,
            0o777,
            0,
            None,
        ),
        header("a", tar::EntryType::Symlink, 0o777, 0, Some(target)),
    ] {
        builder.append(&h, &[][..]).unwrap();
    }
    builder.into_inner().unwrap()
}

fn gzip_member(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// A gzip layer whose tar holds `first` (a header block, or several) and
/// then `mib` MiB of zeros, then the end-of-archive blocks: gzip members
/// of one MiB each, concatenated (readers decode them as one stream), so
/// the blob stays small however large it expands.
pub fn gzip_bomb(first: &[u8], mib: u64) -> Vec<u8> {
    let mut out = gzip_member(first);
    let zeros = gzip_member(&vec![0; 1 << 20]);
    for _ in 0..mib {
        out.extend_from_slice(&zeros);
    }
    out.extend(gzip_member(&[0; 1024]));
    out
}

/// One regular file `name` of `mib` MiB of zeros, as a gzip bomb.
pub fn zero_file_bomb(name: &str, mib: u64) -> Vec<u8> {
    gzip_bomb(
        header(name, tar::EntryType::Regular, 0o644, mib << 20, None).as_bytes(),
        mib,
    )
}
