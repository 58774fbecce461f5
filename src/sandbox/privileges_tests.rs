use oci_spec::runtime::{Capability, LinuxDeviceType};

use super::*;
use crate::sandbox::spec::{EtcFiles, ImageDefaults, RunPlan, build_spec};
use crate::sandbox::user::ResolvedUser;

fn caps(names: &[&str]) -> CapabilityList {
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    parse_capabilities("--cap-add", &names).unwrap()
}

fn sorted(set: &Option<Capabilities>) -> Vec<String> {
    let mut names: Vec<String> = set.iter().flatten().map(|c| c.to_string()).collect();
    names.sort();
    names
}

#[test]
fn names_parse_with_or_without_prefix_in_any_case() {
    let list = caps(&["cap_sys_admin", "NET_ADMIN,Kill", "all"]);
    assert!(list.all);
    assert_eq!(
        list.caps,
        [Capability::SysAdmin, Capability::NetAdmin, Capability::Kill]
    );
    assert_eq!(list.names()[0], "ALL");
    assert_eq!(list.names()[1], "CAP_SYS_ADMIN");
}

#[test]
fn unknown_names_are_all_named() {
    let err = parse_capabilities(
        "--cap-drop",
        &["chown".into(), "bogus".into(), "CAP_NOPE".into()],
    )
    .unwrap_err();
    assert!(err.contains("--cap-drop"), "{err}");
    assert!(
        err.contains("\"bogus\"") && err.contains("\"CAP_NOPE\""),
        "{err}"
    );
}

#[test]
fn root_gets_the_merged_set_in_bounding_effective_permitted() {
    let plan = SecurityPlan {
        cap_drop: CapabilityList {
            all: true,
            caps: vec![],
        },
        cap_add: caps(&["NET_BIND_SERVICE"]),
        ..SecurityPlan::default()
    };
    let sets = capability_sets(&plan, false, 0).unwrap();
    for set in [sets.bounding(), sets.effective(), sets.permitted()] {
        assert_eq!(sorted(set), ["NET_BIND_SERVICE"]);
    }
    assert!(sorted(sets.inheritable()).is_empty());
    assert!(sorted(sets.ambient()).is_empty());
}

#[test]
fn non_root_gets_only_the_explicit_adds() {
    let plain = capability_sets(&SecurityPlan::default(), false, 1000).unwrap();
    assert_eq!(sorted(plain.bounding()).len(), DEFAULT_CAPABILITIES.len());
    assert!(sorted(plain.effective()).is_empty());
    assert!(sorted(plain.ambient()).is_empty());
    let plan = SecurityPlan {
        cap_add: caps(&["SYS_ADMIN"]),
        ..SecurityPlan::default()
    };
    let sets = capability_sets(&plan, false, 1000).unwrap();
    assert_eq!(
        sorted(sets.bounding()).len(),
        DEFAULT_CAPABILITIES.len() + 1
    );
    for set in [
        sets.effective(),
        sets.permitted(),
        sets.inheritable(),
        sets.ambient(),
    ] {
        assert_eq!(sorted(set), ["SYS_ADMIN"]);
    }
}

#[test]
fn privileged_and_add_all_take_what_skiff_has() {
    let plan = SecurityPlan {
        available: vec![Capability::SysAdmin, Capability::Chown, Capability::Kill],
        cap_add: caps(&["ALL"]),
        cap_drop: caps(&["KILL"]),
        ..SecurityPlan::default()
    };
    assert_eq!(
        bounding_set(&plan, false),
        [Capability::SysAdmin, Capability::Chown]
    );
    // --privileged ignores drops, as podman.
    assert_eq!(bounding_set(&plan, true).len(), 3);
}

#[test]
fn masks_and_unmasks() {
    let plan = SecurityPlan {
        mask: vec!["/etc/secret".into()],
        unmask: vec!["/proc/kcore".into(), "/proc/sys".into()],
        ..SecurityPlan::default()
    };
    let (masked, read_only) = masked_and_read_only(&plan, false);
    assert!(!masked.contains(&"/proc/kcore".to_string()));
    assert!(masked.contains(&"/proc/keys".to_string()));
    assert!(masked.contains(&"/etc/secret".to_string()));
    assert!(!read_only.contains(&"/proc/sys".to_string()));
    assert!(read_only.contains(&"/proc/bus".to_string()));
    let all = SecurityPlan {
        unmask: vec!["ALL".into()],
        ..SecurityPlan::default()
    };
    let (masked, read_only) = masked_and_read_only(&all, false);
    assert!(masked.is_empty() && read_only.is_empty());
    let (masked, read_only) = masked_and_read_only(&SecurityPlan::default(), true);
    assert!(masked.is_empty() && read_only.is_empty());
}

