//! Namespaces a container enters from another, running container
//! (`--pid/--ipc/--uts/--userns/--network container:NAME`), as plain data
//! and as the planner writes them: the OCI way, a namespace entry with a
//! `path` (`/proc/<pid>/ns/<kind>`). The PID is that of the other
//! container's current run, so the paths are rewritten at each start
//! (`with_current_pids`) from the container IDs kept in annotations.
//! Pure: the setns calls are in `setns.rs`.

use std::collections::HashMap;
use std::path::PathBuf;

use oci_spec::runtime::{LinuxNamespaceType, Spec};

/// A namespace kind that can be joined, in the order they are joined:
/// the user namespace first (it grants the rights for the rest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum JoinKind {
    User,
    Ipc,
    Uts,
    Net,
    Pid,
}

impl JoinKind {
    pub const ALL: [JoinKind; 5] = [
        JoinKind::User,
        JoinKind::Ipc,
        JoinKind::Uts,
        JoinKind::Net,
        JoinKind::Pid,
    ];

    /// The name under /proc/PID/ns.
    pub fn proc_name(self) -> &'static str {
        match self {
            JoinKind::User => "user",
            JoinKind::Ipc => "ipc",
            JoinKind::Uts => "uts",
            JoinKind::Net => "net",
            JoinKind::Pid => "pid",
        }
    }

    /// The flag that asks for it.
    pub fn flag(self) -> &'static str {
        match self {
            JoinKind::User => "--userns",
            JoinKind::Ipc => "--ipc",
            JoinKind::Uts => "--uts",
            JoinKind::Net => "--network",
            JoinKind::Pid => "--pid",
        }
    }

    pub fn namespace_type(self) -> LinuxNamespaceType {
        match self {
            JoinKind::User => LinuxNamespaceType::User,
            JoinKind::Ipc => LinuxNamespaceType::Ipc,
            JoinKind::Uts => LinuxNamespaceType::Uts,
            JoinKind::Net => LinuxNamespaceType::Network,
            JoinKind::Pid => LinuxNamespaceType::Pid,
        }
    }

    /// The spec annotation holding the other container's ID.
    pub fn annotation(self) -> String {
        format!("{JOIN_ANNOTATION_PREFIX}{}", self.proc_name())
    }
}

/// `org.skiff.join.<kind>` = the ID of the container whose namespace of
/// that kind this one enters.
pub const JOIN_ANNOTATION_PREFIX: &str = "org.skiff.join.";

/// A bind mount's option (skiff's own, read by init): the source is a
/// path in the mount namespace at this path (another container's
/// /dev/shm), not in ours.
pub const MOUNT_NS_OPTION: &str = "skiff.mount-ns";

/// One namespace entered from another container's current run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinedNamespace {
    pub kind: JoinKind,
    pub container_id: String,
    /// The other container's PID 1, as the host sees it.
    pub pid: i32,
}

impl JoinedNamespace {
    pub fn path(&self) -> PathBuf {
        namespace_path(self.pid, self.kind.proc_name())
    }
}

pub fn namespace_path(pid: i32, name: &str) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/ns/{name}"))
}

/// The joins a planned spec records: kind → the other container's ID.
pub fn recorded_joins(spec: &Spec) -> Vec<(JoinKind, String)> {
    let Some(annotations) = spec.annotations().as_ref() else {
        return Vec::new();
    };
    JoinKind::ALL
        .iter()
        .filter_map(|kind| {
            annotations
                .get(&kind.annotation())
                .map(|id| (*kind, id.clone()))
        })
        .collect()
}

/// The annotations that record `joined`.
pub fn join_annotations(joined: &[JoinedNamespace]) -> HashMap<String, String> {
    joined
        .iter()
        .map(|j| (j.kind.annotation(), j.container_id.clone()))
        .collect()
}

