//! `skiff info` and `skiff version`: facts about this skiff, its host and
//! its store, gathered here and only formatted by the CLI. Field names are
//! podman's (`podman info --format json`), so scripts written for podman
//! find them; where skiff differs the field says what skiff does.

use std::collections::HashSet;
use std::path::Path;

use serde::Serialize;

use super::EngineError;
use super::lookup::list_containers;
use crate::layers::registry::insecure_registries;
use crate::layers::{ImageReference, Store};
use crate::sandbox::RootfsDriver;
use crate::sandbox::cgroups::{CgroupHost, HostCgroups, unified_host};
use crate::sandbox::overlay_probe::chosen_driver;
use crate::sandbox::spec::DEFAULT_CAPABILITIES;
use crate::sandbox::userns::{IdMapping, caller_mappings};
use crate::state::{ContainerStatus, StorageDirs, VolumeStore};

/// `skiff version`: this build (podman's `Version` struct, with the Rust
/// compiler where podman names its Go compiler).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VersionInfo {
    /// skiff serves no remote API: the library's version, as podman's
    /// local client reports its own.
    #[serde(rename = "APIVersion")]
    pub api_version: String,
    pub version: String,
    /// `rustc --version` of the compiler that built this binary.
    pub rust_version: String,
    /// Empty when the build was not made from a git checkout.
    pub git_commit: String,
    /// The build time as Go's ANSI C layout, in UTC.
    pub built_time: String,
    /// The build time in seconds since the epoch.
    pub built: i64,
    pub os_arch: String,
    pub os: String,
}

impl VersionInfo {
    pub fn current() -> VersionInfo {
        let built: i64 = env!("SKIFF_BUILT").parse().unwrap_or(0);
        VersionInfo {
            api_version: env!("CARGO_PKG_VERSION").to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            rust_version: env!("SKIFF_RUSTC_VERSION").to_string(),
            git_commit: env!("SKIFF_GIT_COMMIT").to_string(),
            built_time: ansi_c_time(built),
            built,
            os_arch: format!("{}/{}", std::env::consts::OS, go_arch()),
            os: std::env::consts::OS.to_string(),
        }
    }
}

