//! Tests of `unpack_layer`: what lands on disk, and what is refused.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use tar::EntryType;

use super::*;
use crate::layers::test_support::{MTIME, TarBuilder, gzip, zstd};
use crate::layers::{Compression, Store};

fn unpack(tar: &[u8], dest: &Path) -> Result<UnpackedLayer, LayerError> {
    unpack_layer(&mut &tar[..], dest, "test", None)
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

pub(super) fn get_xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    crate::xattr::get_path(path, name).ok().flatten()
}

#[test]
fn files_dirs_links_devices_and_metadata() {
    let mut tar = TarBuilder::new();
    tar.dir("./", 0o755)
        .dir("etc/", 0o750)
        .raw(
            "etc/hosts",
            EntryType::Regular,
            0o640,
            (1000, 1001),
            None,
            (0, 0),
            b"127.0.0.1 x\n",
        )
        .file("/bin/busybox", b"#!busybox", 0o755)
        .file("./bin/su", b"su", 0o4755)
        .symlink("bin/sh", "busybox")
        .symlink("bin/abs", "/etc/hosts")
        .hardlink("bin/ls", "bin/busybox")
        .hardlink("bin/ls2", "/bin/busybox")
        .dir("tmp", 0o1777)
        .dir("ro/", 0o555)
        .file("ro/inner", b"written after the read-only dir", 0o444)
        .raw(
            "dev/null",
            EntryType::Char,
            0o666,
            (0, 0),
            None,
            (1, 3),
            b"",
        )
        .raw(
            "run/fifo",
            EntryType::Fifo,
            0o600,
            (0, 0),
            None,
            (0, 0),
            b"",
        );
    let tar = tar.finish();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = unpack(&tar, d).unwrap();

    assert_eq!(out.diff_id, Digest::of_bytes(&tar));
    let sizes = [12, 9, 2, 31];
    assert_eq!(
        out.stats,
        UnpackStats {
            size: sizes.iter().sum(),
            skipped_devices: 0,
            failed_chowns: 0
        }
    );

    assert_eq!(fs::read(d.join("etc/hosts")).unwrap(), b"127.0.0.1 x\n");
    let hosts = fs::metadata(d.join("etc/hosts")).unwrap();
    assert_eq!(
        (hosts.uid(), hosts.gid(), hosts.mode() & 0o7777),
        (1000, 1001, 0o640)
    );
    assert_eq!(hosts.mtime(), MTIME as i64);
    assert_eq!(mode(&d.join("etc")), 0o750);
    // Directory mtimes are set after their children were written.
    assert_eq!(fs::metadata(d.join("etc")).unwrap().mtime(), MTIME as i64);
    assert_eq!(fs::metadata(d.join("ro")).unwrap().mtime(), MTIME as i64);
    assert_eq!(mode(&d.join("ro")), 0o555);
    assert_eq!(
        fs::read(d.join("ro/inner")).unwrap(),
        b"written after the read-only dir"
    );
    assert_eq!(mode(&d.join("bin/su")), 0o4755);
    assert_eq!(mode(&d.join("tmp")), 0o1777);
    assert_eq!(
        fs::read_link(d.join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    assert_eq!(
        fs::read_link(d.join("bin/abs")).unwrap(),
        Path::new("/etc/hosts")
    );
    assert_eq!(
        fs::symlink_metadata(d.join("bin/sh")).unwrap().mtime(),
        MTIME as i64
    );
    let ino = fs::metadata(d.join("bin/busybox")).unwrap().ino();
    assert_eq!(fs::metadata(d.join("bin/ls")).unwrap().ino(), ino);
    assert_eq!(fs::metadata(d.join("bin/ls2")).unwrap().ino(), ino);
    let null = fs::metadata(d.join("dev/null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), nix::sys::stat::makedev(1, 3));
    assert!(!is_whiteout(&null));
    assert!(
        fs::metadata(d.join("run/fifo"))
            .unwrap()
            .file_type()
            .is_fifo()
    );
    // Implicit parents are created 0755.
    assert_eq!(mode(&d.join("run")), 0o755);
}

#[test]
fn later_entries_replace_earlier_ones_and_dirs_merge() {
    let mut tar = TarBuilder::new();
    tar.file("a", b"file", 0o644)
        .dir("a", 0o755)
        .file("a/b", b"b", 0o644)
        .file("x", b"x", 0o644)
        .symlink("x", "elsewhere")
        .dir("m", 0o700)
        .file("m/1", b"1", 0o644)
        .dir("m", 0o711)
        .file("m/2", b"2", 0o644)
        .hardlink("m/1", "m/1");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    unpack(&tar.finish(), d).unwrap();
    assert_eq!(fs::read(d.join("a/b")).unwrap(), b"b");
    assert_eq!(fs::read_link(d.join("x")).unwrap(), Path::new("elsewhere"));
    assert_eq!(fs::read(d.join("m/1")).unwrap(), b"1");
    assert_eq!(fs::read(d.join("m/2")).unwrap(), b"2");
    assert_eq!(mode(&d.join("m")), 0o711);
}

#[test]
fn dotdot_entries_are_refused() {
    for name in ["../evil", "a/../../evil", "./../evil", "/../evil"] {
        let outer = tempfile::tempdir().unwrap();
        let dest = outer.path().join("layer");
        fs::create_dir(&dest).unwrap();
        let mut tar = TarBuilder::new();
        tar.file(name, b"pwned", 0o644);
        let err = unpack(&tar.finish(), &dest).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("layer test: entry {name:?} escapes the layer root")
        );
        assert!(!outer.path().join("evil").exists());
    }
}

#[test]
fn writing_through_a_symlink_is_refused() {
    let outside = tempfile::tempdir().unwrap();
    for (link, target) in [
        ("a", outside.path().to_str().unwrap()),
        ("a", "../../../../../../.."),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut tar = TarBuilder::new();
        tar.symlink(link, target)
            .file("a/passwd", b"root::0:0::/:/bin/sh\n", 0o644);
        let err = unpack(&tar.finish(), dir.path()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "layer test: entry \"a/passwd\" goes through the symlink \"a\""
        );
        assert!(!outside.path().join("passwd").exists());
    }
    // A directory replaced by a symlink later: no write, no chmod through it.
    let before = mode(outside.path());
    let dir = tempfile::tempdir().unwrap();
    let mut tar = TarBuilder::new();
    tar.dir("d", 0o777)
        .symlink("d", outside.path().to_str().unwrap());
    unpack(&tar.finish(), dir.path()).unwrap();
    assert_eq!(mode(outside.path()), before);
    let mut tar = TarBuilder::new();
    tar.symlink("d", outside.path().to_str().unwrap())
        .dir("d/sub", 0o755);
    assert!(unpack(&tar.finish(), dir.path()).is_err());
    assert!(!outside.path().join("sub").exists());
}

#[test]
fn hardlinks_out_of_the_layer_are_refused() {
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("secret"), b"secret").unwrap();
    let cases: [(&str, &str, &str); 4] = [
        (
            "x",
            "../../etc/passwd",
            "links to \"../../etc/passwd\", outside the layer root",
        ),
        (
            "x",
            "s/secret",
            "links to \"s/secret\", which goes through the symlink \"s\"",
        ),
        (
            "x",
            "nope",
            "links to \"nope\", which is not earlier in this layer",
        ),
        (
            "x",
            "nodir/nope",
            "links to \"nodir/nope\", which has a parent \"nodir\" that is not in this layer",
        ),
    ];
    for (name, target, problem) in cases {
        let dir = tempfile::tempdir().unwrap();
        let mut tar = TarBuilder::new();
        tar.symlink("s", outside.path().to_str().unwrap())
            .hardlink(name, target);
        let err = unpack(&tar.finish(), dir.path()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("layer test: entry {name:?} {problem}")
        );
        assert!(!dir.path().join(name).exists());
    }
    assert_eq!(
        fs::metadata(outside.path().join("secret")).unwrap().nlink(),
        1
    );
}

#[test]
fn whiteouts_become_char_devices_and_opaque_markers_xattrs() {
    let mut tar = TarBuilder::new();
    tar.dir("d", 0o755)
        .file("d/.wh.gone", b"", 0o644)
        .file(".wh.top", b"", 0o644)
        .file("o/.wh..wh..opq", b"", 0o644)
        .file("o/kept", b"kept", 0o644)
        .file("p/.wh..wh.plnk", b"", 0o644);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    unpack(&tar.finish(), d).unwrap();
    for path in ["d/gone", "top"] {
        let meta = fs::symlink_metadata(d.join(path)).unwrap();
        assert!(meta.file_type().is_char_device(), "{path}");
        assert_eq!(meta.rdev(), 0);
        assert!(is_whiteout(&meta));
    }
    assert!(!d.join("d/.wh.gone").exists());
    assert!(!d.join(".wh.top").exists());
    assert_eq!(
        get_xattr(&d.join("o"), OPAQUE_XATTR).as_deref(),
        Some(&b"y"[..])
    );
    assert!(!d.join("o/.wh..wh..opq").exists());
    assert_eq!(fs::read(d.join("o/kept")).unwrap(), b"kept");
    assert_eq!(get_xattr(&d.join("d"), OPAQUE_XATTR), None);
    assert!(!d.join("p/.wh..wh.plnk").exists());
}

#[test]
fn pax_xattrs_and_mtime_apply_but_overlay_xattrs_do_not() {
    let mut tar = TarBuilder::new();
    tar.pax(&[
        ("SCHILY.xattr.user.test", b"value"),
        ("SCHILY.xattr.user.overlay.opaque", b"y"),
        ("mtime", b"1700000000.25"),
    ])
    .dir("x", 0o755)
    .pax(&[("SCHILY.xattr.user.file", b"f")])
    .file("x/f", b"f", 0o644);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    unpack(&tar.finish(), d).unwrap();
    assert_eq!(
        get_xattr(&d.join("x"), "user.test").as_deref(),
        Some(&b"value"[..])
    );
    assert_eq!(get_xattr(&d.join("x"), OPAQUE_XATTR), None);
    assert_eq!(
        get_xattr(&d.join("x/f"), "user.file").as_deref(),
        Some(&b"f"[..])
    );
    let meta = fs::metadata(d.join("x")).unwrap();
    assert_eq!(
        (meta.mtime(), meta.mtime_nsec()),
        (1_700_000_000, 250_000_000)
    );
}

#[test]
fn gzip_and_zstd_layers_have_the_diff_id_of_their_tar() {
    let mut tar = TarBuilder::new();
    tar.file("hello", b"world", 0o644);
    let tar = tar.finish();
    for blob in [gzip(&tar), zstd(&tar), tar.clone()] {
        let dir = tempfile::tempdir().unwrap();
        let out = unpack_layer(
            &mut &blob[..],
            dir.path(),
            "test",
            Some(&Digest::of_bytes(&tar)),
        )
        .unwrap();
        assert_eq!(out.diff_id, Digest::of_bytes(&tar));
        assert_eq!(fs::read(dir.path().join("hello")).unwrap(), b"world");
    }
    assert_eq!(Compression::detect(&gzip(&tar)), Compression::Gzip);
    assert_eq!(Compression::detect(&zstd(&tar)), Compression::Zstd);
    assert_eq!(Compression::detect(&tar), Compression::None);
}

#[test]
fn trailing_padding_counts_in_the_diff_id() {
    let mut tar = TarBuilder::new();
    tar.file("f", b"data", 0o644);
    let mut tar = tar.finish();
    tar.extend_from_slice(&[0u8; 4096]);
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        unpack(&tar, dir.path()).unwrap().diff_id,
        Digest::of_bytes(&tar)
    );
}

#[test]
fn a_diff_id_mismatch_leaves_no_layer_behind() {
    let root = tempfile::tempdir().unwrap();
    let store = Store::open(root.path()).unwrap();
    let mut tar = TarBuilder::new();
    tar.file("f", b"data", 0o644);
    let tar = gzip(&tar.finish());
    let (blob, _) = store.put_blob(&mut &tar[..], None, None, "layer").unwrap();
    let wrong = Digest::of_bytes(b"not this");
    let err = store
        .ensure_layer(&blob, Some(&wrong), "sha256:wrong")
        .unwrap_err();
    assert!(
        err.to_string().starts_with(&format!(
            "layer sha256:wrong: digest mismatch: expected {wrong}, got sha256:"
        )),
        "{err}"
    );
    assert_eq!(fs::read_dir(root.path().join("layers")).unwrap().count(), 0);
    assert_eq!(fs::read_dir(root.path().join("tmp")).unwrap().count(), 0);

    let placed = store.ensure_layer(&blob, None, "x").unwrap();
    assert!(store.layer_dir(&placed.diff_id).join("f").is_file());
    assert_eq!(placed.size, Some(4));
    // Present already: not unpacked again.
    let again = store
        .ensure_layer(&blob, Some(&placed.diff_id), "x")
        .unwrap();
    assert_eq!(again.size, None);
}

#[test]
fn garbage_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = unpack(&[7u8; 1024], dir.path()).unwrap_err().to_string();
    assert!(err.starts_with("layer test: reading tar: "), "{err}");
    let err = unpack(
        &gzip(b"not a tar at all, but long enough to need a header"),
        dir.path(),
    );
    assert!(err.is_err());
}