/// `spec` with its joined namespaces' paths (and the shared /dev/shm's
/// mount namespace) pointing at the PIDs of the other containers'
/// current runs: `pid_of(id)` gives each one's PID 1.
pub fn with_current_pids(spec: &Spec, pid_of: &HashMap<String, i32>) -> Spec {
    let joins = recorded_joins(spec);
    let pid_for = |kind: JoinKind| {
        joins
            .iter()
            .find(|(k, _)| *k == kind)
            .and_then(|(_, id)| pid_of.get(id).copied())
    };
    let mut spec = spec.clone();
    if let Some(linux) = spec.linux_mut() {
        let mut namespaces = linux.namespaces().clone().unwrap_or_default();
        for ns in namespaces.iter_mut() {
            let kind = JoinKind::ALL
                .into_iter()
                .find(|k| k.namespace_type() == ns.typ());
            if let (Some(kind), true) = (kind, ns.path().is_some())
                && let Some(pid) = pid_for(kind)
            {
                ns.set_path(Some(namespace_path(pid, kind.proc_name())));
            }
        }
        linux.set_namespaces(Some(namespaces));
    }
    if let Some(pid) = pid_for(JoinKind::Ipc) {
        let mut mounts = spec.mounts().clone().unwrap_or_default();
        for m in mounts.iter_mut() {
            let Some(options) = m.options().clone() else {
                continue;
            };
            if options.iter().any(|o| o.starts_with(MOUNT_NS_OPTION)) {
                let options = options
                    .into_iter()
                    .map(|o| {
                        if o.starts_with(MOUNT_NS_OPTION) {
                            mount_ns_option(pid)
                        } else {
                            o
                        }
                    })
                    .collect();
                m.set_options(Some(options));
            }
        }
        spec.set_mounts(Some(mounts));
    }
    spec
}

/// The option naming the mount namespace of process `pid`.
pub fn mount_ns_option(pid: i32) -> String {
    format!("{MOUNT_NS_OPTION}={}", namespace_path(pid, "mnt").display())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxBuilder, LinuxNamespaceBuilder, MountBuilder, SpecBuilder};

    #[test]
    fn paths_follow_the_other_containers_current_run() {
        let joined = JoinedNamespace {
            kind: JoinKind::Pid,
            container_id: "abc".into(),
            pid: 10,
        };
        let spec = SpecBuilder::default()
            .annotations(join_annotations(&[
                joined.clone(),
                JoinedNamespace {
                    kind: JoinKind::Ipc,
                    ..joined.clone()
                },
            ]))
            .mounts(vec![
                MountBuilder::default()
                    .destination("/dev/shm")
                    .source("/dev/shm")
                    .options(vec!["rbind".to_string(), mount_ns_option(10)])
                    .build()
                    .unwrap(),
            ])
            .linux(
                LinuxBuilder::default()
                    .namespaces(vec![
                        LinuxNamespaceBuilder::default()
                            .typ(LinuxNamespaceType::Pid)
                            .path(joined.path())
                            .build()
                            .unwrap(),
                        LinuxNamespaceBuilder::default()
                            .typ(LinuxNamespaceType::Mount)
                            .build()
                            .unwrap(),
                    ])
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        assert_eq!(
            recorded_joins(&spec),
            [(JoinKind::Ipc, "abc".into()), (JoinKind::Pid, "abc".into())]
        );
        let moved = with_current_pids(&spec, &HashMap::from([("abc".to_string(), 42)]));
        let namespaces = moved
            .linux()
            .as_ref()
            .unwrap()
            .namespaces()
            .clone()
            .unwrap();
        assert_eq!(
            namespaces[0].path().as_deref(),
            Some(std::path::Path::new("/proc/42/ns/pid"))
        );
        assert_eq!(namespaces[1].path(), &None, "own namespaces stay own");
        let options = moved.mounts().as_ref().unwrap()[0]
            .options()
            .clone()
            .unwrap();
        assert_eq!(options, ["rbind", "skiff.mount-ns=/proc/42/ns/mnt"]);
    }
}