fn run_plan(security: SecurityPlan, rootless: bool, privileged: bool) -> RunPlan {
    RunPlan {
        rootfs: "/r".into(),
        command: vec!["true".into()],
        entrypoint: None,
        env: vec![],
        workdir: None,
        user: ResolvedUser {
            uid: 0,
            gid: 0,
            additional_gids: vec![],
            home: "/root".into(),
        },
        hostname: "h".into(),
        tty: false,
        mounts: vec![],
        private_network: true,
        id_mappings: rootless.then(|| (vec![], vec![])),
        etc_files: EtcFiles {
            hosts: "/h".into(),
            resolv_conf: "/r".into(),
            hostname: "/n".into(),
        },
        scratch_dir: "/s".into(),
        resources: None,
        cgroup_namespace: false,
        settings: Default::default(),
        seccomp: None,
        no_new_privileges: true,
        privileged,
        security,
        secrets: Vec::new(),
        joined: Vec::new(),
    }
}

fn loop_control() -> DeviceMapping {
    DeviceMapping {
        host_path: "/dev/loop-control".into(),
        container_path: "/dev/lc".into(),
        permissions: "rw".into(),
        kind: LinuxDeviceType::C,
        major: 10,
        minor: 237,
        file_mode: 0o660,
    }
}

#[test]
fn read_only_root_gets_tmpfs_where_podman_puts_them() {
    let security = SecurityPlan {
        read_only: true,
        read_only_tmpfs: true,
        ..SecurityPlan::default()
    };
    let spec = build_spec(&ImageDefaults::default(), &run_plan(security, false, false)).unwrap();
    assert_eq!(spec.root().as_ref().unwrap().readonly(), Some(true));
    let tmpfs: Vec<String> = spec
        .mounts()
        .iter()
        .flatten()
        .filter(|m| m.typ().as_deref() == Some("tmpfs"))
        .map(|m| m.destination().display().to_string())
        .collect();
    for dir in READ_ONLY_TMPFS {
        assert!(tmpfs.contains(&dir.to_string()), "{dir}: {tmpfs:?}");
    }
}

#[test]
fn root_devices_are_spec_devices_with_a_cgroup_rule() {
    let security = SecurityPlan {
        devices: vec![loop_control()],
        ..SecurityPlan::default()
    };
    let spec = build_spec(&ImageDefaults::default(), &run_plan(security, false, false)).unwrap();
    let linux = spec.linux().as_ref().unwrap();
    let dev = linux
        .devices()
        .iter()
        .flatten()
        .find(|d| d.path().as_os_str() == "/dev/lc")
        .expect("device planned");
    assert_eq!((dev.major(), dev.minor()), (10, 237));
    let policy = crate::sandbox::device_rules::device_policy(&spec);
    use crate::sandbox::cgroups::{DeviceKind, READ, WRITE};
    assert!(policy.allows(DeviceKind::Char, 10, 237, READ | WRITE));
    assert!(!policy.allows(DeviceKind::Char, 10, 238, READ));
}

#[test]
fn rootless_devices_are_bind_mounts_without_cgroup_rules() {
    let security = SecurityPlan {
        devices: vec![loop_control()],
        ..SecurityPlan::default()
    };
    let spec = build_spec(&ImageDefaults::default(), &run_plan(security, true, false)).unwrap();
    let bind = spec
        .mounts()
        .iter()
        .flatten()
        .find(|m| m.destination().as_os_str() == "/dev/lc")
        .expect("bind planned");
    assert_eq!(
        bind.source().as_ref().unwrap().as_os_str(),
        "/dev/loop-control"
    );
    let linux = spec.linux().as_ref().unwrap();
    let rules = linux.resources().as_ref().and_then(|r| r.devices().clone());
    assert!(rules.unwrap_or_default().is_empty());
}

#[test]
fn privileged_root_allows_every_device() {
    let spec = build_spec(
        &ImageDefaults::default(),
        &run_plan(SecurityPlan::default(), false, true),
    )
    .unwrap();
    let policy = crate::sandbox::device_rules::device_policy(&spec);
    use crate::sandbox::cgroups::{DeviceKind, MKNOD, READ, WRITE};
    assert!(policy.allows(DeviceKind::Block, 8, 0, READ | WRITE | MKNOD));
    assert!(policy.allows(DeviceKind::Char, 4, 1, READ | WRITE));
    let linux = spec.linux().as_ref().unwrap();
    assert!(linux.masked_paths().as_ref().unwrap().is_empty());
}
