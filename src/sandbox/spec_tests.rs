use super::*;

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

pub(super) fn image() -> ImageDefaults {
    ImageDefaults {
        entrypoint: strings(&["/entry"]),
        cmd: strings(&["default", "args"]),
        env: strings(&["PATH=/image/bin", "LANG=C"]),
        workdir: Some("/app".into()),
    }
}

pub(super) fn plan() -> RunPlan {
    RunPlan {
        rootfs: "/run/x/merged".into(),
        command: Vec::new(),
        entrypoint: None,
        env: Vec::new(),
        workdir: None,
        user: ResolvedUser {
            uid: 0,
            gid: 0,
            additional_gids: vec![],
            home: "/root".into(),
        },
        hostname: "abc".into(),
        tty: false,
        mounts: Vec::new(),
        private_network: true,
        id_mappings: None,
        scratch_dir: "/run/x/scratch".into(),
        seccomp: Some(
            crate::sandbox::seccomp::profile::Profile::parse(
                crate::sandbox::seccomp::profile::DEFAULT_PROFILE.as_bytes(),
                (6, 1),
            )
            .unwrap(),
        ),
        no_new_privileges: true,
        etc_files: EtcFiles {
            hosts: "/h".into(),
            resolv_conf: "/r".into(),
            hostname: "/n".into(),
        },
        resources: None,
        cgroup_namespace: false,
        settings: Default::default(),
        privileged: false,
        security: crate::sandbox::privileges::SecurityPlan::default(),
        secrets: Vec::new(),
        joined: Vec::new(),
    }
}

fn process_args(
    image: &ImageDefaults,
    entrypoint: Option<&str>,
    command: &[String],
) -> Result<Vec<String>, PlanError> {
    CommandLine::new(image, entrypoint, command).args()
}

#[test]
fn entrypoint_and_cmd_combine_like_docker() {
    let img = image();
    assert_eq!(
        process_args(&img, None, &[]).unwrap(),
        strings(&["/entry", "default", "args"])
    );
    assert_eq!(
        process_args(&img, None, &strings(&["x"])).unwrap(),
        strings(&["/entry", "x"]),
        "arguments replace CMD only"
    );
    assert_eq!(
        process_args(&img, Some("/bin/sh"), &[]).unwrap(),
        strings(&["/bin/sh"]),
        "--entrypoint clears CMD"
    );
    assert_eq!(
        process_args(&img, Some("/bin/sh"), &strings(&["-c", "id"])).unwrap(),
        strings(&["/bin/sh", "-c", "id"])
    );
    assert_eq!(
        process_args(&img, Some(""), &strings(&["ls"])).unwrap(),
        strings(&["ls"]),
        "an empty --entrypoint removes the image's"
    );
    let empty = ImageDefaults::default();
    assert!(matches!(
        process_args(&empty, None, &[]),
        Err(PlanError::NoCommand)
    ));
}

#[test]
fn user_env_overrides_image_env_and_defaults_are_added() {
    let mut p = plan();
    p.env = strings(&["LANG=de", "A=1"]);
    let env = process_env(&image().env, &p);
    assert_eq!(
        env[0], "PATH=/image/bin",
        "image PATH replaces the default in place"
    );
    assert!(env.contains(&"LANG=de".to_string()));
    assert!(!env.contains(&"LANG=C".to_string()));
    assert!(env.contains(&"A=1".to_string()));
    assert!(env.contains(&"HOSTNAME=abc".to_string()));
    assert!(env.contains(&"HOME=/root".to_string()));
    assert!(!env.iter().any(|e| e.starts_with("TERM=")));
}

#[test]
fn workdir_comes_from_flag_then_image_and_must_be_absolute() {
    let mut p = plan();
    let spec = build_spec(&image(), &p).unwrap();
    assert_eq!(spec.process().as_ref().unwrap().cwd(), Path::new("/app"));
    p.workdir = Some("/tmp".into());
    let spec = build_spec(&image(), &p).unwrap();
    assert_eq!(spec.process().as_ref().unwrap().cwd(), Path::new("/tmp"));
    p.workdir = Some("rel".into());
    assert!(matches!(
        build_spec(&image(), &p),
        Err(PlanError::RelativeWorkdir(_))
    ));
}

