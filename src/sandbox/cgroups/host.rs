//! Which cgroups this host offers us: a unified (v2) hierarchy with
//! controllers, or v1 controller hierarchies (hybrid and legacy hosts), and
//! for a rootless caller the v2 subtree delegated to it.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The v1 controllers a container's cgroup joins (cpuset only when asked
/// for: its directories start empty and need filling).
pub(super) const V1_CONTROLLERS: [&str; 6] =
    ["cpu", "cpuacct", "memory", "pids", "freezer", "blkio"];

/// The v2 controllers that matter to skiff: limits and stats.
const V2_USEFUL: [&str; 3] = ["memory", "pids", "cpu"];

/// Where this caller may create container cgroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupHost {
    /// A unified hierarchy mounted at `mount`; container cgroups go below
    /// `parent` (`<mount>/skiff` as root, `<delegated>/skiff` rootless).
    Unified { mount: PathBuf, parent: PathBuf },
    /// v1 hierarchies: controller name → mount point.
    Legacy { mounts: BTreeMap<String, PathBuf> },
}

/// The host's cgroups as detected, or why there are none for us.
#[derive(Debug, Clone)]
pub struct HostCgroups(Result<CgroupHost, String>);

/// The cgroup mounts of `/proc/self/mountinfo`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct CgroupMounts {
    pub unified: Option<PathBuf>,
    pub v1: BTreeMap<String, PathBuf>,
}

/// The cgroup mounts this process sees, read once: a `run` asks at
/// create and again at start, and they do not move meanwhile.
pub(super) fn current_mounts() -> &'static CgroupMounts {
    static MOUNTS: std::sync::OnceLock<CgroupMounts> = std::sync::OnceLock::new();
    MOUNTS.get_or_init(|| {
        std::fs::read_to_string("/proc/self/mountinfo")
            .map(|t| parse_mountinfo(&t))
            .unwrap_or_default()
    })
}

impl HostCgroups {
    /// Looks at this process's mounts and cgroup. `rootless`: the caller is
    /// not root and needs a delegated subtree.
    pub fn detect(rootless: bool) -> HostCgroups {
        let mounts = current_mounts();
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        // SAFETY: geteuid has no failure modes or memory effects.
        let uid = unsafe { libc::geteuid() };
        HostCgroups(choose(mounts, rootless, &own, uid))
    }

    /// A host without cgroups for us, for callers that turned them off.
    pub fn none(reason: &str) -> HostCgroups {
        HostCgroups(Err(reason.to_string()))
    }

    pub fn usable(&self) -> Result<&CgroupHost, &str> {
        self.0.as_ref().map_err(String::as_str)
    }
}

/// Whether this host's cgroups are a unified (v2) hierarchy with
/// controllers: containers then get a cgroup namespace of their own, as
/// docker gives them on such hosts.
pub fn unified_host() -> bool {
    current_mounts().unified.as_ref().is_some_and(|mount| {
        let controllers = controllers_of(mount);
        V2_USEFUL.iter().any(|c| controllers.iter().any(|x| x == c))
    })
}

fn controllers_of(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("cgroup.controllers"))
        .map(|t| t.split_whitespace().map(String::from).collect())
        .unwrap_or_default()
}

fn choose(
    mounts: &CgroupMounts,
    rootless: bool,
    own: &str,
    uid: u32,
) -> Result<CgroupHost, String> {
    if let Some(mount) = &mounts.unified {
        let controllers = controllers_of(mount);
        if V2_USEFUL.iter().any(|c| controllers.iter().any(|x| x == c)) {
            if !rootless {
                return Ok(CgroupHost::Unified {
                    mount: mount.clone(),
                    parent: mount.join("skiff"),
                });
            }
            let own_path = own_v2_path(own).unwrap_or("/");
            return match delegated_root(mount, own_path, uid) {
                Some(root) => Ok(CgroupHost::Unified {
                    mount: mount.clone(),
                    parent: root.join("skiff"),
                }),
                None => Err(format!(
                    "skiff runs in cgroup {own_path}, which is not delegated to user {uid}: start it inside a delegated cgroup (e.g. `systemd-run --user --scope skiff …`, see rootless.md)"
                )),
            };
        }
    }
    let has_v1 = V1_CONTROLLERS.iter().any(|c| mounts.v1.contains_key(*c));
    if has_v1 {
        if rootless {
            return Err(
                "this host has cgroup v1 controllers, which cannot be delegated to an unprivileged user (rootless containers need cgroup v2, see rootless.md)"
                    .into(),
            );
        }
        return Ok(CgroupHost::Legacy {
            mounts: mounts.v1.clone(),
        });
    }
    Err("this host has no cgroup controllers mounted".into())
}

/// The topmost ancestor of our own cgroup (itself included) that belongs
/// to `uid`: what systemd delegated to the user (`user@UID.service`).
fn delegated_root(mount: &Path, own_path: &str, uid: u32) -> Option<PathBuf> {
    let owned = |dir: &Path| {
        let owner = |p: &Path| std::fs::metadata(p).map(|m| m.uid()).ok();
        owner(dir) == Some(uid) && owner(&dir.join("cgroup.procs")) == Some(uid)
    };
    let mut found = None;
    let mut dir = mount.join(own_path.trim_start_matches('/'));
    while dir.starts_with(mount) && dir != mount && owned(&dir) {
        found = Some(dir.clone());
        dir.pop();
    }
    found
}

