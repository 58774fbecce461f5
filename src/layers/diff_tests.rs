//! Tests of `write_layer_tar` and `list_changes` against upper and lower
//! directories made in a temp dir.

use std::fs;
use std::io::Read;
use std::os::unix::fs::symlink;

use nix::sys::stat::{Mode, SFlag, makedev, mknod};
use tar::EntryType;

use super::*;

/// One tar entry as the tests look at it: path, type, data or link target.
#[derive(Debug, PartialEq, Eq)]
struct Entry {
    path: String,
    kind: EntryType,
    content: String,
}

fn layer_entries(upper: &Path, mount_points: &[PathBuf]) -> Vec<Entry> {
    let mut tar = Vec::new();
    write_layer_tar(upper, mount_points, &mut tar).unwrap();
    let mut archive = tar::Archive::new(&tar[..]);
    archive
        .entries()
        .unwrap()
        .map(|entry| {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().display().to_string();
            let kind = entry.header().entry_type();
            let mut content = String::new();
            match entry.link_name().unwrap() {
                Some(target) => content = target.display().to_string(),
                None => {
                    entry.read_to_string(&mut content).unwrap();
                }
            }
            Entry {
                path,
                kind,
                content,
            }
        })
        .collect()
}

fn entry(path: &str, kind: EntryType, content: &str) -> Entry {
    Entry {
        path: path.into(),
        kind,
        content: content.into(),
    }
}

fn change(path: &str, kind: ChangeKind) -> Change {
    Change {
        path: path.into(),
        kind,
    }
}

/// A 0/0 character device, overlay's whiteout; `false` when this process
/// may not make device nodes (the tests run as root, where it may).
fn make_whiteout(path: &Path) -> bool {
    match mknod(path, SFlag::S_IFCHR, Mode::empty(), makedev(0, 0)) {
        Ok(()) => true,
        Err(nix::errno::Errno::EPERM) => false,
        Err(e) => panic!("mknod {}: {e}", path.display()),
    }
}

#[test]
fn files_dirs_and_symlinks_become_entries_in_name_order() {
    let tmp = tempfile::tempdir().unwrap();
    let upper = tmp.path().join("upper");
    fs::create_dir_all(upper.join("etc/app")).unwrap();
    fs::write(upper.join("etc/app/conf"), "debug=1\n").unwrap();
    fs::write(upper.join("b-file"), "data").unwrap();
    symlink("/etc/app/conf", upper.join("a-link")).unwrap();

    assert_eq!(
        layer_entries(&upper, &[]),
        [
            entry("a-link", EntryType::Symlink, "/etc/app/conf"),
            entry("b-file", EntryType::Regular, "data"),
            entry("etc", EntryType::Directory, ""),
            entry("etc/app", EntryType::Directory, ""),
            entry("etc/app/conf", EntryType::Regular, "debug=1\n"),
        ]
    );
}

#[test]
fn whiteouts_and_opaque_dirs_use_the_layer_markers() {
    let tmp = tempfile::tempdir().unwrap();
    let upper = tmp.path().join("upper");
    fs::create_dir_all(upper.join("opaque")).unwrap();
    fs::write(upper.join("opaque/new"), "n").unwrap();
    crate::xattr::set_path(&upper.join("opaque"), OPAQUE_XATTR, b"y").unwrap();
    fs::create_dir_all(upper.join("var")).unwrap();
    if !make_whiteout(&upper.join("var/gone")) {
        eprintln!("skipped: mknod is not allowed here");
        return;
    }

    assert_eq!(
        layer_entries(&upper, &[]),
        [
            entry("opaque", EntryType::Directory, ""),
            entry("opaque/.wh..wh..opq", EntryType::Regular, ""),
            entry("opaque/new", EntryType::Regular, "n"),
            entry("var", EntryType::Directory, ""),
            entry("var/.wh.gone", EntryType::Regular, ""),
        ]
    );
}

#[test]
fn changes_against_the_lower_layers() {
    let tmp = tempfile::tempdir().unwrap();
    let (upper, lower) = (tmp.path().join("upper"), tmp.path().join("lower"));
    fs::create_dir_all(lower.join("etc")).unwrap();
    fs::create_dir_all(lower.join("opaque")).unwrap();
    fs::write(lower.join("etc/passwd"), "root").unwrap();
    fs::write(lower.join("opaque/old"), "o").unwrap();
    fs::write(lower.join("tmp-file"), "t").unwrap();

    fs::create_dir_all(upper.join("etc")).unwrap();
    fs::write(upper.join("etc/passwd"), "root\nuser").unwrap();
    fs::write(upper.join("etc/new"), "x").unwrap();
    fs::create_dir_all(upper.join("opaque")).unwrap();
    // Below an opaque directory nothing of the lower layers shows: `old`
    // is new there, though the lower layer has one.
    fs::write(upper.join("opaque/old"), "o2").unwrap();
    crate::xattr::set_path(&upper.join("opaque"), OPAQUE_XATTR, b"y").unwrap();
    let whiteout = make_whiteout(&upper.join("tmp-file"));

    let mut expected = vec![
        change("/etc", ChangeKind::Changed),
        change("/etc/new", ChangeKind::Added),
        change("/etc/passwd", ChangeKind::Changed),
        change("/opaque", ChangeKind::Changed),
        change("/opaque/old", ChangeKind::Added),
    ];
    if whiteout {
        expected.push(change("/tmp-file", ChangeKind::Deleted));
    }
    assert_eq!(list_changes(&upper, &[lower], &[]).unwrap(), expected);
}