/// `skiff info`.
#[derive(Debug, Clone, Serialize)]
pub struct SystemInfo {
    pub host: HostInfo,
    pub store: StoreInfo,
    pub registries: RegistriesInfo,
    pub version: VersionInfo,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HostInfo {
    pub arch: String,
    /// skiff writes cgroup files itself.
    pub cgroup_manager: &'static str,
    /// `v2` when the unified hierarchy has controllers, else `v1` (hybrid
    /// hosts count as v1: their unified mount has no controllers).
    pub cgroup_version: &'static str,
    /// Whether this caller's containers get cgroups (limits, stats, pause).
    pub cgroups_usable: bool,
    /// Why they do not, when `cgroups_usable` is false.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cgroups_problem: Option<String>,
    pub cpus: usize,
    pub hostname: String,
    /// The maps of a rootless caller's containers (absent for root, whose
    /// containers share the host's IDs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_mappings: Option<IdMappingsInfo>,
    pub kernel: String,
    pub mem_free: u64,
    pub mem_total: u64,
    /// Containers get a private network namespace with loopback only, or
    /// the host's (`--network host`): no network backend.
    pub network_backend: &'static str,
    pub oci_runtime: OciRuntimeInfo,
    pub os: String,
    pub security: SecurityInfo,
}

#[derive(Debug, Clone, Serialize)]
pub struct IdMappingsInfo {
    pub uidmap: Vec<IdMapping>,
    pub gidmap: Vec<IdMapping>,
    /// Set when skiff falls back to a single-ID mapping; says why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// skiff is its own OCI runtime: it builds and runs the spec itself.
#[derive(Debug, Clone, Serialize)]
pub struct OciRuntimeInfo {
    pub name: &'static str,
    pub path: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityInfo {
    pub apparmor_enabled: bool,
    /// The default capability set, comma-separated as podman prints it.
    pub capabilities: String,
    pub rootless: bool,
    /// Containers get docker's default seccomp filter unless unconfined.
    pub seccomp_enabled: bool,
    pub selinux_enabled: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreInfo {
    pub container_store: ContainerCounts,
    /// The root filesystem driver a container would get now: `overlay`,
    /// `fuse-overlayfs` or `copy` (see `sandbox::overlay_probe`).
    pub graph_driver_name: &'static str,
    pub graph_root: String,
    pub image_store: Count,
    pub run_root: String,
    pub volume_path: String,
    pub volume_store: Count,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ContainerCounts {
    pub number: usize,
    pub paused: usize,
    pub running: usize,
    /// Every container neither running nor paused (created ones too, as
    /// podman counts them).
    pub stopped: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Count {
    pub number: usize,
}

/// Where image references go.
#[derive(Debug, Clone, Serialize)]
pub struct RegistriesInfo {
    /// The registry a short name (`busybox`) resolves to.
    pub search: Vec<String>,
    /// `$SKIFF_INSECURE_REGISTRIES`: TLS unverified, then plain HTTP.
    pub insecure: Vec<String>,
}

/// Gathers everything `skiff info` shows. Costs one short-lived child
/// (the overlay probe) besides reading the store.
pub fn system_info(dirs: &StorageDirs) -> Result<SystemInfo, EngineError> {
    let rootless = !nix::unistd::geteuid().is_root();
    Ok(SystemInfo {
        host: host_info(rootless),
        store: store_info(dirs, rootless)?,
        registries: RegistriesInfo {
            search: ImageReference::parse("busybox")
                .map(|r| vec![r.registry])
                .unwrap_or_default(),
            insecure: insecure_registries(),
        },
        version: VersionInfo::current(),
    })
}

fn host_info(rootless: bool) -> HostInfo {
    let uname = nix::sys::utsname::uname().ok();
    let text = |f: fn(&nix::sys::utsname::UtsName) -> &std::ffi::OsStr| {
        uname
            .as_ref()
            .map(|u| f(u).to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let cgroups = HostCgroups::detect(rootless);
    let cgroup_version = match cgroups.usable() {
        Ok(CgroupHost::Unified { .. }) => "v2",
        Ok(CgroupHost::Legacy { .. }) => "v1",
        Err(_) if unified_host() => "v2",
        Err(_) => "v1",
    };
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let id_mappings = rootless.then(|| {
        let maps = caller_mappings();
        IdMappingsInfo {
            uidmap: maps.uids,
            gidmap: maps.gids,
            warning: maps.warning,
        }
    });
    let capabilities: Vec<String> = DEFAULT_CAPABILITIES
        .iter()
        .map(|c| format!("CAP_{c}"))
        .collect();
    HostInfo {
        arch: go_arch().to_string(),
        cgroup_manager: "cgroupfs",
        cgroup_version,
        cgroups_usable: cgroups.usable().is_ok(),
        cgroups_problem: cgroups.usable().err().map(str::to_string),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        hostname: text(|u| u.nodename()),
        id_mappings,
        kernel: text(|u| u.release()),
        mem_free: meminfo_bytes(&meminfo, "MemFree"),
        mem_total: meminfo_bytes(&meminfo, "MemTotal"),
        network_backend: "none",
        oci_runtime: OciRuntimeInfo {
            name: "skiff",
            path: std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            version: format!("skiff version {}", env!("CARGO_PKG_VERSION")),
        },
        os: std::env::consts::OS.to_string(),
        security: SecurityInfo {
            apparmor_enabled: false,
            capabilities: capabilities.join(","),
            rootless,
            seccomp_enabled: true,
            selinux_enabled: false,
        },
    }
}

fn store_info(dirs: &StorageDirs, rootless: bool) -> Result<StoreInfo, EngineError> {
    let store = Store::open(&dirs.root)?;
    let images: HashSet<String> = store
        .list_images()?
        .into_iter()
        .map(|row| row.id.to_string())
        .collect();
    let containers = count_containers(list_containers(dirs)?.iter().map(|c| c.status()));
    let scratch = dirs
        .root
        .join("tmp")
        .join(format!("overlayprobe-{}-0", std::process::id()));
    let driver = chosen_driver(RootfsDriver::from_env(), &scratch, rootless);
    let volumes = VolumeStore::new(dirs);
    Ok(StoreInfo {
        container_store: containers,
        graph_driver_name: driver.name(),
        graph_root: display(&dirs.root),
        image_store: Count {
            number: images.len(),
        },
        run_root: display(&dirs.runroot),
        volume_path: display(&dirs.root.join("volumes")),
        volume_store: Count {
            number: volumes.list().len(),
        },
    })
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

/// podman's tally: running, paused, and everything else as stopped.
pub fn count_containers(statuses: impl Iterator<Item = ContainerStatus>) -> ContainerCounts {
    let mut counts = ContainerCounts::default();
    for status in statuses {
        counts.number += 1;
        match status {
            ContainerStatus::Running => counts.running += 1,
            ContainerStatus::Paused => counts.paused += 1,
            _ => counts.stopped += 1,
        }
    }
    counts
}

/// A `/proc/meminfo` line's value in bytes (the file says kB).
fn meminfo_bytes(meminfo: &str, key: &str) -> u64 {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// The architecture as Go (and so podman and image platforms) names it.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// Go's `time.ANSIC` layout in UTC: `Mon Jan  2 15:04:05 2006`.
fn ansi_c_time(secs: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (year, month, day) = crate::timestamp::civil_from_days(days as i128);
    format!(
        "{} {} {:>2} {:02}:{:02}:{:02} {year}",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        day,
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_time_reads_like_go_ansic() {
        assert_eq!(ansi_c_time(1_589_885_339), "Tue May 19 10:48:59 2020");
        assert_eq!(ansi_c_time(0), "Thu Jan  1 00:00:00 1970");
    }

    #[test]
    fn stopped_counts_everything_but_running_and_paused() {
        use ContainerStatus::*;
        let counts = count_containers([Running, Paused, Created, Exited, Running].into_iter());
        assert_eq!(
            counts,
            ContainerCounts {
                number: 5,
                paused: 1,
                running: 2,
                stopped: 2
            }
        );
    }

    #[test]
    fn meminfo_values_are_bytes() {
        let text = "MemTotal:       16384 kB\nMemFree:  1024 kB\n";
        assert_eq!(meminfo_bytes(text, "MemTotal"), 16384 * 1024);
        assert_eq!(meminfo_bytes(text, "MemFree"), 1024 * 1024);
        assert_eq!(meminfo_bytes(text, "Swap"), 0);
    }

    #[test]
    fn version_names_this_build() {
        let v = VersionInfo::current();
        assert_eq!(v.version, env!("CARGO_PKG_VERSION"));
        assert!(v.rust_version.starts_with("rustc "), "{}", v.rust_version);
        let json = serde_json::to_value(&v).unwrap();
        for key in [
            "APIVersion",
            "Version",
            "RustVersion",
            "GitCommit",
            "Built",
            "OsArch",
        ] {
            assert!(json.get(key).is_some(), "{key} in {json}");
        }
    }
}
