//! Volumes as a user keeps data in them: data outlives its container,
//! anonymous volumes come and go with theirs, the local driver's options
//! (a host directory, a tmpfs), `volume rm`/`prune`/`exists`/`ls`, and
//! who owns a volume's files on the host. Each story runs as root and
//! rootless.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use common::containers::*;
use common::proc_files::*;
use common::*;

/// `volume ls -q`, sorted.
fn volume_names(ctx: &Ctx) -> Vec<String> {
    let mut names = nonempty_lines(&ctx.run_ok(&["volume", "ls", "-q"]));
    names.sort();
    names
}

/// The volumes named with 64 hex digits (anonymous ones), sorted.
fn anonymous_volumes(ctx: &Ctx) -> Vec<String> {
    volume_names(ctx)
        .into_iter()
        .filter(|n| is_hex(n, 64))
        .collect()
}

fn mountpoint(ctx: &Ctx, volume: &str) -> PathBuf {
    PathBuf::from(
        ctx.run_ok(&["volume", "inspect", "--format", "{{.Mountpoint}}", volume])
            .trim(),
    )
}

fn exists(ctx: &Ctx, volume: &str) -> bool {
    let out = ctx.run_status(&["volume", "exists", volume]);
    match out.status.code() {
        Some(0) => true,
        Some(1) => false,
        _ => panic!("volume exists {volume}: {out:?}"),
    }
}

#[test]
fn data_outlives_the_container_that_wrote_it() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        ctx.run_ok(&[
            "run",
            "--name",
            "writer",
            "-v",
            "mydata:/data",
            "busybox",
            "sh",
            "-c",
            "echo kept > /data/f",
        ]);
        ctx.run_ok(&["rm", "writer"]);
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "-v",
            "mydata:/data",
            "busybox",
            "cat",
            "/data/f",
        ]);
        assert_eq!(
            out, "kept\n",
            "the next container reads what the first wrote"
        );

        let dir = mountpoint(ctx, "mydata");
        assert!(
            dir.starts_with(&ctx.root) && dir.is_dir(),
            "Mountpoint should be a directory in the store: {}",
            dir.display()
        );
        assert_eq!(fs::read_to_string(dir.join("f")).unwrap(), "kept\n");
    });
}

#[test]
fn anonymous_volumes_go_with_rm_v_and_run_rm() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);

        // `rm` without -v keeps the anonymous volume (it is data).
        ctx.run_ok(&[
            "run",
            "--name",
            "keep",
            "-v",
            "/data",
            "busybox",
            "sh",
            "-c",
            "echo x > /data/f",
        ]);
        let kept = anonymous_volumes(ctx);
        assert_eq!(kept.len(), 1, "one anonymous volume for -v /data: {kept:?}");
        ctx.run_ok(&["rm", "keep"]);
        assert_eq!(anonymous_volumes(ctx), kept, "`rm` without -v keeps it");
        assert_eq!(
            fs::read_to_string(mountpoint(ctx, &kept[0]).join("f")).unwrap(),
            "x\n"
        );

        // `rm -v` takes the container's anonymous volume, not a named one
        // it also used, nor another container's anonymous volume.
        ctx.run_ok(&[
            "run", "--name", "drop", "-v", "/data", "-v", "named:/n", "busybox", "true",
        ]);
        assert_eq!(anonymous_volumes(ctx).len(), 2);
        ctx.run_ok(&["rm", "-v", "drop"]);
        assert_eq!(
            anonymous_volumes(ctx),
            kept,
            "rm -v removes its anonymous volume only"
        );
        assert!(exists(ctx, "named"), "rm -v must keep a named volume");

        // `run --rm` leaves no volume behind.
        ctx.run_ok(&[
            "run",
            "--rm",
            "-v",
            "/x",
            "busybox",
            "sh",
            "-c",
            "echo y > /x/f",
        ]);
        assert_eq!(anonymous_volumes(ctx), kept, "run --rm -v /x left a volume");

        // An image VOLUME becomes an anonymous volume holding the image's
        // content there (busybox has /etc/os-release).
        ctx.run_ok(&["run", "--name", "base", "busybox", "true"]);
        ctx.run_ok(&["commit", "--change", "VOLUME /etc", "base", "volimg"]);
        let out = ctx.run_ok(&["run", "--name", "iv", "volimg", "cat", "/etc/os-release"]);
        assert!(out.contains("ID=skiff-busybox"), "{out}");
        let from_image: Vec<String> = anonymous_volumes(ctx)
            .into_iter()
            .filter(|n| !kept.contains(n))
            .collect();
        assert_eq!(from_image.len(), 1, "one anonymous volume for VOLUME /etc");
        let os_release = mountpoint(ctx, &from_image[0]).join("os-release");
        assert!(
            fs::read_to_string(&os_release)
                .unwrap()
                .contains("ID=skiff-busybox"),
            "the image's /etc was copied into the volume"
        );
        let mounts: serde_json::Value =
            serde_json::from_str(&ctx.inspect_format("iv", "{{json .Mounts}}")).unwrap();
        assert_eq!(mounts[0]["Name"], from_image[0].as_str(), "{mounts}");
        assert_eq!(mounts[0]["Destination"], "/etc", "{mounts}");
        assert_eq!(mounts.as_array().unwrap().len(), 1, "{mounts}");

        // A mount over the image VOLUME's path replaces it: no anonymous one.
        ctx.run_ok(&["run", "--rm", "-v", "etcvol:/etc", "volimg", "true"]);
        assert_eq!(
            anonymous_volumes(ctx).len(),
            2,
            "-v etcvol:/etc covers VOLUME /etc"
        );
        assert!(exists(ctx, "etcvol"));

        ctx.run_ok(&["rm", "-v", "iv"]);
        assert_eq!(anonymous_volumes(ctx), kept);
        assert!(
            !os_release.exists(),
            "rm -v left the volume's data on the host"
        );
    });
}