#[test]
fn skiffs_own_empty_mount_points_are_not_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let upper = tmp.path().join("upper");
    fs::create_dir_all(upper.join("etc")).unwrap();
    fs::write(upper.join("etc/hosts"), "").unwrap();
    fs::write(upper.join("etc/hostname"), "changed by the container").unwrap();
    fs::create_dir_all(upper.join("data")).unwrap();
    let mount_points = ["/etc/hosts", "/etc/hostname", "/data"].map(PathBuf::from);

    assert_eq!(
        layer_entries(&upper, &mount_points),
        [
            entry("etc", EntryType::Directory, ""),
            entry(
                "etc/hostname",
                EntryType::Regular,
                "changed by the container"
            ),
        ]
    );
    assert_eq!(
        list_changes(&upper, &[], &mount_points).unwrap(),
        [
            change("/etc", ChangeKind::Added),
            change("/etc/hostname", ChangeKind::Added),
        ]
    );
}

#[test]
fn a_directory_swapped_for_a_symlink_is_not_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let (upper, host) = (tmp.path().join("upper"), tmp.path().join("host"));
    fs::create_dir_all(&host).unwrap();
    fs::write(host.join("secret"), "host data").unwrap();
    fs::create_dir_all(upper.join("a")).unwrap();
    fs::create_dir_all(upper.join("b")).unwrap();
    fs::write(upper.join("b/file"), "b").unwrap();

    /// Replaces `b` by a symlink to the host directory while the walk is
    /// at `a`, after `b` was listed.
    struct SwapDuringWalk {
        upper: PathBuf,
        host: PathBuf,
        seen: Vec<(String, EntryKind)>,
    }
    impl UpperVisitor for SwapDuringWalk {
        type Below = ();
        fn visit(&mut self, entry: &UpperEntry<'_>, _: &()) -> io::Result<Option<()>> {
            if entry.path == Path::new("a") {
                fs::remove_dir_all(self.upper.join("b"))?;
                symlink(&self.host, self.upper.join("b"))?;
            }
            self.seen
                .push((entry.path.display().to_string(), entry.kind));
            Ok(Some(()))
        }
    }
    let mut visitor = SwapDuringWalk {
        upper: upper.clone(),
        host,
        seen: Vec::new(),
    };
    walk_upper(&upper, &mut visitor, ()).unwrap();
    assert_eq!(
        visitor.seen,
        [
            ("a".to_string(), EntryKind::Directory { opaque: false }),
            ("b".to_string(), EntryKind::Symlink),
        ]
    );
}

#[test]
fn a_file_replaced_after_listing_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (upper, host) = (tmp.path().join("upper"), tmp.path().join("host-file"));
    fs::create_dir_all(&upper).unwrap();
    fs::write(&host, "host data").unwrap();
    fs::write(upper.join("f"), "mine").unwrap();
    let root = open_root(&upper).unwrap();
    let stat = lstat_at(root.as_fd(), OsStr::new("f")).unwrap();
    let entry = UpperEntry {
        path: Path::new("f"),
        name: OsStr::new("f"),
        parent: root.as_fd(),
        kind: EntryKind::File,
        stat,
    };
    let mut data = String::new();
    entry
        .open_file()
        .unwrap()
        .read_to_string(&mut data)
        .unwrap();
    assert_eq!(data, "mine");

    // Kept alive under another name, so no new file can reuse its inode.
    fs::hard_link(upper.join("f"), tmp.path().join("kept")).unwrap();
    // A symlink now: O_NOFOLLOW refuses to open through it.
    fs::remove_file(upper.join("f")).unwrap();
    symlink(&host, upper.join("f")).unwrap();
    assert!(entry.open_file().is_err());

    // Another file under the same name: not the inode that was listed.
    fs::remove_file(upper.join("f")).unwrap();
    fs::write(upper.join("f"), "other").unwrap();
    let error = entry.open_file().unwrap_err();
    assert!(error.to_string().contains("changed"), "{error}");
}

#[test]
fn headers_match_the_tar_crates_own_from_metadata() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("file"), "12345").unwrap();
    fs::create_dir(tmp.path().join("dir")).unwrap();
    symlink("file", tmp.path().join("link")).unwrap();
    let dir = open_root(tmp.path()).unwrap();
    let dev = open_root(Path::new("/dev")).unwrap();
    for (parent, name) in [
        (dir.as_fd(), "file"),
        (dir.as_fd(), "dir"),
        (dir.as_fd(), "link"),
        (dev.as_fd(), "null"),
    ] {
        let ours = tar_header(&lstat_at(parent, OsStr::new(name)).unwrap()).unwrap();
        let host = if name == "null" {
            PathBuf::from("/dev/null")
        } else {
            tmp.path().join(name)
        };
        let mut theirs = tar::Header::new_gnu();
        theirs.set_metadata_in_mode(
            &fs::symlink_metadata(&host).unwrap(),
            tar::HeaderMode::Complete,
        );
        if name == "null" {
            // The crate's builder adds device numbers itself (`append_special`).
            theirs.set_device_major(1).unwrap();
            theirs.set_device_minor(3).unwrap();
        }
        assert_eq!(ours.as_bytes(), theirs.as_bytes(), "{name}");
    }
}