#[test]
fn a_stream_cut_inside_a_file_is_an_error() {
    let mut tar = TarBuilder::new();
    tar.file("big", &[b'x'; 4000], 0o644);
    let tar = tar.finish();
    let dir = tempfile::tempdir().unwrap();
    let err = unpack(&tar[..2000], dir.path()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "layer test: reading tar: entry \"big\": \
         the stream ends 2512 bytes short of an entry's data"
    );
}

/// The stream builder's end-of-archive blocks.
const END_BLOCKS: usize = 1024;

/// umoci 0.4 ends layers after the last entry: no end-of-archive blocks.
/// They load, with the diff-id of the bytes as they are.
#[test]
fn a_layer_without_end_of_archive_blocks_loads() {
    let mut tar = TarBuilder::new();
    tar.dir("etc", 0o755).file("etc/hello", &[b'h'; 700], 0o644);
    let full = tar.finish();
    let tar = &full[..full.len() - END_BLOCKS];
    assert_eq!(tar.len() % 512, 0);
    // One end block, or part of one, is as good as none.
    for tar in [tar, &full[..full.len() - 512], &full[..tar.len() + 100]] {
        for blob in [tar.to_vec(), gzip(tar), zstd(tar)] {
            let dir = tempfile::tempdir().unwrap();
            let expected = Digest::of_bytes(tar);
            let out = unpack_layer(&mut &blob[..], dir.path(), "test", Some(&expected)).unwrap();
            assert_eq!(out.diff_id, expected);
            assert_eq!(out.stats.size, 700);
            assert_eq!(fs::read(dir.path().join("etc/hello")).unwrap(), [b'h'; 700]);
        }
    }
}

