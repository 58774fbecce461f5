//! The plan of a container that enters other containers' namespaces.

use std::path::Path;

use super::tests::{image, plan};
use super::*;
use crate::sandbox::joined_namespaces::{JoinKind, JoinedNamespace};

fn joined(kind: JoinKind) -> JoinedNamespace {
    JoinedNamespace {
        kind,
        container_id: "abc".into(),
        pid: 42,
    }
}

fn namespaces(spec: &Spec) -> Vec<(LinuxNamespaceType, Option<String>)> {
    spec.linux()
        .as_ref()
        .unwrap()
        .namespaces()
        .clone()
        .unwrap()
        .iter()
        .map(|ns| {
            (
                ns.typ(),
                ns.path().as_ref().map(|p| p.display().to_string()),
            )
        })
        .collect()
}

#[test]
fn joined_namespaces_are_entered_by_path_and_recorded_by_id() {
    let mut p = plan();
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
    p.joined = vec![
        joined(JoinKind::User),
        joined(JoinKind::Pid),
        joined(JoinKind::Uts),
    ];
    let spec = build_spec(&image(), &p).unwrap();
    let ns = namespaces(&spec);
    for (typ, name) in [
        (LinuxNamespaceType::User, "user"),
        (LinuxNamespaceType::Pid, "pid"),
        (LinuxNamespaceType::Uts, "uts"),
    ] {
        let entries: Vec<_> = ns.iter().filter(|(t, _)| *t == typ).collect();
        assert_eq!(
            entries,
            [&(typ, Some(format!("/proc/42/ns/{name}")))],
            "{ns:?}"
        );
    }
    // Made for it: mount, IPC, network.
    for typ in [
        LinuxNamespaceType::Mount,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Network,
    ] {
        assert!(ns.contains(&(typ, None)), "{typ:?}: {ns:?}");
    }
    // In the other's user namespace its maps hold; none are written.
    let linux = spec.linux().as_ref().unwrap();
    assert!(linux.uid_mappings().is_none() && linux.gid_mappings().is_none());
    // The other's hostname is not set again.
    assert_eq!(spec.hostname(), &None);
    let annotations = spec.annotations().as_ref().unwrap();
    assert_eq!(annotations["org.skiff.join.pid"], "abc");
    assert_eq!(annotations["org.skiff.join.user"], "abc");
    assert!(!annotations.contains_key("org.skiff.join.ipc"));
}

#[test]
fn a_joined_ipc_namespace_brings_the_others_dev_shm() {
    let mut p = plan();
    p.joined = vec![joined(JoinKind::Ipc)];
    let spec = build_spec(&image(), &p).unwrap();
    let shm: Vec<_> = spec
        .mounts()
        .iter()
        .flatten()
        .filter(|m| m.destination() == Path::new("/dev/shm"))
        .collect();
    assert_eq!(shm.len(), 1);
    assert_eq!(shm[0].source().as_deref(), Some(Path::new("/dev/shm")));
    assert!(
        shm[0]
            .options()
            .iter()
            .flatten()
            .any(|o| o == "skiff.mount-ns=/proc/42/ns/mnt"),
        "{shm:?}"
    );

    let mut none = plan();
    none.settings.ipc_none = true;
    let spec = build_spec(&image(), &none).unwrap();
    assert!(
        !spec
            .mounts()
            .iter()
            .flatten()
            .any(|m| m.destination() == Path::new("/dev/shm"))
    );
    assert!(namespaces(&spec).contains(&(LinuxNamespaceType::Ipc, None)));
}
