//! Hostile layers against the host and against other images: metadata
//! through a replaced parent, expansion bombs, oversized header records,
//! a blob claiming another layer's diff-id, and a killed unpack. Each test
//! runs as root and rootless and checks the host side.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::Duration;

use common::archives::*;
use common::hostile_layers::{gzip_bomb, header, replaced_parent_layer, zero_file_bomb};
use common::*;
use nix::sys::signal::Signal;

fn owner_mode_mtime(path: &Path) -> (u32, u32, i64) {
    let m = fs::symlink_metadata(path).unwrap();
    (m.uid(), m.mode() & 0o7777, m.mtime())
}

#[test]
fn a_layer_cannot_change_a_host_directory_through_a_replaced_parent() {
    for_each_user(|ctx| {
        let victim = ctx.make_dir("victim");
        ctx.make_dir("victim/sub");
        let before = owner_mode_mtime(&victim.join("sub"));
        let layer = ctx.write_file(
            "evil.tar",
            replaced_parent_layer("sub", victim.to_str().unwrap()),
        );
        ctx.run_ok(&["import", layer.to_str().unwrap(), "evil:1"]);
        assert_eq!(
            owner_mode_mtime(&victim.join("sub")),
            before,
            "the host's victim/sub changed"
        );
    });
}

#[test]
fn a_layer_cannot_change_another_images_layer() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let layers = dir_entries(&ctx.root.join("layers"));
        assert_eq!(layers.len(), 1, "busybox has one layer: {layers:?}");
        let etc = ctx.root.join("layers").join(&layers[0]).join("etc");
        let before = owner_mode_mtime(&etc);
        // Relative to the layer being unpacked under tmp/.
        let target = format!("../../layers/{}", layers[0]);
        let layer = ctx.write_file("evil.tar", replaced_parent_layer("etc", &target));
        ctx.run_ok(&["import", layer.to_str().unwrap(), "evil:1"]);
        assert_eq!(
            owner_mode_mtime(&etc),
            before,
            "busybox's /etc changed on disk"
        );
        let seen = ctx.run_ok(&["run", "--rm", "busybox", "stat", "-c", "%a", "/etc"]);
        assert_eq!(seen.trim(), format!("{:o}", before.1));
    });
}

#[test]
fn an_expansion_bomb_stops_at_the_configured_cap_and_leaves_nothing() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let blobs_before = dir_entries(&ctx.root.join("blobs/sha256"));
        let images_before = ctx.image_ids();
        let bomb = ctx.write_file("bomb.tar.gz", zero_file_bomb("zeros", 256));
        let mut cmd = ctx.skiff(&["import", bomb.to_str().unwrap(), "bomb:1"]);
        cmd.env("SKIFF_LAYER_SIZE_LIMIT", "16m");
        let out = output_of(cmd, None, COMMAND_TIMEOUT);
        assert_exit_code(&out, 125, "import of a bomb over the cap");
        assert_one_error_mentioning(
            &out,
            "unpacking it would write more than 16777216 bytes, the limit for one layer (set SKIFF_LAYER_SIZE_LIMIT to change it)",
            "the cap",
        );
        assert_eq!(
            dir_entries(&ctx.root.join("tmp")),
            Vec::<String>::new(),
            "tmp/ after the refusal"
        );
        assert_eq!(
            dir_entries(&ctx.root.join("blobs/sha256")),
            blobs_before,
            "the refused blob stayed"
        );
        assert_eq!(ctx.image_ids(), images_before);
    });
}

#[test]
fn an_oversized_header_record_is_refused_with_bounded_memory() {
    for_each_user(|ctx| {
        // A PAX header claiming 2 GiB, followed by 2 GiB of real data.
        let pax = header("PaxHeader", tar::EntryType::XHeader, 0o644, 2 << 30, None);
        let bomb = ctx.write_file("pax.tar.gz", gzip_bomb(pax.as_bytes(), 2048));
        let mut cmd = ctx.skiff(&["import", bomb.to_str().unwrap(), "pax:1"]);
        // Reading the record into memory would fail this limit long before.
        // SAFETY: setrlimit is async-signal-safe and touches no shared state.
        unsafe {
            cmd.pre_exec(|| {
                let limit = libc::rlimit {
                    rlim_cur: 768 << 20,
                    rlim_max: 768 << 20,
                };
                if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let out = output_of(cmd, None, COMMAND_TIMEOUT);
        assert_exit_code(&out, 125, "import of an oversized PAX record");
        assert_one_error_mentioning(
            &out,
            "a PAX header of 2147483648 bytes is larger than the limit of 1048576 bytes",
            "the record limit",
        );
        assert_eq!(dir_entries(&ctx.root.join("tmp")), Vec::<String>::new());
    });
}

#[test]
fn a_blob_claiming_a_present_layers_diff_id_is_refused_and_not_kept() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let layers = dir_entries(&ctx.root.join("layers"));
        let blobs_before = dir_entries(&ctx.root.join("blobs/sha256"));
        let mut evil = tar::Builder::new(Vec::new());
        let data = b"not busybox\n";
        evil.append(
            &header(
                "etc/motd",
                tar::EntryType::Regular,
                0o644,
                data.len() as u64,
                None,
            ),
            &data[..],
        )
        .unwrap();
        let archive = ctx.work.join("claims.tar");
        write_docker_archive_claiming(
            &archive,
            "claims:1",
            &evil.into_inner().unwrap(),
            &layers[0],
        );
        let out = ctx.run_status(&["load", "-i", archive.to_str().unwrap()]);
        assert_exit_code(&out, 125, "load of a layer claiming busybox's diff-id");
        assert_one_error_mentioning(
            &out,
            &format!("digest mismatch: expected sha256:{}", layers[0]),
            "the claim",
        );
        assert_eq!(
            dir_entries(&ctx.root.join("blobs/sha256")),
            blobs_before,
            "the hostile blob was kept"
        );
        assert_eq!(dir_entries(&ctx.root.join("layers")), layers);
    });
}

