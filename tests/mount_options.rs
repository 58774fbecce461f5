//! Mount options beyond plain binds and volumes (podman's `:O` overlay of
//! a host directory, `:U` chown), `system prune --volumes`, `cp` into a
//! stopped container's volumes, and what a bind volume and copy-up keep.
//! Each test runs as root and rootless.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;

use common::*;

/// The host uid that container uid `uid` is for this context's user:
/// itself as root; rootless, container root is the user and the rest come
/// from its subordinate range (which starts at container uid 1).
fn host_uid(ctx: &Ctx, uid: u32) -> u32 {
    if !ctx.is_rootless() || uid == 0 {
        return if ctx.is_rootless() { ctx.uid } else { uid };
    }
    let name = nix::unistd::User::from_uid(ctx.uid.into())
        .unwrap()
        .expect("the test user exists")
        .name;
    let subuid = fs::read_to_string("/etc/subuid").unwrap();
    let start: u32 = subuid
        .lines()
        .find_map(|line| {
            let mut fields = line.split(':');
            let owner = fields.next()?;
            (owner == name || owner == ctx.uid.to_string())
                .then(|| fields.next()?.parse().ok())
                .flatten()
        })
        .expect("the test user has a subuid range");
    start + uid - 1
}

#[test]
fn overlay_mount_keeps_the_host_directory_unchanged() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let dir = ctx.make_dir("lower");
        ctx.write_file("lower/f", "from host\n");
        let volume = format!("{}:/o:O", dir.display());
        let out = ctx.run_ok(&[
            "run", "--rm", "-v", &volume, "busybox", "sh", "-c",
            "cat /o/f; echo changed > /o/f; echo added > /o/g; rm /o/f; echo again > /o/f; cat /o/f /o/g",
        ]);
        assert_eq!(out, "from host\nagain\nadded\n");
        assert_eq!(fs::read_to_string(dir.join("f")).unwrap(), "from host\n");
        assert!(!dir.join("g").exists(), "a write reached the host dir");
        // The next run starts from the host directory again.
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "-v",
            &volume,
            "busybox",
            "sh",
            "-c",
            "cat /o/f; ls /o",
        ]);
        assert_eq!(out, "from host\nf\n");
    });
}

#[test]
fn chown_option_gives_the_source_to_the_container_user() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let dir = ctx.make_dir("owned");
        ctx.write_file("owned/f", "x");
        let volume = format!("{}:/d:U", dir.display());
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "-u",
            "1000:1000",
            "-v",
            &volume,
            "busybox",
            "sh",
            "-c",
            "ls -ln /d/f | awk '{print $3\":\"$4}'; echo mine > /d/new && echo written",
        ]);
        assert_eq!(out, "1000:1000\nwritten\n");
        let expected = host_uid(ctx, 1000);
        for file in ["f", "new"] {
            let meta = fs::metadata(dir.join(file)).unwrap();
            assert_eq!(meta.uid(), expected, "{file} on the host");
        }
        let meta = fs::metadata(&dir).unwrap();
        assert_eq!(meta.uid(), expected, "the directory itself");
    });
}

#[test]
fn system_prune_with_volumes_takes_stopped_containers_and_unused_anonymous_volumes() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        ctx.run_ok(&[
            "run",
            "--name",
            "stopped",
            "-v",
            "/anon",
            "-v",
            "named1:/n",
            "busybox",
            "true",
        ]);
        let created = ctx.run_ok(&["create", "--name", "created", "busybox", "true"]);
        ctx.run_ok(&[
            "run", "-d", "--name", "up", "-v", "/inuse", "busybox", "sleep", "1000",
        ]);
        let volumes = |ctx: &Ctx| {
            let mut names: Vec<String> = ctx
                .run_ok(&["volume", "ls", "-q"])
                .lines()
                .map(String::from)
                .collect();
            names.sort();
            names
        };
        assert_eq!(volumes(ctx).len(), 3);

        // Without --force and without a yes, nothing goes.
        let out = ctx.run_stdin(&["system", "prune", "--volumes"], b"");
        assert_exit_code(&out, 0, "system prune answered with nothing");
        assert_eq!(volumes(ctx).len(), 3);

        // Stopped and created containers go, and then the anonymous volume
        // nothing uses any more; the running container keeps its own, and
        // named volumes stay.
        let inuse = ctx.run_ok(&[
            "inspect",
            "--format",
            "{{range .Mounts}}{{.Name}}{{end}}",
            "up",
        ]);
        let out = ctx.run_ok(&["system", "prune", "-f", "--volumes"]);
        assert!(out.contains("Deleted Containers"), "{out}");
        assert!(out.contains(created.trim()), "{out}");
        let mut expected = vec!["named1".to_string(), inuse.trim().to_string()];
        expected.sort();
        assert_eq!(volumes(ctx), expected);
        assert_eq!(ctx.run_ok(&["ps", "-a", "--format", "{{.Names}}"]), "up\n");
        ctx.run_ok(&["rm", "-f", "up"]);
    });
}

#[test]
fn cp_reaches_a_stopped_containers_volumes() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let host_file = ctx.write_file("hello.txt", "hello\n");
        ctx.run_ok(&[
            "create",
            "--name",
            "c",
            "-v",
            "cpvol:/data",
            "busybox",
            "true",
        ]);
        ctx.run_ok(&["cp", host_file.to_str().unwrap(), "c:/data/hello.txt"]);
        // It landed in the volume, not in the container's own layer.
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "-v",
            "cpvol:/d",
            "busybox",
            "cat",
            "/d/hello.txt",
        ]);
        assert_eq!(out, "hello\n");

        ctx.run_ok(&[
            "run",
            "--name",
            "o",
            "-v",
            "v2:/data",
            "busybox",
            "sh",
            "-c",
            "echo x > /data/x",
        ]);
        let out_dir = ctx.make_dir("out");
        let dest = out_dir.join("x");
        ctx.run_ok(&["cp", "o:/data/x", dest.to_str().unwrap()]);
        assert_eq!(fs::read_to_string(&dest).unwrap(), "x\n");
    });
}

#[test]
fn a_bind_volume_names_its_host_directory_and_copy_up_keeps_times() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let device = ctx.make_dir("device");
        let opt = format!("device={}", device.display());
        ctx.run_ok(&[
            "volume",
            "create",
            "--opt",
            "type=none",
            "--opt",
            "o=bind",
            "--opt",
            &opt,
            "bnd",
        ]);
        let mountpoint = ctx.run_ok(&["volume", "inspect", "--format", "{{.Mountpoint}}", "bnd"]);
        // One line per volume, as `inspect --format` prints for containers.
        assert_eq!(mountpoint, format!("{}\n", device.display()));

        // The image's files carry fixed times (scripts/busybox-image.sh:
        // the epoch); a copied-up volume keeps them.
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "-v",
            "etcvol:/etc",
            "busybox",
            "stat",
            "-c",
            "%Y",
            "/etc/passwd",
        ]);
        assert_eq!(out, "0\n");
    });
}
