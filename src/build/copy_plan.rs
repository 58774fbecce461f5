//! COPY/ADD sources to a list of entries for the new layer: sources
//! expanded and globbed (`build::glob`), directories copied by their
//! contents, docker's destination rules (a trailing `/`, several sources,
//! or an existing directory make the destination a directory; relative
//! to WORKDIR), files `.dockerignore` excludes left out. The list is
//! hashed for the cache key (names, kinds, modes, sizes, contents, link
//! targets; never times) and written as a tar by `copy_tar`.

use std::fs::{self, Metadata};
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::context::Context;
use super::glob;
use super::in_root::FileSource;
use super::layered::Layered;
use crate::layers::Digest;

/// Where sources are read from.
pub enum Origin<'a> {
    Context(&'a Context),
    /// `--from`: another stage's or image's files, and what errors call
    /// it.
    Image(&'a Layered, &'a str),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemKind {
    File(FileSource),
    Dir,
    Symlink(PathBuf),
    /// ADD of a local archive: its entries go below `dest`.
    Archive(FileSource),
    /// `COPY <<EOF`: a file with these contents.
    Data(Vec<u8>),
}

/// One entry of the new layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Path in the image, relative to its root.
    pub dest: String,
    pub kind: ItemKind,
    pub mode: u32,
    pub mtime: i64,
}

/// An entry of the origin: where it is (for the context the path as
/// written, resolved inside the context at every use; for an image the
/// path with its symlinks resolved), its metadata (the last component
/// not followed), its link target and how to read it.
struct Entry {
    at: String,
    meta: Metadata,
    link: Option<PathBuf>,
    file: Option<FileSource>,
}

/// The file or directory a source names.
struct Found {
    rel: String,
    entry: Entry,
}

impl Origin<'_> {
    /// The entry at `at`, its last component not followed.
    fn lookup(&self, at: &str) -> Option<Entry> {
        match self {
            Origin::Context(ctx) => {
                let root = ctx.fs_root.as_ref()?;
                let (meta, link) = root.lookup(at).ok()?;
                let file = meta.is_file().then(|| FileSource::in_root(root, at, &meta));
                Some(Entry {
                    at: at.to_string(),
                    meta,
                    link,
                    file,
                })
            }
            Origin::Image(layered, _) => {
                let (path, meta) = layered.lookup(at)?;
                let link = if meta.file_type().is_symlink() {
                    Some(fs::read_link(&path).ok()?)
                } else {
                    None
                };
                Some(Entry {
                    at: at.to_string(),
                    meta,
                    link,
                    file: Some(FileSource::Host(path)),
                })
            }
        }
    }

    /// What a source names: its parent components are followed inside
    /// the origin's root, the last one is not (a symlink source is
    /// copied as the symlink, as docker).
    fn stat(&self, rel: &str) -> Option<Entry> {
        match self {
            Origin::Context(ctx) => {
                if ctx.is_excluded(rel) {
                    return None;
                }
                self.lookup(rel)
            }
            Origin::Image(layered, _) => self.lookup(&layered.resolve(rel, false)),
        }
    }

    fn list(&self, at: &str) -> Vec<String> {
        match self {
            Origin::Context(ctx) => ctx
                .fs_root
                .as_ref()
                .and_then(|root| root.read_dir(at).ok())
                .unwrap_or_default(),
            Origin::Image(layered, _) => layered.read_dir(at),
        }
    }

    /// A directory's child: `rel` as `.dockerignore` sees it, `at` where
    /// it is.
    fn entry(&self, rel: &str, at: &str) -> Option<Entry> {
        let entry = self.lookup(at)?;
        if let Origin::Context(ctx) = self
            && ctx.is_excluded(rel)
            && !(entry.meta.is_dir() && ctx.rules.may_include_below(rel))
        {
            return None;
        }
        Some(entry)
    }

    fn excluded(&self, rel: &str) -> bool {
        match self {
            Origin::Context(ctx) => ctx.is_excluded(rel),
            Origin::Image(..) => false,
        }
    }

    /// What errors call the origin.
    fn name(&self) -> String {
        match self {
            Origin::Context(_) => "the build context".to_string(),
            Origin::Image(_, name) => (*name).to_string(),
        }
    }
}

fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ => format!("{a}/{b}"),
    }
}

/// A path cleaned of `.`, `..` and repeated slashes; `None` when it
/// climbs above its root.
pub fn clean(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Every path under `rel` (depth first, sorted), for glob matching.
fn walk_all(origin: &Origin<'_>, rel: &str, at: &str, out: &mut Vec<String>) {
    for name in origin.list(at) {
        let child_rel = join(rel, &name);
        let child_at = join(at, &name);
        out.push(child_rel.clone());
        if let Some(entry) = origin.entry(&child_rel, &child_at)
            && entry.meta.is_dir()
        {
            walk_all(origin, &child_rel, &child_at, out);
        }
    }
}

/// What the sources name, in order.
fn find_sources(origin: &Origin<'_>, sources: &[String]) -> Result<Vec<Found>, String> {
    let mut found = Vec::new();
    if let Origin::Context(ctx) = origin
        && ctx.fs_root.is_none()
    {
        return Err("no build context: the Dockerfile came from standard input".into());
    }
    let mut all_paths: Option<Vec<String>> = None;
    for source in sources {
        let rel = clean(source.trim_start_matches('/'))
            .ok_or_else(|| format!("source {source:?} is outside {}", origin.name()))?;
        if has_glob(&rel) {
            let paths = all_paths.get_or_insert_with(|| {
                let mut out = Vec::new();
                walk_all(origin, "", "", &mut out);
                out
            });
            let mut matched = false;
            for path in paths.iter() {
                let hit = glob::matches(&rel, path).map_err(|e| e.to_string())?;
                if hit
                    && !origin.excluded(path)
                    && let Some(entry) = origin.stat(path)
                {
                    found.push(Found {
                        rel: path.clone(),
                        entry,
                    });
                    matched = true;
                }
            }
            if !matched {
                return Err(format!("no source files were specified by {source:?}"));
            }
            continue;
        }
        let entry = origin.stat(&rel).ok_or_else(|| match origin {
            Origin::Context(_) => format!(
                "{source:?}: no such file or directory in the build context (or excluded by .dockerignore)"
            ),
            Origin::Image(..) => {
                format!("{source:?}: no such file or directory in {}", origin.name())
            }
        })?;
        found.push(Found { rel, entry });
    }
    Ok(found)
}

fn item_for(dest: String, entry: &Entry) -> Option<Item> {
    let meta = &entry.meta;
    let kind = if meta.is_dir() {
        ItemKind::Dir
    } else if meta.file_type().is_symlink() {
        ItemKind::Symlink(entry.link.clone()?)
    } else if meta.is_file() {
        ItemKind::File(entry.file.clone()?)
    } else {
        // Sockets, FIFOs and devices are not copied.
        return None;
    };
    Some(Item {
        dest,
        kind,
        mode: meta.permissions().mode() & 0o7777,
        mtime: meta.mtime(),
    })
}

/// A directory's contents below `dest`, depth first.
fn add_tree(origin: &Origin<'_>, rel: &str, at: &str, dest: &str, items: &mut Vec<Item>) {
    for name in origin.list(at) {
        let child_rel = join(rel, &name);
        let child_dest = join(dest, &name);
        let Some(entry) = origin.entry(&child_rel, &join(at, &name)) else {
            continue;
        };
        let excluded = origin.excluded(&child_rel);
        if !excluded && let Some(item) = item_for(child_dest.clone(), &entry) {
            items.push(item);
        }
        if entry.meta.is_dir() {
            add_tree(origin, &child_rel, &entry.at, &child_dest, items);
        }
    }
}

/// Whether `file` is an archive ADD unpacks (by its first bytes): gzip,
/// zstd, bzip2, xz or a plain tar.
pub fn is_archive(file: &FileSource) -> bool {
    let mut head = [0u8; 262];
    let n = file.open().and_then(|mut f| f.read(&mut head)).unwrap_or(0);
    let head = &head[..n];
    head.starts_with(&[0x1f, 0x8b])
        || head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
        || head.starts_with(b"BZh")
        || head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0])
        || head.get(257..262) == Some(b"ustar")
}