#[test]
fn local_driver_binds_a_host_directory_or_mounts_a_tmpfs() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let device = ctx.make_dir("device");
        let device_opt = format!("device={}", device.display());
        let out = ctx.run_ok(&[
            "volume",
            "create",
            "--opt",
            "type=none",
            "--opt",
            "o=bind",
            "--opt",
            &device_opt,
            "bound",
        ]);
        assert_eq!(out, "bound\n");
        let options = ctx.run_ok(&[
            "volume",
            "inspect",
            "--format",
            "{{.Options.device}}",
            "bound",
        ]);
        assert_eq!(options.trim(), device.to_str().unwrap());
        ctx.run_ok(&[
            "run",
            "--rm",
            "-v",
            "bound:/d",
            "busybox",
            "sh",
            "-c",
            "echo hi > /d/f",
        ]);
        let written = device.join("f");
        assert_eq!(
            fs::read_to_string(&written).unwrap(),
            "hi\n",
            "the file is in the host directory"
        );
        assert_eq!(
            fs::metadata(&written).unwrap().uid(),
            ctx.uid,
            "container root is the user"
        );
        // Removing the volume forgets it; the host directory is the user's.
        ctx.run_ok(&["volume", "rm", "bound"]);
        assert!(!exists(ctx, "bound"));
        assert_eq!(
            fs::read_to_string(&written).unwrap(),
            "hi\n",
            "volume rm deleted host data"
        );

        ctx.run_ok(&[
            "volume",
            "create",
            "--opt",
            "type=tmpfs",
            "--opt",
            "o=size=1m",
            "tv",
        ]);
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "-v",
            "tv:/t",
            "busybox",
            "sh",
            "-c",
            "echo x > /t/f && cat /proc/mounts",
        ]);
        let mounts = parse_mounts(&out);
        let mount = mount_at(&mounts, "/t").expect("/t in /proc/mounts");
        assert_eq!(mount.fstype, "tmpfs", "{mount:?}");
        assert!(
            mount.has_option("size=1024k"),
            "o=size=1m not applied: {mount:?}"
        );
        let out = ctx.run_ok(&["run", "--rm", "-v", "tv:/t", "busybox", "ls", "-A", "/t"]);
        assert_eq!(out, "", "a tmpfs volume starts empty in each container");
    });
}