#[test]
fn volume_requests_become_mounts() {
    let mut p = plan();
    p.mounts = vec![
        MountRequest::Bind {
            source: "/a".into(),
            destination: "/b".into(),
            read_only: true,
            copy_up: false,
            chown: true,
        },
        MountRequest::Tmpfs {
            destination: "/scratch".into(),
            options: strings(&["size=1m"]),
        },
    ];
    let spec = build_spec(&image(), &p).unwrap();
    let mounts = spec.mounts().as_ref().unwrap();
    let bind = mounts
        .iter()
        .find(|m| m.destination() == Path::new("/b"))
        .unwrap();
    assert_eq!(bind.typ().as_deref(), Some("bind"));
    assert_eq!(bind.source().as_deref(), Some(Path::new("/a")));
    assert!(bind.options().as_ref().unwrap().contains(&"ro".to_string()));
    // `:U` names the container's user (root in this plan).
    assert!(
        bind.options()
            .as_ref()
            .unwrap()
            .contains(&format!("{CHOWN_OPTION}=0:0"))
    );
    let tmpfs = mounts
        .iter()
        .find(|m| m.destination() == Path::new("/scratch"))
        .unwrap();
    assert_eq!(tmpfs.typ().as_deref(), Some("tmpfs"));
    assert!(
        tmpfs
            .options()
            .as_ref()
            .unwrap()
            .contains(&"size=1m".to_string())
    );
    p.mounts = vec![MountRequest::Tmpfs {
        destination: "rel".into(),
        options: vec![],
    }];
    assert!(build_spec(&image(), &p).is_err());
}

#[test]
fn namespaces_follow_network_and_rootless() {
    let kinds = |p: &RunPlan| -> Vec<LinuxNamespaceType> {
        let spec = build_spec(&image(), p).unwrap();
        let linux = spec.linux().as_ref().unwrap();
        linux
            .namespaces()
            .as_ref()
            .unwrap()
            .iter()
            .map(|n| n.typ())
            .collect()
    };
    let mut p = plan();
    let ns = kinds(&p);
    assert!(ns.contains(&LinuxNamespaceType::Network));
    assert!(!ns.contains(&LinuxNamespaceType::User));
    p.private_network = false;
    p.id_mappings = Some((
        vec![IdMapping {
            container_id: 0,
            host_id: 1000,
            size: 1,
        }],
        vec![IdMapping {
            container_id: 0,
            host_id: 1000,
            size: 1,
        }],
    ));
    let ns = kinds(&p);
    assert!(!ns.contains(&LinuxNamespaceType::Network));
    assert!(ns.contains(&LinuxNamespaceType::User));
    let spec = build_spec(&image(), &p).unwrap();
    let mounts = spec.mounts().as_ref().unwrap();
    let sys = mounts
        .iter()
        .find(|m| m.destination() == Path::new("/sys"))
        .unwrap();
    assert_eq!(
        sys.typ().as_deref(),
        Some("bind"),
        "rootless host-net binds /sys"
    );
    let pts = mounts
        .iter()
        .find(|m| m.destination() == Path::new("/dev/pts"))
        .unwrap();
    assert!(
        !pts.options()
            .as_ref()
            .unwrap()
            .contains(&"gid=5".to_string()),
        "gid 5 is not mapped by a single-id mapping"
    );
}

#[test]
fn docker_default_capabilities_and_no_new_privs() {
    let spec = build_spec(&image(), &plan()).unwrap();
    let process = spec.process().as_ref().unwrap();
    assert_eq!(process.no_new_privileges(), Some(true));
    let caps = process.capabilities().as_ref().unwrap();
    let bounding = caps.bounding().as_ref().unwrap();
    assert_eq!(bounding.len(), 14);
    assert!(bounding.contains(&Capability::NetBindService));
    assert!(!bounding.contains(&Capability::SysAdmin));
}

#[test]
fn resources_land_in_the_spec() {
    let mut p = plan();
    let spec = build_spec(&image(), &p).unwrap();
    let resources = spec.linux().as_ref().unwrap().resources().as_ref();
    assert!(crate::sandbox::cgroups::Limits::from_resources(resources).is_empty());
    let pids = oci_spec::runtime::LinuxPidsBuilder::default()
        .limit(7)
        .build()
        .unwrap();
    p.resources = Some(
        oci_spec::runtime::LinuxResourcesBuilder::default()
            .pids(pids)
            .build()
            .unwrap(),
    );
    let spec = build_spec(&image(), &p).unwrap();
    let resources = spec.linux().as_ref().unwrap().resources().as_ref().unwrap();
    assert_eq!(resources.pids().as_ref().unwrap().limit(), 7);
}

#[test]
fn a_cgroup_namespace_brings_its_mount() {
    let mut p = plan();
    let has_cgroup_mount = |spec: &Spec| {
        spec.mounts()
            .iter()
            .flatten()
            .any(|m| m.destination() == Path::new("/sys/fs/cgroup"))
    };
    assert!(!has_cgroup_mount(&build_spec(&image(), &p).unwrap()));
    p.cgroup_namespace = true;
    let spec = build_spec(&image(), &p).unwrap();
    assert!(has_cgroup_mount(&spec));
    let namespaces = spec.linux().as_ref().unwrap().namespaces().clone().unwrap();
    assert!(
        namespaces
            .iter()
            .any(|n| n.typ() == LinuxNamespaceType::Cgroup)
    );
}

