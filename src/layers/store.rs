//! The store's directories, whole-or-nothing blob writes, and placing
//! unpacked layers under `layers/<diff-id hex>/`.
//!
//! Layout under the root:
//! - `blobs/sha256/<hex>`: blobs as served (manifests, configs, compressed layers)
//! - `layers/<diff-id hex>/`: unpacked layers, overlay lowerdirs
//! - `images/index.json` (+ `index.lock`): the image index, see `image.rs`
//! - `tmp/`: temp files and dirs, renamed into place when complete

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::digest::{Digest, HashingWriter};
use super::unpack::{UnpackStats, unpack_layer};
use super::{LayerError, io_error};

/// The content store: blobs, unpacked layers and the image index.
pub struct Store {
    root: PathBuf,
}

/// A layer present under `layers/` after `Store::ensure_layer`.
#[derive(Debug, Clone)]
pub struct PlacedLayer {
    pub diff_id: Digest,
    /// The unpacked size when this call unpacked it; `None` when the layer
    /// was already present and left alone.
    pub size: Option<u64>,
    pub stats: UnpackStats,
}

impl Store {
    /// Opens (creating if needed) the store at `root`. Cheap when the store
    /// exists: one `stat`.
    pub fn open(root: &Path) -> Result<Store, LayerError> {
        let store = Store {
            root: root.to_path_buf(),
        };
        // `tmp` is created last, so its presence means the layout exists.
        if store.tmp_dir().is_dir() {
            return Ok(store);
        }
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)
            .map_err(io_error("creating", root))?;
        for dir in ["blobs", "blobs/sha256", "layers", "images", "tmp"] {
            let path = root.join(dir);
            match DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::AlreadyExists && path.is_dir() => {}
                Err(e) => return Err(io_error("creating", &path)(e)),
            }
        }
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `blobs/sha256/<hex>`.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(digest.hex())
    }

    /// `layers/<diff-id hex>`, the unpacked layer (may not exist).
    pub fn layer_dir(&self, diff_id: &Digest) -> PathBuf {
        self.root.join("layers").join(diff_id.hex())
    }

    pub(crate) fn images_dir(&self) -> PathBuf {
        self.root.join("images")
    }

    fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// A fresh path under `tmp/` (not created).
    pub(crate) fn temp_path(&self, kind: &str) -> PathBuf {
        self.tmp_dir().join(unique_name(kind))
    }

    /// Reads a whole blob (configs and manifests: small).
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>, LayerError> {
        let path = self.blob_path(digest);
        fs::read(&path).map_err(io_error("reading", &path))
    }

    /// Stores the bytes of `input` as a blob. When `expected` (and
    /// `expected_size`) are given the content must match them, else the
    /// write fails with an error naming `subject`. A blob is written to
    /// `tmp/` and renamed into place: it exists whole or not at all. An
    /// already present blob is not rewritten (nor `input` read, when
    /// `expected` names it).
    pub fn put_blob(
        &self,
        input: &mut dyn Read,
        expected: Option<&Digest>,
        expected_size: Option<u64>,
        subject: &str,
    ) -> Result<(Digest, u64), LayerError> {
        if let Some(expected) = expected
            && let Ok(meta) = fs::metadata(self.blob_path(expected))
        {
            check_size(subject, expected_size, meta.len())?;
            return Ok((expected.clone(), meta.len()));
        }
        let mut writer = self.blob_writer()?;
        copy_reading(input, &mut writer.writer, subject, writer.tmp.path())?;
        writer.commit(expected, expected_size, subject)
    }

    /// A blob written piece by piece (a download): bytes go to a temp file
    /// under `tmp/` and become visible only through `BlobWriter::commit`.
    pub fn blob_writer(&self) -> Result<BlobWriter<'_>, LayerError> {
        let tmp = TempGuard::new(self.temp_path("blob"));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(tmp.path())
            .map_err(io_error("creating", tmp.path()))?;
        Ok(BlobWriter {
            store: self,
            writer: HashingWriter::new(io::BufWriter::with_capacity(128 * 1024, file)),
            tmp,
        })
    }

    /// Held (shared) while blobs and layers are written and not yet in
    /// the index, so a concurrent garbage collection (`lock_for_gc`) does
    /// not take them for orphans.
    pub fn lock_for_writing(&self) -> Result<File, LayerError> {
        let lock = self.open_gc_lock()?;
        lock.lock_shared()
            .map_err(io_error("locking", &self.root.join("gc.lock")))?;
        Ok(lock)
    }

    /// Held (exclusive) while unreferenced blobs and layers are removed.
    pub fn lock_for_gc(&self) -> Result<File, LayerError> {
        let lock = self.open_gc_lock()?;
        lock.lock()
            .map_err(io_error("locking", &self.root.join("gc.lock")))?;
        Ok(lock)
    }

    fn open_gc_lock(&self) -> Result<File, LayerError> {
        let path = self.root.join("gc.lock");
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_error("opening", &path))
    }

    /// Held (exclusive) for a collection only when no writer holds the
    /// lock now; `None` when one does.
    pub fn try_lock_for_gc(&self) -> Result<Option<File>, LayerError> {
        let lock = self.open_gc_lock()?;
        match lock.try_lock() {
            Ok(()) => Ok(Some(lock)),
            Err(fs::TryLockError::WouldBlock) => Ok(None),
            Err(fs::TryLockError::Error(e)) => {
                Err(io_error("locking", &self.root.join("gc.lock"))(e))
            }
        }
    }

    /// Removes what crashed or killed processes left under `tmp/` (names
    /// carry the writer's PID; entries of live processes stay). Returns
    /// the bytes freed.
    pub fn sweep_stale_temp(&self) -> u64 {
        let Ok(entries) = fs::read_dir(self.tmp_dir()) else {
            return 0;
        };
        let mut freed = 0;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name
                .to_str()
                .and_then(|n| n.split('-').nth(1))
                .and_then(|p| p.parse::<i32>().ok())
            else {
                continue;
            };
            if writer_is_gone(pid) {
                let path = entry.path();
                let size = match entry.metadata() {
                    Ok(m) if m.is_dir() => tree_size(&path),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                };
                remove_tree(&path);
                if fs::symlink_metadata(&path).is_err() {
                    freed += size;
                }
            }
        }
        freed
    }

    /// Stores in-memory bytes (generated configs and manifests).
    pub fn put_blob_bytes(&self, data: &[u8], subject: &str) -> Result<Digest, LayerError> {
        let digest = Digest::of_bytes(data);
        self.put_blob(
            &mut &data[..],
            Some(&digest),
            Some(data.len() as u64),
            subject,
        )?;
        Ok(digest)
    }

    /// Makes sure the layer in blob `blob` is unpacked under `layers/`.
    /// With `expected_diff` known and the layer present, nothing is read.
    /// Otherwise the blob is unpacked into `tmp/`, its diff-id verified,
    /// then renamed into place; when another process placed the same layer
    /// first, ours is discarded.
    pub fn ensure_layer(
        &self,
        blob: &Digest,
        expected_diff: Option<&Digest>,
        label: &str,
    ) -> Result<PlacedLayer, LayerError> {
        if let Some(diff_id) = expected_diff
            && self.layer_dir(diff_id).is_dir()
        {
            return Ok(PlacedLayer {
                diff_id: diff_id.clone(),
                size: None,
                stats: UnpackStats::default(),
            });
        }
        let blob_path = self.blob_path(blob);
        let mut file = File::open(&blob_path).map_err(io_error("opening", &blob_path))?;
        let tmp = TempGuard::new(self.temp_path("layer"));
        DirBuilder::new()
            .mode(0o755)
            .create(tmp.path())
            .map_err(io_error("creating", tmp.path()))?;
        let unpacked = unpack_layer(&mut file, tmp.path(), label, expected_diff)?;
        let target = self.layer_dir(&unpacked.diff_id);
        match fs::rename(tmp.path(), &target) {
            Ok(()) => tmp.keep(),
            // Someone else placed the same layer: theirs is as good as ours.
            Err(e) if target.is_dir() && is_dir_exists_error(&e) => {}
            Err(e) => return Err(io_error("renaming into", &target)(e)),
        }
        Ok(PlacedLayer {
            diff_id: unpacked.diff_id,
            size: Some(unpacked.stats.size),
            stats: unpacked.stats,
        })
    }
}

