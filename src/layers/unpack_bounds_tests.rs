//! Tests of what `unpack_layer` may do through replaced parents and how
//! much one layer may cost: host-side metadata never changes, records,
//! bytes and holes are bounded.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use tar::EntryType;

use super::*;
use crate::layers::test_support::{TarBuilder, gzip};

fn metadata_of(path: &Path) -> (u32, i64, u32) {
    let m = fs::symlink_metadata(path).unwrap();
    (m.mode() & 0o7777, m.mtime(), m.uid())
}

/// The case found by feeding hostile layers: `a/`, `a/sub/` (0777, an old
/// mtime), then `a` again as a symlink to a host directory. The deferred
/// directory metadata must not reach the host's `sub` through `a`.
#[test]
fn deferred_directory_metadata_never_follows_a_replaced_parent() {
    let host = tempfile::tempdir().unwrap();
    let victim = host.path().join("sub");
    fs::create_dir(&victim).unwrap();
    fs::set_permissions(&victim, fs::Permissions::from_mode(0o755)).unwrap();
    let before = metadata_of(&victim);
    for link in [
        host.path().to_str().unwrap().to_string(),
        "../../../../../../..".to_string() + host.path().to_str().unwrap(),
    ] {
        let mut tar = TarBuilder::new();
        tar.dir("a", 0o755)
            .raw(
                "a/sub",
                EntryType::Directory,
                0o777,
                (0, 0),
                None,
                (0, 0),
                b"",
            )
            .symlink("a", &link);
        // The builder's MTIME (2020) is not the victim's (now).
        let tar = tar.finish();
        let dest = tempfile::tempdir().unwrap();
        unpack_layer_capped(&mut &tar[..], dest.path(), "t", None, u64::MAX).unwrap();
        assert_eq!(
            metadata_of(&victim),
            before,
            "host directory changed via {link}"
        );
        assert!(
            fs::symlink_metadata(dest.path().join("a"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }
}

/// Whiteouts, opaque markers and hardlinks behind a parent that became a
/// symlink are refused, and the host side is untouched.
#[test]
fn whiteouts_markers_and_links_under_a_replaced_parent_are_refused() {
    let host = tempfile::tempdir().unwrap();
    fs::write(host.path().join("x"), b"host file").unwrap();
    let target = host.path().to_str().unwrap();
    for second in [".wh.x", ".wh..wh..opq", "y"] {
        let mut tar = TarBuilder::new();
        tar.dir("a", 0o755)
            .file("f", b"f", 0o644)
            .symlink("a", target);
        if second == "y" {
            tar.hardlink("a/y", "f");
        } else {
            tar.file(&format!("a/{second}"), b"", 0o644);
        }
        let dest = tempfile::tempdir().unwrap();
        let err = unpack_layer_capped(&mut &tar.finish()[..], dest.path(), "t", None, u64::MAX)
            .unwrap_err();
        assert!(
            err.to_string().contains("goes through the symlink \"a\""),
            "{second}: {err}"
        );
        assert_eq!(fs::read(host.path().join("x")).unwrap(), b"host file");
        assert_eq!(fs::read_dir(host.path()).unwrap().count(), 1, "{second}");
        assert!(super::get_xattr_for_tests(host.path(), OPAQUE_XATTR).is_none());
    }
}

#[test]
fn a_layer_over_the_write_cap_stops_with_an_error_naming_it() {
    let zeros = vec![0u8; 4 << 20];
    let mut tar = TarBuilder::new();
    tar.file("big", &zeros, 0o644);
    let layer = gzip(&tar.finish());
    let dest = tempfile::tempdir().unwrap();
    let err = unpack_layer_capped(&mut &layer[..], dest.path(), "bomb", None, 1 << 20).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "layer bomb: unpacking it would write more than 1048576 bytes, the limit for one layer (set {WRITE_CAP_ENV} to change it)"
        )
    );
    let written = fs::metadata(dest.path().join("big")).map_or(0, |m| m.len());
    assert!(written <= 1 << 20, "wrote {written} bytes past the cap");

    // Many empty entries cost their headers.
    let mut tar = TarBuilder::new();
    for i in 0..100 {
        tar.file(&format!("f{i}"), b"", 0o644);
    }
    let dest = tempfile::tempdir().unwrap();
    let err = unpack_layer_capped(&mut &tar.finish()[..], dest.path(), "many", None, 50 * 512)
        .unwrap_err();
    assert!(matches!(err, LayerError::TooLarge { .. }), "{err}");
    assert!(fs::read_dir(dest.path()).unwrap().count() <= 50);
}

#[test]
fn an_oversized_pax_record_is_refused_before_it_is_read() {
    // Only the header claims 2 GiB: the refusal must come from the claim.
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(EntryType::XHeader);
    header.set_size(2 << 30);
    header.set_cksum();
    let mut stream = header.as_bytes().to_vec();
    stream.extend(vec![b'9'; 64 << 10]);
    let dest = tempfile::tempdir().unwrap();
    let err = unpack_layer_capped(&mut &stream[..], dest.path(), "pax", None, u64::MAX)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("layer pax: reading tar: a PAX header of 2147483648 bytes is larger than the limit of 1048576 bytes"),
        "{err}"
    );
}

/// A GNU sparse entry: 4 KiB of data after a 64 MiB hole.
fn sparse_layer(hole: u64) -> Vec<u8> {
    let data = vec![b'd'; 4096];
    let mut header = tar::Header::new_gnu();
    {
        let gnu = header.as_gnu_mut().unwrap();
        gnu.name[..6].copy_from_slice(b"sparse");
        gnu.sparse[0].offset = octal(hole);
        gnu.sparse[0].numbytes = octal(4096);
        gnu.realsize = octal(hole + 4096);
    }
    header.set_entry_type(EntryType::GNUSparse);
    header.set_size(4096);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_cksum();
    let mut stream = header.as_bytes().to_vec();
    stream.extend(&data);
    stream.extend(vec![0; 1024]);
    stream
}

/// A 12-byte numeric field: octal, or GNU base-256 when too large.
fn octal(value: u64) -> [u8; 12] {
    if value < 1 << 33 {
        return format!("{value:011o}\0").as_bytes().try_into().unwrap();
    }
    let mut field = [0u8; 12];
    field[0] = 0x80;
    field[4..].copy_from_slice(&value.to_be_bytes());
    field
}

#[test]
fn sparse_files_keep_their_holes_and_count_against_the_cap() {
    let hole = 64 << 20;
    let dest = tempfile::tempdir().unwrap();
    unpack_layer_capped(
        &mut &sparse_layer(hole)[..],
        dest.path(),
        "s",
        None,
        u64::MAX,
    )
    .unwrap();
    let path = dest.path().join("sparse");
    let meta = fs::metadata(&path).unwrap();
    assert_eq!(meta.len(), hole + 4096);
    assert!(
        meta.blocks() * 512 < 1 << 20,
        "the hole was written: {} blocks",
        meta.blocks()
    );
    let content = fs::read(&path).unwrap();
    assert!(content[..hole as usize].iter().all(|&b| b == 0));
    assert!(content[hole as usize..].iter().all(|&b| b == b'd'));

    // A claim of 100 GiB stops at the cap instead of being read through.
    let dest = tempfile::tempdir().unwrap();
    let err = unpack_layer_capped(
        &mut &sparse_layer(100 << 30)[..],
        dest.path(),
        "s",
        None,
        8 << 20,
    )
    .unwrap_err();
    assert!(matches!(err, LayerError::TooLarge { .. }), "{err}");
}