#[test]
fn parent_mounts_come_before_their_children() {
    let mut p = plan();
    p.mounts = vec![MountRequest::Bind {
        source: "/srv/etc".into(),
        destination: "/etc".into(),
        read_only: false,
        copy_up: true,
        chown: false,
    }];
    let spec = build_spec(&image(), &p).unwrap();
    let destinations: Vec<String> = spec
        .mounts()
        .iter()
        .flatten()
        .map(|m| m.destination().display().to_string())
        .collect();
    let at = |d: &str| destinations.iter().position(|x| x == d).unwrap();
    assert!(at("/etc") < at("/etc/hosts"), "{destinations:?}");
    assert!(at("/dev") < at("/dev/pts"), "{destinations:?}");
    let etc = &spec.mounts().as_ref().unwrap()[at("/etc")];
    assert!(
        etc.options()
            .as_ref()
            .unwrap()
            .contains(&COPY_UP_OPTION.to_string())
    );
}

fn mount_of<'a>(spec: &'a Spec, destination: &str) -> Option<&'a Mount> {
    spec.mounts()
        .iter()
        .flatten()
        .rev()
        .find(|m| m.destination() == Path::new(destination))
}

fn namespace_types(spec: &Spec) -> Vec<LinuxNamespaceType> {
    let linux = spec.linux().as_ref().unwrap();
    linux
        .namespaces()
        .iter()
        .flatten()
        .map(|n| n.typ())
        .collect()
}

#[test]
fn process_settings_become_spec_data() {
    use super::super::settings::{ProcessSettings, Ulimit};
    use oci_spec::runtime::PosixRlimitType;
    let mut p = plan();
    p.settings = ProcessSettings {
        ulimits: vec![Ulimit {
            typ: PosixRlimitType::RlimitNofile,
            soft: 10,
            hard: 20,
        }],
        umask: Some(0o077),
        shm_size: Some(1 << 20),
        sysctls: [("kernel.shmmax".to_string(), "1".to_string())].into(),
        localtime: Some("/usr/share/zoneinfo/UTC".into()),
        ..ProcessSettings::default()
    };
    let spec = build_spec(&image(), &p).unwrap();
    let process = spec.process().as_ref().unwrap();
    let rlimits = process.rlimits().as_ref().unwrap();
    assert_eq!((rlimits[0].soft(), rlimits[0].hard()), (10, 20));
    assert_eq!(process.user().umask(), Some(0o077));
    let shm = mount_of(&spec, "/dev/shm").unwrap();
    assert!(
        shm.options()
            .as_ref()
            .unwrap()
            .contains(&"size=1024k".into())
    );
    let sysctl = spec.linux().as_ref().unwrap().sysctl().clone().unwrap();
    assert_eq!(sysctl["kernel.shmmax"], "1");
    let localtime = mount_of(&spec, "/etc/localtime").unwrap();
    assert_eq!(
        localtime.source().as_deref(),
        Some(Path::new("/usr/share/zoneinfo/UTC"))
    );
    // Defaults: umask 0022, no rlimits, 64 MiB of /dev/shm.
    let spec = build_spec(&image(), &plan()).unwrap();
    assert_eq!(spec.process().as_ref().unwrap().user().umask(), Some(0o022));
    let shm = mount_of(&spec, "/dev/shm").unwrap();
    assert!(
        shm.options()
            .as_ref()
            .unwrap()
            .contains(&"size=65536k".into())
    );
    assert!(mount_of(&spec, "/etc/localtime").is_none());
}

#[test]
fn host_namespaces_are_left_out_and_their_mounts_shared() {
    use super::super::settings::HostNamespaces;
    let mut p = plan();
    p.cgroup_namespace = true;
    p.settings.host_namespaces = HostNamespaces {
        pid: true,
        ipc: true,
        uts: true,
        cgroup: true,
    };
    let spec = build_spec(&image(), &p).unwrap();
    assert_eq!(
        namespace_types(&spec),
        [LinuxNamespaceType::Mount, LinuxNamespaceType::Network]
    );
    // No hostname to set: it would be the host's.
    assert_eq!(spec.hostname(), &None);
    assert_eq!(
        mount_of(&spec, "/dev/shm").unwrap().typ().as_deref(),
        Some("bind")
    );
    assert_eq!(
        mount_of(&spec, "/proc").unwrap().typ().as_deref(),
        Some("proc")
    );
    let cgroup = mount_of(&spec, "/sys/fs/cgroup").unwrap();
    assert_eq!(
        cgroup.source().as_deref(),
        Some(Path::new("/sys/fs/cgroup"))
    );

    // Rootless, the host's /proc is bound and there is no mqueue.
    p.id_mappings = Some((Vec::new(), Vec::new()));
    let spec = build_spec(&image(), &p).unwrap();
    assert_eq!(
        mount_of(&spec, "/proc").unwrap().typ().as_deref(),
        Some("bind")
    );
    assert!(mount_of(&spec, "/dev/mqueue").is_none());
}