/// Whether the process that named a temp entry has ended: no such PID,
/// or a zombie (a killed helper waits for its new parent to reap it, and
/// writes nothing more).
fn writer_is_gone(pid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks that the PID exists.
    if unsafe { libc::kill(pid, 0) } == -1
        && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
    {
        return true;
    }
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z'))
    })
}

/// A blob being written; see `Store::blob_writer`. Dropped without
/// `commit`, it leaves nothing behind.
pub struct BlobWriter<'s> {
    store: &'s Store,
    writer: HashingWriter<io::BufWriter<File>>,
    tmp: TempGuard,
}

impl BlobWriter<'_> {
    pub fn write(&mut self, data: &[u8]) -> Result<(), LayerError> {
        self.writer
            .write_all(data)
            .map_err(io_error("writing", self.tmp.path()))
    }

    /// Checks the content against `expected` digest and size (naming
    /// `subject` in the error) and renames it into `blobs/`.
    pub fn commit(
        self,
        expected: Option<&Digest>,
        expected_size: Option<u64>,
        subject: &str,
    ) -> Result<(Digest, u64), LayerError> {
        let BlobWriter { store, writer, tmp } = self;
        let (buffered, digest, size) = writer.finish();
        buffered
            .into_inner()
            .map_err(|e| io_error("writing", tmp.path())(e.into_error()))?;
        if let Some(expected) = expected
            && *expected != digest
        {
            return Err(LayerError::DigestMismatch {
                subject: subject.to_string(),
                expected: expected.clone(),
                actual: digest,
            });
        }
        check_size(subject, expected_size, size)?;
        let target = store.blob_path(&digest);
        if !target.exists() {
            fs::rename(tmp.path(), &target).map_err(io_error("renaming into", &target))?;
            tmp.keep();
        }
        Ok((digest, size))
    }
}