/// The last entry's data ends at its size, without the zeros that pad it
/// to a whole block: still every byte of every entry is there.
#[test]
fn a_layer_whose_last_block_lacks_its_padding_loads() {
    let mut tar = TarBuilder::new();
    tar.file("a", b"first", 0o644)
        .file("last", &[b'z'; 1000], 0o600);
    let full = tar.finish();
    // The padding of `last` is 24 bytes (1000 = 512 + 488).
    let tar = &full[..full.len() - END_BLOCKS - 24];
    for blob in [tar.to_vec(), gzip(tar)] {
        let dir = tempfile::tempdir().unwrap();
        let expected = Digest::of_bytes(tar);
        let out = unpack_layer(&mut &blob[..], dir.path(), "test", Some(&expected)).unwrap();
        assert_eq!(out.diff_id, expected);
        assert_eq!(fs::read(dir.path().join("a")).unwrap(), b"first");
        assert_eq!(fs::read(dir.path().join("last")).unwrap(), [b'z'; 1000]);
        assert_eq!(mode(&dir.path().join("last")), 0o600);
    }
    // The digest is still checked, against the bytes received.
    let dir = tempfile::tempdir().unwrap();
    let err = unpack_layer(
        &mut &tar[..],
        dir.path(),
        "test",
        Some(&Digest::of_bytes(&full)),
    )
    .unwrap_err();
    assert!(matches!(err, LayerError::DigestMismatch { .. }), "{err}");
}