#[test]
fn volume_rm_refuses_a_volume_in_use_and_prune_takes_only_unused_ones() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        let id = ctx.run_ok(&[
            "create", "--name", "user", "-v", "busy:/b", "busybox", "true",
        ]);
        let id = id.trim();
        assert!(exists(ctx, "busy"), "create makes the named volume");

        let out = ctx.run_status(&["volume", "rm", "busy"]);
        assert_exit_code(&out, 2, "volume rm of a volume in use");
        assert_one_error_mentioning(
            &out,
            &format!(
                "volume busy is being used by the following container(s): {id}: volume is being used"
            ),
            "volume rm of a volume in use",
        );
        assert!(exists(ctx, "busy"), "a refused volume rm removed it");

        let out = ctx.run_ok(&["volume", "rm", "-f", "busy"]);
        assert_eq!(out, "busy\n");
        assert!(!exists(ctx, "busy"));
        assert_eq!(
            ctx.all_short_ids(),
            Vec::<String>::new(),
            "-f removes the user first"
        );

        let out = ctx.run_status(&["volume", "rm", "missing"]);
        assert_exit_code(&out, 1, "volume rm of a missing volume");
        assert_one_error_mentioning(&out, "missing", "volume rm of a missing volume");

        // prune: an unused named volume, an unused anonymous one, and an
        // anonymous one a container still has.
        ctx.run_ok(&["volume", "create", "keepme"]);
        ctx.run_ok(&["run", "--name", "gone", "-v", "/a", "busybox", "true"]);
        let unused = anonymous_volumes(ctx);
        ctx.run_ok(&["rm", "gone"]);
        ctx.run_ok(&["run", "--name", "stays", "-v", "/b", "busybox", "true"]);
        let used: Vec<String> = anonymous_volumes(ctx)
            .into_iter()
            .filter(|n| !unused.contains(n))
            .collect();
        assert_eq!((unused.len(), used.len()), (1, 1));

        // Without -f it asks; no answer is no.
        ctx.run_ok(&["volume", "prune"]);
        assert_eq!(
            volume_names(ctx).len(),
            3,
            "prune without an answer removed volumes"
        );

        let out = ctx.run_stdin(&["volume", "prune"], b"y\n");
        assert_eq!(
            assert_success(&out, "volume prune, answered y"),
            format!("{}\n", unused[0])
        );
        let mut expected = vec![used[0].clone(), "keepme".to_string()];
        expected.sort();
        assert_eq!(
            volume_names(ctx),
            expected,
            "prune without -a keeps named volumes"
        );

        let out = ctx.run_ok(&["volume", "prune", "-f", "-a"]);
        assert_eq!(out, "keepme\n");
        assert_eq!(
            volume_names(ctx),
            used,
            "prune -a must keep a volume in use"
        );
    });
}

#[test]
fn volume_ls_filters_and_formats() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        ctx.run_ok(&["volume", "create", "--label", "team=red", "alpha"]);
        ctx.run_ok(&["volume", "create", "--label", "team=blue", "beta"]);
        ctx.run_ok(&["volume", "create", "gamma"]);
        let generated = ctx.run_ok(&["volume", "create"]);
        let generated = generated.trim();
        assert!(
            is_hex(generated, 64),
            "a volume without a name gets 64 hex: {generated:?}"
        );
        ctx.run_ok(&["volume", "rm", generated]);
        ctx.run_ok(&["create", "--name", "c", "-v", "alpha:/a", "busybox", "true"]);

        let ls = |filters: &[&str]| {
            let mut args = vec!["volume", "ls", "-q"];
            for f in filters {
                args.extend(["--filter", f]);
            }
            nonempty_lines(&ctx.run_ok(&args))
        };
        assert_eq!(ls(&[]), ["alpha", "beta", "gamma"]);
        assert_eq!(ls(&["dangling=true"]), ["beta", "gamma"]);
        assert_eq!(ls(&["dangling=false"]), ["alpha"]);
        assert_eq!(ls(&["name=alp"]), ["alpha"]);
        assert_eq!(ls(&["label=team"]), ["alpha", "beta"]);
        assert_eq!(ls(&["label=team=red"]), ["alpha"]);
        assert_eq!(
            ls(&["label=team", "dangling=true"]),
            ["beta"],
            "filters combine"
        );
        assert_eq!(ls(&["driver=local"]).len(), 3);

        let out = ctx.run_ok(&["volume", "ls", "--format", "{{.Name}} {{.Driver}}"]);
        assert_eq!(out, "alpha local\nbeta local\ngamma local\n");
        let table = ctx.run_ok(&["volume", "ls", "--filter", "name=gamma"]);
        let rows: Vec<Vec<&str>> = table
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(
            rows,
            [vec!["DRIVER", "VOLUME", "NAME"], vec!["local", "gamma"]]
        );
        let bare = ctx.run_ok(&["volume", "ls", "-n", "--filter", "name=gamma"]);
        assert_eq!(
            bare.split_whitespace().collect::<Vec<_>>(),
            ["local", "gamma"]
        );

        // The same name created concurrently: every create succeeds with
        // that name, and there is one volume.
        let creators: Vec<Running> = (0..6)
            .map(|_| ctx.start(ctx.skiff(&["volume", "create", "same"])))
            .collect();
        for creator in creators {
            let out = creator.wait(COMMAND_TIMEOUT);
            assert_eq!(assert_success(&out, "volume create same"), "same\n");
        }
        assert_eq!(ls(&["name=same"]), ["same"]);
        assert_eq!(ls(&[]).len(), 4);
    });
}