pub(crate) fn is_dir_exists_error(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EEXIST) | Some(libc::ENOTEMPTY))
}

fn check_size(subject: &str, expected: Option<u64>, actual: u64) -> Result<(), LayerError> {
    match expected {
        Some(expected) if expected != actual => Err(LayerError::SizeMismatch {
            subject: subject.to_string(),
            expected,
            actual,
        }),
        _ => Ok(()),
    }
}

/// Copies `input` to `out`, telling read errors (naming `subject`) apart
/// from write errors (naming `dest`).
fn copy_reading(
    input: &mut dyn Read,
    out: &mut dyn Write,
    subject: &str,
    dest: &Path,
) -> Result<u64, LayerError> {
    let mut buf = vec![0u8; 128 * 1024];
    let mut total = 0u64;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(LayerError::Invalid {
                    subject: subject.to_string(),
                    problem: format!("reading: {e}"),
                });
            }
        };
        out.write_all(&buf[..n])
            .map_err(io_error("writing", dest))?;
        total += n as u64;
    }
}

/// `<kind>-<pid>-<nanos>-<counter>`: unique across processes and threads.
fn unique_name(kind: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{kind}-{}-{nanos:09}-{n}", std::process::id())
}

/// A temp file or directory removed when dropped, unless kept (renamed
/// into place).
pub(crate) struct TempGuard {
    path: PathBuf,
    armed: bool,
}

impl TempGuard {
    pub(crate) fn new(path: PathBuf) -> TempGuard {
        TempGuard { path, armed: true }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The path now belongs elsewhere: do not remove it.
    pub(crate) fn keep(mut self) {
        self.armed = false;
    }
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if self.armed {
            remove_tree(&self.path);
        }
    }
}

/// Removes a file or a directory tree, best effort; directories left
/// without write permission by a layer are made writable first.
pub(crate) fn remove_tree(path: &Path) {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return;
    };
    if !meta.is_dir() {
        let _ = fs::remove_file(path);
        return;
    }
    if fs::remove_dir_all(path).is_ok() {
        return;
    }
    make_dirs_writable(path);
    let _ = fs::remove_dir_all(path);
}

fn make_dirs_writable(dir: &Path) {
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            make_dirs_writable(&entry.path());
        }
    }
}

/// Sum of the regular file sizes under `dir` (layers unpacked by an
/// earlier, interrupted load whose size was never recorded; container
/// upper directories). 0 for a missing directory.
pub fn tree_size(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let mut total = 0;
    for entry in entries.flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            total += tree_size(&entry.path());
        } else if meta.is_file() {
            total += meta.len();
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_creates_the_layout() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("store");
        let store = Store::open(&root).unwrap();
        for sub in ["blobs/sha256", "layers", "images", "tmp"] {
            assert!(root.join(sub).is_dir(), "{sub}");
        }
        assert_eq!(
            fs::metadata(&root).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert_eq!(store.root(), root);
        Store::open(&root).unwrap();
    }

    #[test]
    fn put_blob_verifies_and_is_whole_or_absent() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let data = b"some blob".to_vec();
        let good = Digest::of_bytes(&data);
        let (d, n) = store
            .put_blob(&mut &data[..], Some(&good), Some(9), "blob x")
            .unwrap();
        assert_eq!((d.clone(), n), (good.clone(), 9));
        assert_eq!(fs::read(store.blob_path(&good)).unwrap(), data);

        let other = b"other".to_vec();
        let err = store.put_blob(
            &mut &other[..],
            Some(&Digest::of_bytes(b"x")),
            None,
            "blob y",
        );
        let msg = err.unwrap_err().to_string();
        assert!(
            msg.starts_with("blob y: digest mismatch: expected sha256:"),
            "{msg}"
        );
        assert!(!store.blob_path(&Digest::of_bytes(&other)).exists());

        let err = store
            .put_blob(&mut &other[..], None, Some(4), "blob z")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "blob z: size mismatch: expected 4 bytes, got 5"
        );
        assert!(!store.blob_path(&Digest::of_bytes(&other)).exists());
        assert_eq!(
            fs::read_dir(store.tmp_dir()).unwrap().count(),
            0,
            "temp files left"
        );
    }
}