/// An entry whose data is cut short is refused, whatever the entry: a
/// file the unpacker reads, or data the tar reader skips (a whiteout's).
#[test]
fn a_layer_with_a_truncated_entry_is_refused_naming_the_layer() {
    let mut tar = TarBuilder::new();
    tar.file("a", b"first", 0o644)
        .file("last", &[b'z'; 1000], 0o644);
    let full = tar.finish();
    // One byte of `last` missing, and no padding.
    let cut = &full[..full.len() - END_BLOCKS - 25];
    for blob in [cut.to_vec(), gzip(cut)] {
        let dir = tempfile::tempdir().unwrap();
        let err = unpack_layer(&mut &blob[..], dir.path(), "sha256:abc", None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "layer sha256:abc: reading tar: entry \"last\": \
             the stream ends 1 bytes short of an entry's data"
        );
    }

    let mut tar = TarBuilder::new();
    tar.file("a", b"first", 0o644)
        .file(".wh.gone", b"whiteout data", 0o644);
    let full = tar.finish();
    let cut = &full[..full.len() - END_BLOCKS - 512 + 3];
    let dir = tempfile::tempdir().unwrap();
    let err = unpack_layer(&mut &cut[..], dir.path(), "sha256:abc", None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "layer sha256:abc: reading tar: the stream ends 10 bytes short of an entry's data"
    );

    // A header cut short is refused too.
    let mut tar = TarBuilder::new();
    tar.file("a", b"first", 0o644).file("b", b"second", 0o644);
    let full = tar.finish();
    let cut = &full[..1024 + 300];
    let err = unpack_layer(&mut &cut[..], dir.path(), "sha256:abc", None).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("layer sha256:abc: reading tar: "),
        "{err}"
    );
}