/// Our path in the unified hierarchy, from `/proc/self/cgroup` (`0::/…`).
pub(super) fn own_v2_path(proc_cgroup: &str) -> Option<&str> {
    proc_cgroup.lines().find_map(|l| l.strip_prefix("0::"))
}

/// Finds the cgroup mounts: the unified one (the first `cgroup2`) and each
/// v1 controller's (from the super options, e.g. `rw,cpu,cpuacct`).
pub(super) fn parse_mountinfo(text: &str) -> CgroupMounts {
    let mut mounts = CgroupMounts::default();
    for line in text.lines() {
        let Some((before, after)) = line.split_once(" - ") else {
            continue;
        };
        let Some(mount_point) = before.split(' ').nth(4) else {
            continue;
        };
        let mut fields = after.split(' ');
        let (Some(fstype), Some(_source), Some(options)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let mount_point = PathBuf::from(unescape(mount_point));
        match fstype {
            "cgroup2" if mounts.unified.is_none() => mounts.unified = Some(mount_point),
            "cgroup" => {
                for option in options.split(',') {
                    if V1_CONTROLLERS.contains(&option) || option == "cpuset" || option == "devices"
                    {
                        mounts
                            .v1
                            .entry(option.to_string())
                            .or_insert_with(|| mount_point.clone());
                    }
                }
            }
            _ => {}
        }
    }
    mounts
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let code = rest
            .get(i + 1..i + 4)
            .and_then(|o| u8::from_str_radix(o, 8).ok());
        match code {
            Some(c) => {
                out.push(c as char);
                rest = &rest[i + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn hybrid_mounts_are_found() {
        let m = parse_mountinfo(HYBRID);
        assert_eq!(m.unified, Some(PathBuf::from("/sys/fs/cgroup/unified")));
        assert_eq!(m.v1["cpu"], PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(m.v1["cpuacct"], PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(m.v1["memory"], PathBuf::from("/sys/fs/cgroup/memory"));
        assert!(!m.v1.contains_key("name=systemd"));
    }

    #[test]
    fn a_unified_mount_without_controllers_falls_back_to_v1_for_root_only() {
        let m = parse_mountinfo(HYBRID);
        // The unified mount does not exist here, so it lists no controllers.
        let root = choose(&m, false, "0::/\n", 0).unwrap();
        assert!(matches!(root, CgroupHost::Legacy { .. }));
        let rootless = choose(&m, true, "0::/\n", 1000).unwrap_err();
        assert!(rootless.contains("cgroup v1"), "{rootless}");
    }

    #[test]
    fn no_cgroups_at_all_is_explained() {
        let err = choose(&CgroupMounts::default(), false, "", 0).unwrap_err();
        assert!(err.contains("no cgroup controllers"), "{err}");
    }

    #[test]
    fn unified_with_controllers_wins_and_rootless_needs_ownership() {
        let tmp = tempfile::tempdir().unwrap();
        let mount = tmp.path().to_path_buf();
        std::fs::write(mount.join("cgroup.controllers"), "cpu memory pids\n").unwrap();
        let own = mount.join("user.slice/user@1000.service/app.slice");
        std::fs::create_dir_all(&own).unwrap();
        for dir in [
            "user.slice/user@1000.service",
            "user.slice/user@1000.service/app.slice",
        ] {
            std::fs::write(mount.join(dir).join("cgroup.procs"), "").unwrap();
        }
        let mounts = CgroupMounts {
            unified: Some(mount.clone()),
            v1: BTreeMap::new(),
        };
        let root = choose(&mounts, false, "", 0).unwrap();
        assert_eq!(
            root,
            CgroupHost::Unified {
                mount: mount.clone(),
                parent: mount.join("skiff")
            }
        );
        // Owned: the two directories with a cgroup.procs (user.slice has none).
        let me = std::fs::metadata(&own).unwrap().uid();
        let proc_cgroup = "0::/user.slice/user@1000.service/app.slice\n";
        let rootless = choose(&mounts, true, proc_cgroup, me).unwrap();
        assert_eq!(
            rootless,
            CgroupHost::Unified {
                mount: mount.clone(),
                parent: mount.join("user.slice/user@1000.service/skiff")
            }
        );
        let err = choose(&mounts, true, proc_cgroup, me + 1).unwrap_err();
        assert!(err.contains("not delegated"), "{err}");
    }

    #[test]
    fn escaped_mount_points_unescape() {
        assert_eq!(unescape("/a\\040b"), "/a b");
        assert_eq!(unescape("/plain"), "/plain");
    }

    #[test]
    fn own_path_is_the_unified_line() {
        assert_eq!(
            own_v2_path("4:memory:/x\n0::/user.slice\n"),
            Some("/user.slice")
        );
        assert_eq!(own_v2_path("4:memory:/x\n"), None);
    }
}