/// busybox's root file system as umoci 0.4 writes a layer: a last entry
/// `/umoci-tail` whose data ends the stream, without the zeros padding its
/// block and without end-of-archive blocks. `cut` more bytes are taken off
/// the end, into the entry's data.
fn busybox_layer_ending_early(cut: usize) -> Vec<u8> {
    let mut entries = read_tar_entries(&std::fs::read(busybox_rootfs_tar()).unwrap());
    let data = b"tail\n".to_vec();
    entries.push((
        header(
            "umoci-tail",
            tar::EntryType::Regular,
            0o644,
            data.len() as u64,
            None,
        ),
        data,
    ));
    let mut layer = write_tar_entries(&entries);
    // Two end blocks, and the padding of the 5-byte entry.
    layer.truncate(layer.len() - 1024 - (512 - 5) - cut);
    layer
}

#[test]
fn a_layer_ending_after_its_last_entrys_data_loads_and_runs() {
    for_each_user(|ctx| {
        let archive = ctx.work.join("umoci.tar");
        write_docker_archive(
            &archive,
            "localhost/umoci:tail",
            &busybox_layer_ending_early(0),
        );
        ctx.run_ok(&["load", "-i", archive.to_str().unwrap()]);
        let out = ctx.run_ok(&["run", "--rm", "localhost/umoci:tail", "cat", "/umoci-tail"]);
        assert_eq!(out, "tail\n");
    });
}

#[test]
fn a_layer_cut_inside_an_entrys_data_is_refused_naming_the_layer() {
    for_each_user(|ctx| {
        let layer = busybox_layer_ending_early(2);
        let archive = ctx.work.join("cut.tar");
        write_docker_archive(&archive, "localhost/umoci:cut", &layer);
        let out = ctx.run_status(&["load", "-i", archive.to_str().unwrap()]);
        assert_exit_code(&out, 125, "load of a layer cut inside an entry");
        assert_one_error_mentioning(
            &out,
            &format!(
                "layer {}/layer.tar: reading tar: entry \"umoci-tail\": \
                 the stream ends 2 bytes short of an entry's data",
                sha256_hex(&layer)
            ),
            "the cut",
        );
        assert_eq!(ctx.image_ids(), Vec::<String>::new());
        assert_eq!(dir_entries(&ctx.root.join("tmp")), Vec::<String>::new());
    });
}

/// The processes below `pid`, children first.
fn descendants(pid: i32) -> Vec<i32> {
    let mut found = Vec::new();
    let children =
        fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    for child in children.split_whitespace().filter_map(|c| c.parse().ok()) {
        found.push(child);
        found.extend(descendants(child));
    }
    found
}

fn is_gone(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // A zombie writes nothing; the field after the name is the state.
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

/// Bytes in the files of `tmp/layer-*` directories.
fn unpacking_bytes(root: &Path) -> u64 {
    let tmp = root.join("tmp");
    dir_entries(&tmp)
        .iter()
        .filter(|n| n.starts_with("layer-"))
        .flat_map(|n| fs::read_dir(tmp.join(n)).into_iter().flatten().flatten())
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

#[test]
fn sigterm_to_a_load_leaves_no_process_writing_and_the_next_command_cleans_up() {
    for_each_user(|ctx| {
        let layer = zero_file_bomb("zeros", 6 << 10);
        let archive = ctx.work.join("big.tar");
        // The layer's diff-id does not matter: the load is killed first.
        write_docker_archive_claiming(&archive, "big:1", &layer, &"0".repeat(64));
        let load = ctx.start(ctx.skiff(&["load", "-i", archive.to_str().unwrap()]));
        wait_for("the unpack to write", Duration::from_secs(30), || {
            unpacking_bytes(&ctx.root) > 8 << 20
        });
        let helpers = descendants(load.pid().as_raw());
        if ctx.is_rootless() {
            assert!(
                !helpers.is_empty(),
                "a rootless unpack runs in a helper process"
            );
        }
        load.signal(Signal::SIGTERM);
        let out = load.wait(Duration::from_secs(10));
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&out.status),
            Some(libc::SIGTERM)
        );
        for pid in &helpers {
            wait_for(
                &format!("helper {pid} to end with skiff"),
                Duration::from_secs(10),
                || is_gone(*pid),
            );
        }
        let left = unpacking_bytes(&ctx.root);
        assert!(left < 6 << 30, "the unpack ran to the end");
        ctx.load_busybox();
        assert_eq!(
            dir_entries(&ctx.root.join("tmp")),
            Vec::<String>::new(),
            "the killed load's partial layer"
        );
    });
}