/// The subordinate uid a rootless user's container uid `uid` (≥ 1) is on
/// the host: the user's first range in /etc/subuid, from container uid 1.
fn host_uid_of(ctx: &Ctx, uid: u32) -> u32 {
    if !ctx.is_rootless() {
        return uid;
    }
    let user = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(ctx.uid))
        .unwrap()
        .unwrap();
    let subuid = fs::read_to_string("/etc/subuid").unwrap();
    let start: u32 = subuid
        .lines()
        .find_map(|l| {
            let mut fields = l.split(':');
            (fields.next() == Some(user.name.as_str()))
                .then(|| fields.next().unwrap().parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no /etc/subuid range for {}", user.name));
    start + uid - 1
}

#[test]
fn files_a_container_user_writes_belong_to_its_mapped_uid() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let expected = host_uid_of(ctx, 1000);
        // Copy-up gives /home/tester (uid 1000) to the volume, so uid 1000
        // may write there.
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "-u",
            "1000",
            "-v",
            "homes:/home/tester",
            "busybox",
            "sh",
            "-c",
            "echo mine > /home/tester/new && stat -c %u /home/tester/new",
        ]);
        assert_eq!(out, "1000\n");
        let dir = mountpoint(ctx, "homes");
        for file in ["new", "owned"] {
            let meta = fs::metadata(dir.join(file)).unwrap();
            assert_eq!(
                meta.uid(),
                expected,
                "host owner of {file} (container uid 1000)"
            );
        }

        // :U gives a fresh volume to the container user.
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "-u",
            "1000:1000",
            "-v",
            "chowned:/d:U",
            "busybox",
            "sh",
            "-c",
            "echo x > /d/f && stat -c %u:%g /d /d/f",
        ]);
        assert_eq!(out, "1000:1000\n1000:1000\n");
        let chowned = mountpoint(ctx, "chowned");
        assert_eq!(fs::metadata(chowned.join("f")).unwrap().uid(), expected);
        assert_eq!(fs::metadata(&chowned).unwrap().uid(), expected);

        // The user can still remove volumes holding subordinate-owned files.
        ctx.run_ok(&["volume", "rm", "homes", "chowned"]);
        assert!(!dir.exists(), "{} is still there", dir.display());
        assert!(!chowned.exists(), "{} is still there", chowned.display());
        assert_eq!(volume_names(ctx), Vec::<String>::new());
    });
}

#[test]
fn system_df_counts_volumes_and_what_they_hold() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        let volumes_line = || {
            let out = ctx.run_ok(&[
                "system",
                "df",
                "--format",
                "{{.Type}}|{{.Total}}|{{.Active}}|{{.RawSize}}|{{.RawReclaimable}}",
            ]);
            let line = out
                .lines()
                .find(|l| l.starts_with("Local Volumes|"))
                .unwrap_or_else(|| panic!("no Local Volumes line: {out}"))
                .to_string();
            let fields: Vec<u64> = line
                .split('|')
                .skip(1)
                .map(|f| f.parse().unwrap())
                .collect();
            (fields[0], fields[1], fields[2], fields[3])
        };
        assert_eq!(volumes_line(), (0, 0, 0, 0));

        // In use (by a stopped container): counted as active.
        ctx.run_ok(&[
            "run",
            "--name",
            "user",
            "-v",
            "used:/d",
            "busybox",
            "sh",
            "-c",
            "head -c 100000 /dev/zero > /d/big",
        ]);
        ctx.run_ok(&["volume", "create", "spare"]);
        ctx.run_ok(&[
            "run",
            "--rm",
            "-v",
            "spare:/d",
            "busybox",
            "sh",
            "-c",
            "head -c 3000 /dev/zero > /d/small",
        ]);
        let (total, active, size, reclaimable) = volumes_line();
        assert_eq!((total, active), (2, 1), "two volumes, one in use");
        assert!(
            (103_000..200_000).contains(&size),
            "the volumes hold 103000 bytes of files, df says {size}"
        );
        assert!(
            (3_000..100_000).contains(&reclaimable),
            "only the unused volume (3000 bytes) is reclaimable, df says {reclaimable}"
        );

        ctx.run_ok(&["rm", "user"]);
        let (total, active, _, reclaimable) = volumes_line();
        assert_eq!((total, active), (2, 0));
        assert!(
            reclaimable >= 103_000,
            "both are reclaimable now: {reclaimable}"
        );
    });
}
