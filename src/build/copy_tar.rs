//! A COPY/ADD layer as a tar stream with the headers the image must show:
//! owner 0:0 unless `--chown`, modes from the sources unless `--chmod`,
//! missing parent directories made 0755 (owned as `--chown` says),
//! existing ones repeated with the metadata the image gives them (so the
//! new layer does not change `/tmp`'s mode). Stored through the same
//! import path as pulled layers, which maps owners for a rootless store.

use std::collections::BTreeSet;
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::MetadataExt;

use super::copy_plan::{Item, ItemKind, clean};
use super::in_root::FileSource;
use super::layered::Layered;

pub struct TarOptions {
    /// uid, gid of every new entry.
    pub owner: (u32, u32),
    pub chmod: Option<u32>,
    /// `--timestamp`: no time after it.
    pub clamp: Option<i64>,
    /// The time new directories get.
    pub now: i64,
}

impl TarOptions {
    fn time(&self, t: i64) -> u64 {
        let t = match self.clamp {
            Some(c) => t.min(c),
            None => t,
        };
        t.max(0) as u64
    }
}

fn header(kind: tar::EntryType, mode: u32, owner: (u32, u32), mtime: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(owner.0 as u64);
    h.set_gid(owner.1 as u64);
    h.set_mtime(mtime);
    h.set_size(0);
    h
}

/// Every ancestor of the paths that is not itself one of them.
fn parents(dests: &[String]) -> Vec<String> {
    let own: BTreeSet<&str> = dests.iter().map(String::as_str).collect();
    let mut out = BTreeSet::new();
    for dest in dests {
        let parts: Vec<&str> = dest.split('/').collect();
        for n in 1..parts.len() {
            let p = parts[..n].join("/");
            if !own.contains(p.as_str()) {
                out.insert(p);
            }
        }
    }
    // Sorted by path, so a parent comes before its children.
    out.into_iter().collect()
}

/// Writes the layer of a COPY/ADD.
pub fn write_copy_tar(
    items: &[Item],
    image: &Layered,
    options: &TarOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    let dests: Vec<String> = items.iter().map(|i| resolved_dest(image, i)).collect();
    for parent in parents(&dests) {
        let mut h = match image.lookup(&parent) {
            Some((_, meta)) if meta.is_dir() => header(
                tar::EntryType::Directory,
                meta.mode() & 0o7777,
                (meta.uid(), meta.gid()),
                options.time(meta.mtime()),
            ),
            _ => header(
                tar::EntryType::Directory,
                0o755,
                options.owner,
                options.time(options.now),
            ),
        };
        builder.append_data(&mut h, format!("{parent}/"), io::empty())?;
    }
    for (item, dest) in items.iter().zip(&dests) {
        let mode = options.chmod.unwrap_or(item.mode);
        let mtime = options.time(item.mtime);
        match &item.kind {
            ItemKind::Dir => {
                let mut h = header(tar::EntryType::Directory, mode, options.owner, mtime);
                builder.append_data(&mut h, format!("{dest}/"), io::empty())?;
            }
            ItemKind::Symlink(target) => {
                let mut h = header(tar::EntryType::Symlink, 0o777, options.owner, mtime);
                builder.append_link(&mut h, dest, target)?;
            }
            ItemKind::File(source) => {
                let file = source.open()?;
                let size = file.metadata()?.len();
                let mut h = header(tar::EntryType::Regular, mode, options.owner, mtime);
                h.set_size(size);
                builder.append_data(&mut h, dest, file.take(size))?;
            }
            ItemKind::Data(bytes) => {
                let mut h = header(tar::EntryType::Regular, mode, options.owner, mtime);
                h.set_size(bytes.len() as u64);
                builder.append_data(&mut h, dest, &bytes[..])?;
            }
            ItemKind::Archive(source) => {
                append_archive(&mut builder, source, dest, options)?;
            }
        }
    }
    builder.finish()
}

/// Where an item goes: its parent directory with the image's symlinks
/// followed inside the image (so `/bin -> usr/bin` stays a symlink and
/// the file lands in /usr/bin), and a directory item onto a symlink to
/// a directory goes to that directory.
fn resolved_dest(image: &Layered, item: &Item) -> String {
    let (parent, name) = match item.dest.rsplit_once('/') {
        Some((parent, name)) => (image.resolve(parent, true), name),
        None => (String::new(), item.dest.as_str()),
    };
    let dest = if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}/{name}")
    };
    let onto_dir = matches!(item.kind, ItemKind::Dir | ItemKind::Archive(_));
    if onto_dir && image.is_dir(&dest) {
        image.resolve(&dest, true)
    } else {
        dest
    }
}

