//! Process and kernel settings a container may be given on top of the
//! defaults (`--ulimit`, `--umask`, `--shm-size`, `--sysctl`, `--tz`,
//! `--uts/--ipc/--pid/--cgroupns host`), as plain typed data, and how the
//! planner writes them into the spec. Pure: the syscalls that apply them
//! are in `limits.rs`.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use oci_spec::runtime::{PosixRlimit, PosixRlimitBuilder, PosixRlimitType};

/// docker's `--ulimit` names and the rlimit each stands for.
pub const RLIMIT_NAMES: [(&str, PosixRlimitType); 15] = [
    ("as", PosixRlimitType::RlimitAs),
    ("core", PosixRlimitType::RlimitCore),
    ("cpu", PosixRlimitType::RlimitCpu),
    ("data", PosixRlimitType::RlimitData),
    ("fsize", PosixRlimitType::RlimitFsize),
    ("locks", PosixRlimitType::RlimitLocks),
    ("memlock", PosixRlimitType::RlimitMemlock),
    ("msgqueue", PosixRlimitType::RlimitMsgqueue),
    ("nice", PosixRlimitType::RlimitNice),
    ("nofile", PosixRlimitType::RlimitNofile),
    ("nproc", PosixRlimitType::RlimitNproc),
    ("rss", PosixRlimitType::RlimitRss),
    ("rtprio", PosixRlimitType::RlimitRtprio),
    ("rttime", PosixRlimitType::RlimitRttime),
    ("sigpending", PosixRlimitType::RlimitSigpending),
];
// `stack` is docker's too; kept apart so the table above stays sorted
// by the names users type.
pub const STACK_NAME: (&str, PosixRlimitType) = ("stack", PosixRlimitType::RlimitStack);

/// The rlimit type of a docker `--ulimit` name.
pub fn rlimit_type(name: &str) -> Option<PosixRlimitType> {
    RLIMIT_NAMES
        .iter()
        .chain(std::iter::once(&STACK_NAME))
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
}

/// The docker name of an rlimit type (for `inspect`).
pub fn rlimit_name(typ: PosixRlimitType) -> &'static str {
    RLIMIT_NAMES
        .iter()
        .chain(std::iter::once(&STACK_NAME))
        .find(|(_, t)| *t == typ)
        .map(|(n, _)| *n)
        .unwrap_or("unknown")
}

/// One `--ulimit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ulimit {
    pub typ: PosixRlimitType,
    pub soft: u64,
    pub hard: u64,
}

/// A namespace the container shares with the host instead of getting its
/// own (`--uts host`, `--ipc host`, `--pid host`, `--cgroupns host`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostNamespaces {
    pub uts: bool,
    pub ipc: bool,
    pub pid: bool,
    pub cgroup: bool,
}

/// The umask a container's processes start with unless told otherwise
/// (podman's and docker's).
pub const DEFAULT_UMASK: u32 = 0o022;

/// Everything of this module one container asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessSettings {
    pub ulimits: Vec<Ulimit>,
    /// `None`: `DEFAULT_UMASK`.
    pub umask: Option<u32>,
    /// The /dev/shm tmpfs's size in bytes; `None`: 64 MiB.
    pub shm_size: Option<u64>,
    /// Written by init under /proc/sys once /proc is mounted.
    pub sysctls: BTreeMap<String, String>,
    /// A host zoneinfo file bound read-only at /etc/localtime (`--tz`).
    pub localtime: Option<PathBuf>,
    /// The name given to `--tz`, for `inspect`.
    pub timezone: Option<String>,
    pub host_namespaces: HostNamespaces,
    /// `--userns host`: the caller's own user namespace. As root that is
    /// no user namespace (the default); rootless it is the caller as
    /// container root over its subordinate range (the default too: podman's
    /// rootless "host" is its own namespace of that shape).
    pub userns_host: bool,
    /// `--pid/--ipc/--uts/--userns container:NAME`: the kind and the other
    /// container as the user named it (`--network container:` is a
    /// `NetworkMode`). The engine resolves them at create.
    pub joins: Vec<(super::joined_namespaces::JoinKind, String)>,
    /// `--ipc none`: an IPC namespace of its own and no /dev/shm.
    pub ipc_none: bool,
}

/// The spec annotation that records the `--userns` mode (`host`, `keep-id`,
/// `nomap`, `auto`, `private` for `--uidmap`) for `inspect`.
pub const USERNS_ANNOTATION: &str = "org.skiff.userns";

/// docker's default /dev/shm size.
pub const DEFAULT_SHM_SIZE: u64 = 64 * 1024 * 1024;

impl ProcessSettings {
    pub fn rlimits(&self) -> Result<Vec<PosixRlimit>, oci_spec::OciSpecError> {
        self.ulimits
            .iter()
            .map(|u| {
                PosixRlimitBuilder::default()
                    .typ(u.typ)
                    .soft(u.soft)
                    .hard(u.hard)
                    .build()
            })
            .collect()
    }

    pub fn sysctl_map(&self) -> HashMap<String, String> {
        self.sysctls
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The /dev/shm tmpfs's `size=` option.
    pub fn shm_size_option(&self) -> String {
        let size = self.shm_size.unwrap_or(DEFAULT_SHM_SIZE);
        if size.is_multiple_of(1024) {
            format!("size={}k", size / 1024)
        } else {
            format!("size={size}")
        }
    }
}