/// Plans a COPY (or ADD, `unpack_archives`) of `sources` to `dest`
/// (absolute, already made absolute against WORKDIR). `image` is the
/// image being built, for the "existing directory" rule.
pub fn plan_copy(
    origin: &Origin<'_>,
    sources: &[String],
    dest: &str,
    image: &Layered,
    unpack_archives: bool,
) -> Result<Vec<Item>, String> {
    let found = find_sources(origin, sources)?;
    // The destination's symlinks are the image's: followed inside it
    // (`/bin -> usr/bin` puts `COPY f /bin/` at /usr/bin/f).
    let dest_rel = image.resolve(&clean(dest).unwrap_or_default(), false);
    let dest_is_dir = dest.ends_with('/')
        || dest.ends_with("/.")
        || dest_rel.is_empty()
        || image.is_dir(&dest_rel);
    let dest_rel = if dest_is_dir {
        image.resolve(&dest_rel, true)
    } else {
        dest_rel
    };
    let several = found.len() > 1 || sources.len() > 1;
    if several && !dest_is_dir {
        return Err(
            "when using COPY with more than one source file, the destination must be a directory and end with a /"
                .into(),
        );
    }
    let mut items = Vec::new();
    for source in found {
        let meta = &source.entry.meta;
        if meta.is_dir() {
            // The directory's contents, not the directory itself; the
            // destination directory gets the source's mode.
            if !dest_rel.is_empty() && !image.is_dir(&dest_rel) {
                items.extend(item_for(dest_rel.clone(), &source.entry));
            }
            add_tree(origin, &source.rel, &source.entry.at, &dest_rel, &mut items);
            continue;
        }
        if unpack_archives
            && let Some(file) = &source.entry.file
            && meta.is_file()
            && is_archive(file)
        {
            items.push(Item {
                dest: dest_rel.clone(),
                kind: ItemKind::Archive(file.clone()),
                mode: 0o755,
                mtime: meta.mtime(),
            });
            continue;
        }
        let name = Path::new(&source.rel)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let target = if dest_is_dir {
            join(&dest_rel, &name)
        } else {
            dest_rel.clone()
        };
        items.extend(item_for(target, &source.entry));
    }
    Ok(items)
}

/// The content digest of planned items: what the cache key needs of
/// them (never their times).
pub fn content_digest(items: &[Item]) -> std::io::Result<String> {
    let mut text = String::new();
    for item in items {
        let (kind, extra) = match &item.kind {
            ItemKind::Dir => ("dir", String::new()),
            ItemKind::Symlink(t) => ("link", t.display().to_string()),
            ItemKind::File(p) => ("file", hash_file(p)?),
            ItemKind::Archive(p) => ("archive", hash_file(p)?),
            ItemKind::Data(bytes) => ("data", Digest::of_bytes(bytes).hex().to_string()),
        };
        text.push_str(&format!(
            "{}:{}\0{kind}\0{:o}\0{extra}\n",
            item.dest.len(),
            item.dest,
            item.mode
        ));
    }
    Ok(Digest::of_bytes(text.as_bytes()).hex().to_string())
}