/// The entries of a local archive (ADD), below `dest`.
fn append_archive<W: Write>(
    builder: &mut tar::Builder<W>,
    source: &FileSource,
    dest: &str,
    options: &TarOptions,
) -> io::Result<()> {
    let mut file = source.open()?;
    let mut head = [0u8; 6];
    let n = file.read(&mut head)?;
    file.seek(io::SeekFrom::Start(0))?;
    let head = &head[..n];
    let reader: Box<dyn Read> = if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(zstd::stream::read::Decoder::new(file)?)
    } else if head.starts_with(b"BZh") {
        Box::new(bzip2::read::MultiBzDecoder::new(file))
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Box::new(liblzma::read::XzDecoder::new_multi_decoder(file))
    } else {
        Box::new(file)
    };
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let name = entry.path()?.to_string_lossy().into_owned();
        let Some(rel) = clean(&name) else { continue };
        if rel.is_empty() {
            continue;
        }
        let target = if dest.is_empty() {
            rel
        } else {
            format!("{dest}/{rel}")
        };
        let mut h = entry.header().clone();
        h.set_uid(options.owner.0 as u64);
        h.set_gid(options.owner.1 as u64);
        h.set_mtime(options.time(h.mtime().unwrap_or(0) as i64));
        match h.entry_type() {
            tar::EntryType::Link => {
                let link = entry.link_name()?.map(|l| l.to_string_lossy().into_owned());
                let Some(link) = link.and_then(|l| clean(&l)) else {
                    continue;
                };
                let link = if dest.is_empty() {
                    link
                } else {
                    format!("{dest}/{link}")
                };
                builder.append_link(&mut h, &target, &link)?;
            }
            tar::EntryType::Symlink => {
                let link = entry
                    .link_name()?
                    .map(|l| l.into_owned())
                    .unwrap_or_default();
                builder.append_link(&mut h, &target, link)?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::Directory => {
                let size = h.size()?;
                builder.append_data(&mut h, &target, (&mut entry).take(size))?;
            }
            // Devices and FIFOs keep their headers; PAX/GNU metadata was
            // already applied to the entry by the reader.
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                builder.append_data(&mut h, &target, io::empty())?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Rewrites a layer tar with no time after `clamp` (RUN layers of a
/// reproducible build).
pub fn clamp_tar_times(input: &mut dyn Read, clamp: i64, out: &mut dyn Write) -> io::Result<()> {
    let mut archive = tar::Archive::new(input);
    let mut builder = tar::Builder::new(out);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let mut h = entry.header().clone();
        let path = entry.path()?.into_owned();
        let t = h.mtime().unwrap_or(0) as i64;
        h.set_mtime(t.min(clamp).max(0) as u64);
        match h.entry_type() {
            tar::EntryType::Link | tar::EntryType::Symlink => {
                let link = entry
                    .link_name()?
                    .map(|l| l.into_owned())
                    .unwrap_or_default();
                builder.append_link(&mut h, &path, link)?;
            }
            _ => {
                let size = h.size()?;
                builder.append_data(&mut h, &path, (&mut entry).take(size))?;
            }
        }
    }
    builder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn entries(data: &[u8]) -> Vec<(String, u64, u64, u32, u64)> {
        let mut archive = tar::Archive::new(data);
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    e.path().unwrap().display().to_string(),
                    h.uid().unwrap(),
                    h.gid().unwrap(),
                    h.mode().unwrap(),
                    h.mtime().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn parents_first_owners_and_times_as_asked() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("f");
        fs::write(&file, "hi").unwrap();
        let items = vec![Item {
            dest: "app/sub/f".into(),
            kind: ItemKind::File(FileSource::Host(file)),
            mode: 0o640,
            mtime: 2_000_000_000,
        }];
        let options = TarOptions {
            owner: (5, 6),
            chmod: None,
            clamp: Some(1_000),
            now: 3_000_000_000,
        };
        let mut out = Vec::new();
        write_copy_tar(&items, &Layered::default(), &options, &mut out).unwrap();
        assert_eq!(
            entries(&out),
            [
                ("app/".to_string(), 5, 6, 0o755, 1_000),
                ("app/sub/".to_string(), 5, 6, 0o755, 1_000),
                ("app/sub/f".to_string(), 5, 6, 0o640, 1_000),
            ]
        );
        let mut clamped = Vec::new();
        clamp_tar_times(&mut &out[..], 10, &mut clamped).unwrap();
        assert!(entries(&clamped).iter().all(|e| e.4 == 10));
    }
}
