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
use super::layered::Layered;
use crate::layers::Digest;

/// Where sources are read from.
pub enum Origin<'a> {
    Context(&'a Context),
    /// `--from`: another stage's or image's files.
    Image(&'a Layered),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemKind {
    File(PathBuf),
    Dir,
    Symlink(PathBuf),
    /// ADD of a local archive: its entries go below `dest`.
    Archive(PathBuf),
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

/// The file or directory a source names, with its metadata.
struct Found {
    rel: String,
    path: PathBuf,
    meta: Metadata,
}

impl Origin<'_> {
    fn stat(&self, rel: &str) -> Option<(PathBuf, Metadata)> {
        match self {
            Origin::Context(ctx) => {
                let root = ctx.root.as_ref()?;
                if ctx.is_excluded(rel) {
                    return None;
                }
                let path = if rel.is_empty() {
                    root.clone()
                } else {
                    root.join(rel)
                };
                // The source itself is followed if it is a symlink inside
                // the context, as docker's COPY does.
                let meta = fs::symlink_metadata(&path).ok()?;
                if meta.file_type().is_symlink() {
                    let target = path.canonicalize().ok()?;
                    if !target.starts_with(root) {
                        return None;
                    }
                    let meta = fs::metadata(&target).ok()?;
                    return Some((target, meta));
                }
                Some((path, meta))
            }
            Origin::Image(layered) => layered.lookup(rel),
        }
    }

    fn list(&self, rel: &str, path: &Path) -> Vec<String> {
        match self {
            Origin::Context(_) => {
                let mut names: Vec<String> = fs::read_dir(path)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                names.sort();
                names
            }
            Origin::Image(layered) => layered.read_dir(rel),
        }
    }

    fn entry(&self, rel: &str, path: &Path) -> Option<(PathBuf, Metadata)> {
        match self {
            Origin::Context(ctx) => {
                let excluded = ctx.is_excluded(rel);
                let meta = fs::symlink_metadata(path).ok()?;
                if excluded && !(meta.is_dir() && ctx.rules.may_include_below(rel)) {
                    return None;
                }
                Some((path.to_path_buf(), meta))
            }
            Origin::Image(layered) => layered.lookup(rel),
        }
    }

    fn excluded(&self, rel: &str) -> bool {
        match self {
            Origin::Context(ctx) => ctx.is_excluded(rel),
            Origin::Image(_) => false,
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
fn walk_all(origin: &Origin<'_>, rel: &str, path: &Path, out: &mut Vec<String>) {
    for name in origin.list(rel, path) {
        let child_rel = join(rel, &name);
        let child_path = path.join(&name);
        out.push(child_rel.clone());
        if let Some((p, meta)) = origin.entry(&child_rel, &child_path)
            && meta.is_dir()
        {
            walk_all(origin, &child_rel, &p, out);
        }
    }
}

/// What the sources name, in order.
fn find_sources(origin: &Origin<'_>, sources: &[String]) -> Result<Vec<Found>, String> {
    let mut found = Vec::new();
    let root_path = match origin {
        Origin::Context(ctx) => ctx
            .root
            .clone()
            .ok_or("no build context: the Dockerfile came from standard input")?,
        Origin::Image(layered) => layered.dirs.last().cloned().unwrap_or_default(),
    };
    let mut all_paths: Option<Vec<String>> = None;
    for source in sources {
        let rel = clean(source.trim_start_matches('/'))
            .ok_or_else(|| format!("source {source:?} is outside the build context"))?;
        if has_glob(&rel) {
            let paths = all_paths.get_or_insert_with(|| {
                let mut out = Vec::new();
                walk_all(origin, "", &root_path, &mut out);
                out
            });
            let mut matched = false;
            for path in paths.iter() {
                let hit = glob::matches(&rel, path).map_err(|e| e.to_string())?;
                if hit
                    && !origin.excluded(path)
                    && let Some((p, meta)) = origin.stat(path)
                {
                    found.push(Found {
                        rel: path.clone(),
                        path: p,
                        meta,
                    });
                    matched = true;
                }
            }
            if !matched {
                return Err(format!("no source files were specified by {source:?}"));
            }
            continue;
        }
        let (path, meta) = origin.stat(&rel).ok_or_else(|| {
            format!("{source:?}: no such file or directory in the build context (or excluded by .dockerignore)")
        })?;
        found.push(Found { rel, path, meta });
    }
    Ok(found)
}

fn item_for(dest: String, path: &Path, meta: &Metadata) -> Option<Item> {
    let kind = if meta.is_dir() {
        ItemKind::Dir
    } else if meta.file_type().is_symlink() {
        ItemKind::Symlink(fs::read_link(path).ok()?)
    } else if meta.is_file() {
        ItemKind::File(path.to_path_buf())
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
fn add_tree(origin: &Origin<'_>, rel: &str, path: &Path, dest: &str, items: &mut Vec<Item>) {
    for name in origin.list(rel, path) {
        let child_rel = join(rel, &name);
        let child_dest = join(dest, &name);
        let Some((child_path, meta)) = origin.entry(&child_rel, &path.join(&name)) else {
            continue;
        };
        let excluded = origin.excluded(&child_rel);
        if !excluded && let Some(item) = item_for(child_dest.clone(), &child_path, &meta) {
            items.push(item);
        }
        if meta.is_dir() {
            add_tree(origin, &child_rel, &child_path, &child_dest, items);
        }
    }
}

/// Whether the file at `path` is an archive ADD unpacks (by its first
/// bytes): gzip, zstd, bzip2, xz or a plain tar.
pub fn is_archive(path: &Path) -> bool {
    let mut head = [0u8; 262];
    let n = fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
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
    let dest_rel = clean(dest).unwrap_or_default();
    let dest_is_dir = dest.ends_with('/')
        || dest.ends_with("/.")
        || dest_rel.is_empty()
        || image.is_dir(&dest_rel);
    let several = found.len() > 1 || sources.len() > 1;
    if several && !dest_is_dir {
        return Err(
            "when using COPY with more than one source file, the destination must be a directory and end with a /"
                .into(),
        );
    }
    let mut items = Vec::new();
    for source in found {
        if source.meta.is_dir() {
            // The directory's contents, not the directory itself; the
            // destination directory gets the source's mode.
            if !dest_rel.is_empty() && !image.is_dir(&dest_rel) {
                items.extend(item_for(dest_rel.clone(), &source.path, &source.meta));
            }
            add_tree(origin, &source.rel, &source.path, &dest_rel, &mut items);
            continue;
        }
        if unpack_archives && source.meta.is_file() && is_archive(&source.path) {
            items.push(Item {
                dest: dest_rel.clone(),
                kind: ItemKind::Archive(source.path.clone()),
                mode: 0o755,
                mtime: source.meta.mtime(),
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
        items.extend(item_for(target, &source.path, &source.meta));
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

fn hash_file(path: &Path) -> std::io::Result<String> {
    let mut file = fs::File::open(path)?;
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