#[test]
fn seccomp_filter_follows_the_capability_set_and_can_be_off() {
    let spec = build_spec(&image(), &plan()).unwrap();
    let seccomp = spec.linux().as_ref().unwrap().seccomp().as_ref().unwrap();
    assert_eq!(
        seccomp.default_action(),
        oci_spec::runtime::LinuxSeccompAction::ScmpActErrno
    );
    let names: Vec<&String> = seccomp
        .syscalls()
        .iter()
        .flatten()
        .flat_map(|s| s.names())
        .collect();
    // docker's default set has CHROOT but not SYS_ADMIN.
    assert!(names.iter().any(|n| *n == "chroot"));
    assert!(!names.iter().any(|n| *n == "mount"));

    let mut off = plan();
    off.seccomp = None;
    off.no_new_privileges = false;
    let spec = build_spec(&image(), &off).unwrap();
    assert!(spec.linux().as_ref().unwrap().seccomp().is_none());
    assert_eq!(
        spec.process().as_ref().unwrap().no_new_privileges(),
        Some(false)
    );
}

#[test]
fn secrets_are_read_only_binds_owned_as_asked() {
    let plan = RunPlan {
        secrets: vec![
            PlannedSecret {
                name: "pw".into(),
                id: "0123456789abcdef012345678".into(),
                source: Some("/run/x/secrets/0".into()),
                target: "/run/secrets/pw".into(),
                uid: 1000,
                gid: 100,
                mode: 0o400,
            },
            PlannedSecret {
                name: "pw".into(),
                id: "0123456789abcdef012345678".into(),
                source: None,
                target: "DB_PASS".into(),
                uid: 0,
                gid: 0,
                mode: 0,
            },
        ],
        ..plan()
    };
    let spec = build_spec(&image(), &plan).unwrap();
    let m = spec
        .mounts()
        .as_ref()
        .unwrap()
        .iter()
        .find(|m| m.destination() == std::path::Path::new("/run/secrets/pw"))
        .expect("secret mount planned");
    assert_eq!(
        m.source().as_deref(),
        Some(std::path::Path::new("/run/x/secrets/0"))
    );
    let opts = m.options().clone().unwrap();
    for o in [
        "rbind",
        "ro",
        "nosuid",
        "nodev",
        "noexec",
        "skiff.chown=1000:100",
    ] {
        assert!(opts.iter().any(|x| x == o), "{o} in {opts:?}");
    }
    // Named in annotations, with no value; the env one has no mount.
    let notes = spec.annotations().clone().unwrap();
    assert_eq!(
        notes["io.skiff.secret.0"],
        "name=pw,id=0123456789abcdef012345678,type=mount,target=/run/secrets/pw,uid=1000,gid=100,mode=0400"
    );
    assert!(notes["io.skiff.secret.1"].contains("type=env,target=DB_PASS"));
    let secret_sources = spec
        .mounts()
        .as_ref()
        .unwrap()
        .iter()
        .filter(|m| {
            m.source()
                .as_deref()
                .is_some_and(|p| p.starts_with("/run/x/secrets"))
        })
        .count();
    assert_eq!(secret_sources, 1);
}

#[test]
fn a_secret_owner_outside_the_mappings_is_refused() {
    let plan = RunPlan {
        secrets: vec![PlannedSecret {
            name: "pw".into(),
            id: "0123456789abcdef012345678".into(),
            source: Some("/s".into()),
            target: "/run/secrets/pw".into(),
            uid: 70_000,
            gid: 0,
            mode: 0o444,
        }],
        id_mappings: Some((
            vec![IdMapping {
                container_id: 0,
                host_id: 1000,
                size: 65_536,
            }],
            vec![IdMapping {
                container_id: 0,
                host_id: 1000,
                size: 65_536,
            }],
        )),
        ..plan()
    };
    let err = build_spec(&image(), &plan).unwrap_err().to_string();
    assert!(
        err.contains("70000:0") && err.contains("not mapped"),
        "{err}"
    );
}