fn hash_file(source: &FileSource) -> std::io::Result<String> {
    let mut file = source.open()?;
    let mut hasher = crate::layers::HashingWriter::new(std::io::sink());
    std::io::copy(&mut file, &mut hasher)?;
    let (_, digest, _) = hasher.finish();
    Ok(digest.hex().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::context::load_context;
    use crate::build::request::{ContextSource, DockerfileSource};

    /// A context with a Dockerfile, `.dockerignore` and these files.
    fn context_with(files: &[&str], ignore: &str) -> (tempfile::TempDir, Context) {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        fs::write(dir.path().join(".dockerignore"), ignore).unwrap();
        for f in files {
            let path = dir.path().join(f);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, f.as_bytes()).unwrap();
        }
        let ctx = load_context(
            &ContextSource::Dir(dir.path().into()),
            &DockerfileSource::Default,
            dir.path().join("unused"),
        )
        .unwrap();
        (dir, ctx)
    }

    fn dests(items: &[Item]) -> Vec<String> {
        items.iter().map(|i| i.dest.clone()).collect()
    }

    #[test]
    fn destination_rules() {
        let (_dir, ctx) = context_with(&["a.txt", "b.txt", "src/x.rs", "src/sub/y.rs"], "");
        let origin = Origin::Context(&ctx);
        let none = Layered::default();
        let plan = |sources: &[&str], dest: &str| {
            let sources: Vec<String> = sources.iter().map(|s| s.to_string()).collect();
            plan_copy(&origin, &sources, dest, &none, false)
        };
        // A file to a path names the file; to a path with / goes into it.
        assert_eq!(dests(&plan(&["a.txt"], "/app/f").unwrap()), ["app/f"]);
        assert_eq!(dests(&plan(&["a.txt"], "/app/").unwrap()), ["app/a.txt"]);
        // A directory's contents, not the directory; the destination made.
        assert_eq!(
            dests(&plan(&["src"], "/code").unwrap()),
            ["code", "code/sub", "code/sub/y.rs", "code/x.rs"]
        );
        // Globs match at the context root; several sources need a dir.
        assert_eq!(
            dests(&plan(&["*.txt"], "/t/").unwrap()),
            ["t/a.txt", "t/b.txt"]
        );
        let err = plan(&["*.txt"], "/t").unwrap_err();
        assert!(err.contains("must be a directory"), "{err}");
        assert!(
            plan(&["nope"], "/x")
                .unwrap_err()
                .contains("\"nope\": no such file")
        );
        assert!(
            plan(&["*.md"], "/x/")
                .unwrap_err()
                .contains("no source files")
        );
        assert!(
            plan(&["../etc/passwd"], "/x")
                .unwrap_err()
                .contains("outside the build context")
        );
    }

    #[test]
    fn ignored_files_are_not_sources_and_not_hashed() {
        let (dir, ctx) = context_with(
            &["keep.txt", "secret.txt", "logs/a.log"],
            "secret.txt\nlogs\n",
        );
        let origin = Origin::Context(&ctx);
        let items = plan_copy(
            &origin,
            &[".".to_string()],
            "/c/",
            &Layered::default(),
            false,
        )
        .unwrap();
        // The destination directory takes the context directory's mode.
        assert_eq!(
            dests(&items),
            ["c", "c/.dockerignore", "c/Dockerfile", "c/keep.txt"]
        );
        assert!(
            plan_copy(
                &origin,
                &["secret.txt".to_string()],
                "/c/",
                &Layered::default(),
                false
            )
            .is_err()
        );
        // The digest sees content and modes, not times.
        let before = content_digest(&items).unwrap();
        let keep = dir.path().join("keep.txt");
        fs::File::options()
            .write(true)
            .open(&keep)
            .unwrap()
            .set_modified(std::time::SystemTime::UNIX_EPOCH)
            .unwrap();
        let items = plan_copy(
            &origin,
            &[".".to_string()],
            "/c/",
            &Layered::default(),
            false,
        )
        .unwrap();
        assert_eq!(content_digest(&items).unwrap(), before);
        fs::write(&keep, "changed").unwrap();
        assert_ne!(content_digest(&items).unwrap(), before);
        fs::write(dir.path().join("secret.txt"), "changed too").unwrap();
    }
}
