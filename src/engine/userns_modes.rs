//! `--userns keep-id|nomap|auto` and `--uidmap`/`--gidmap`: parsing (pure,
//! with the rest of `ContainerOptions::from_request`) and, at create,
//! turning them into the container's mapping (`UsernsRecord`, ranges of
//! intermediate IDs) and the host mapping its spec gets. `auto` ranges
//! are chosen under `<root>/userns-auto.lock` against the other
//! containers' records, so an allocation lives exactly as long as the
//! record that holds it.

use std::fs::{File, OpenOptions};

use super::EngineError;
use crate::sandbox::userns::{IdMapping, IdMappings};
use crate::state::{ContainerStore, StorageDirs, UsernsRecord};

/// podman's default size of an `auto` namespace.
const AUTO_DEFAULT_SIZE: u32 = 1024;

/// A range `[container, intermediate, size]`.
type Range = [u32; 3];

/// The mapping asked for, before the caller's subordinate ranges are known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum UsernsRequest {
    /// The default mapping, or `--userns host`.
    #[default]
    Default,
    KeepId {
        uid: Option<u32>,
        gid: Option<u32>,
    },
    NoMap,
    Auto {
        size: Option<u32>,
        uids: Vec<Range>,
        gids: Vec<Range>,
    },
    /// `--uidmap`/`--gidmap`.
    Maps {
        uids: Vec<Range>,
        gids: Vec<Range>,
    },
}

fn invalid(text: String) -> EngineError {
    EngineError::Invalid(text)
}

fn parse_number(what: &str, text: &str) -> Result<u32, EngineError> {
    text.parse()
        .map_err(|_| invalid(format!("invalid {what} \"{text}\": not a number")))
}

/// `CONTAINER:HOST:SIZE`, podman's syntax.
fn parse_range(flag: &str, text: &str) -> Result<Range, EngineError> {
    let parts: Vec<&str> = text.split(':').collect();
    let [c, h, s] = parts[..] else {
        return Err(invalid(format!(
            "invalid {flag} \"{text}\": use CONTAINER:HOST:SIZE"
        )));
    };
    let range = [
        parse_number(flag, c)?,
        parse_number(flag, h)?,
        parse_number(flag, s)?,
    ];
    if range[2] == 0 {
        return Err(invalid(format!("invalid {flag} \"{text}\": size is 0")));
    }
    if range[0].checked_add(range[2]).is_none() || range[1].checked_add(range[2]).is_none() {
        return Err(invalid(format!("invalid {flag} \"{text}\": out of range")));
    }
    Ok(range)
}

/// Two ranges of one map may not overlap on either side (the kernel
/// refuses such a map).
fn check_disjoint(flag: &str, ranges: &[Range]) -> Result<(), EngineError> {
    for (i, a) in ranges.iter().enumerate() {
        for b in &ranges[i + 1..] {
            let overlap = |x: u32, y: u32| x < y + b[2] && y < x + a[2];
            if overlap(a[0], b[0]) || overlap(a[1], b[1]) {
                return Err(invalid(format!(
                    "invalid {flag}: {}:{}:{} overlaps {}:{}:{}",
                    a[0], a[1], a[2], b[0], b[1], b[2]
                )));
            }
        }
    }
    Ok(())
}

/// Parses `--userns` (its value other than `host`) with `--uidmap` and
/// `--gidmap`. `--gidmap` alone is refused, `--uidmap` alone maps the
/// groups the same way (podman's rule).
pub fn parse_userns_request(
    userns: Option<&str>,
    uidmap: &[String],
    gidmap: &[String],
) -> Result<UsernsRequest, EngineError> {
    let mode = userns.unwrap_or("");
    if !uidmap.is_empty() || !gidmap.is_empty() {
        if !mode.is_empty() {
            return Err(invalid(format!(
                "--userns {mode} cannot be combined with --uidmap or --gidmap"
            )));
        }
        if uidmap.is_empty() {
            return Err(invalid("--gidmap needs --uidmap as well".into()));
        }
        let parse_all = |flag: &str, list: &[String]| -> Result<Vec<Range>, EngineError> {
            let ranges = list
                .iter()
                .map(|t| parse_range(flag, t))
                .collect::<Result<Vec<_>, _>>()?;
            check_disjoint(flag, &ranges)?;
            Ok(ranges)
        };
        let uids = parse_all("--uidmap", uidmap)?;
        let gids = if gidmap.is_empty() {
            uids.clone()
        } else {
            parse_all("--gidmap", gidmap)?
        };
        return Ok(UsernsRequest::Maps { uids, gids });
    }
    if mode.starts_with("container:") {
        // Entering another container's: `namespace_joins` plans it.
        return Ok(UsernsRequest::Default);
    }
    let (name, options) = mode.split_once(':').unwrap_or((mode, ""));
    let options = options.split(',').filter(|o| !o.is_empty());
    match name {
        "" | "host" => {
            if let Some(o) = options.clone().next() {
                return Err(invalid(format!("invalid --userns \"{mode}\": {o}")));
            }
            Ok(UsernsRequest::Default)
        }
        "keep-id" => {
            let (mut uid, mut gid) = (None, None);
            for option in options {
                match option.split_once('=') {
                    Some(("uid", v)) => uid = Some(parse_number("--userns keep-id uid", v)?),
                    Some(("gid", v)) => gid = Some(parse_number("--userns keep-id gid", v)?),
                    _ => {
                        return Err(invalid(format!(
                            "invalid --userns keep-id option \"{option}\": use uid=UID or gid=GID"
                        )));
                    }
                }
            }
            Ok(UsernsRequest::KeepId { uid, gid })
        }
        "nomap" => match options.clone().next() {
            Some(o) => Err(invalid(format!("invalid --userns nomap option \"{o}\""))),
            None => Ok(UsernsRequest::NoMap),
        },
        "auto" => {
            let (mut size, mut uids, mut gids) = (None, Vec::new(), Vec::new());
            for option in options {
                match option.split_once('=') {
                    Some(("size", v)) => {
                        let n = parse_number("--userns auto size", v)?;
                        if n == 0 {
                            return Err(invalid("invalid --userns auto size: 0".into()));
                        }
                        size = Some(n);
                    }
                    Some(("uidmapping", v)) => {
                        uids.push(parse_range("--userns auto uidmapping", v)?)
                    }
                    Some(("gidmapping", v)) => {
                        gids.push(parse_range("--userns auto gidmapping", v)?)
                    }
                    _ => {
                        return Err(invalid(format!(
                            "invalid --userns auto option \"{option}\": use size=N, uidmapping=C:H:N or gidmapping=C:H:N"
                        )));
                    }
                }
            }
            check_disjoint("--userns auto uidmapping", &uids)?;
            check_disjoint("--userns auto gidmapping", &gids)?;
            Ok(UsernsRequest::Auto { size, uids, gids })
        }
        "ns" | "private" => Err(invalid(format!(
            "--userns {mode} is not supported by skiff: use host, container:NAME, keep-id, nomap or auto"
        ))),
        _ => Err(invalid(format!(
            "invalid --userns \"{mode}\": use host, container:NAME, keep-id, nomap or auto"
        ))),
    }
}

/// The caller's default rootless mapping as (caller's ID, subordinate
/// start, subordinate count).
fn default_shape(maps: &[IdMapping]) -> Option<(u32, u32, u32)> {
    match maps {
        [own, sub] if own.container_id == 0 && own.size == 1 && sub.container_id == 1 => {
            Some((own.host_id, sub.host_id, sub.size))
        }
        _ => None,
    }
}

/// `base` without the container IDs `extra` covers, plus `extra`.
fn overlay(base: &[Range], extra: &[Range]) -> Vec<Range> {
    let mut out: Vec<Range> = base.to_vec();
    for e in extra {
        let (lo, hi) = (e[0], e[0] + e[2]);
        out = out
            .into_iter()
            .flat_map(|[c, h, s]| {
                let mut pieces = Vec::new();
                if c < lo {
                    let n = s.min(lo - c);
                    pieces.push([c, h, n]);
                }
                if c + s > hi {
                    let start = c.max(hi);
                    pieces.push([start, h + (start - c), c + s - start]);
                }
                pieces
            })
            .collect();
    }
    out.extend_from_slice(extra);
    out
}

/// keep-id's ranges: 0..U-1 → 1..U, U → 0 (the caller), U+1..count →
/// U+1..count; a U beyond the range maps what there is below it
/// (podman's `getRootlessKeepIDMapping`).
fn keep_id_ranges(id: u32, count: u32) -> Vec<Range> {
    let mut ranges = Vec::new();
    if id > 0 && count > 0 {
        ranges.push([0, 1, id.min(count)]);
    }
    ranges.push([id, 0, 1]);
    if count > id {
        ranges.push([id + 1, id + 1, count - id]);
    }
    ranges
}

/// Intermediate IDs outside 0..=count do not exist for this caller.
fn check_within(flag: &str, ranges: &[Range], count: u32) -> Result<(), EngineError> {
    for r in ranges {
        if u64::from(r[1]) + u64::from(r[2]) > u64::from(count) + 1 {
            return Err(invalid(format!(
                "{flag} {}:{}:{}: host IDs beyond the {} available (0 = you, 1-{count} = your subordinate IDs)",
                r[0],
                r[1],
                r[2],
                u64::from(count) + 1
            )));
        }
    }
    Ok(())
}

/// Holds the `auto` allocation lock until the container's record is
/// written.
pub struct AutoLock(#[allow(dead_code)] File);

fn lock_auto(dirs: &StorageDirs) -> Result<AutoLock, EngineError> {
    let path = dirs.root.join("userns-auto.lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(EngineError::io(format!("opening {}", path.display())))?;
    file.lock()
        .map_err(EngineError::io(format!("locking {}", path.display())))?;
    Ok(AutoLock(file))
}

/// The first `size` IDs in `lo..hi` that no other auto container's map
/// uses (uids and gids alike).
fn free_range(taken: &[(u32, u32)], size: u32, lo: u32, hi: u64) -> Option<u32> {
    let mut start = lo;
    let mut sorted = taken.to_vec();
    sorted.sort();
    for (first, len) in sorted {
        if u64::from(start) + u64::from(size) <= u64::from(first) {
            break;
        }
        start = start.max(first.checked_add(len)?);
    }
    (u64::from(start) + u64::from(size) <= hi).then_some(start)
}

/// Where root's `auto` ranges come from: the `containers` user's entries
/// in /etc/subuid and /etc/subgid (podman's convention), else the range
/// skiff reserves, 2^31 up to 3·2^30: far above any real account and
/// below the kernel's (u32::MAX) overflow.
pub const ROOT_AUTO_POOL: (u32, u32) = (0x8000_0000, 0x4000_0000);

fn root_auto_pool() -> (u32, u32) {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let from =
        |path: &str| crate::sandbox::userns::subordinate_range(&read(path), "containers", u32::MAX);
    match (from("/etc/subuid"), from("/etc/subgid")) {
        (Some((us, uc)), Some((gs, gc))) if us == gs => (us, uc.min(gc)),
        _ => ROOT_AUTO_POOL,
    }
}

/// Root's mapping for `auto` and `--uidmap`: host IDs as given.
fn resolve_as_root(
    dirs: &StorageDirs,
    request: &UsernsRequest,
    name: &str,
) -> Result<(UsernsRecord, Option<AutoLock>), EngineError> {
    let (mode, uid_map, gid_map, lock) = match request {
        UsernsRequest::KeepId { .. } | UsernsRequest::NoMap => {
            return Err(invalid(format!(
                "{name} is only supported in rootless mode"
            )));
        }
        UsernsRequest::Maps { uids, gids } => ("private", uids.clone(), gids.clone(), None),
        UsernsRequest::Auto { size, uids, gids } => {
            let size = size.unwrap_or(AUTO_DEFAULT_SIZE);
            let (pool, count) = root_auto_pool();
            let guard = lock_auto(dirs)?;
            let start = free_range(&auto_ranges(dirs), size, pool, u64::from(pool) + u64::from(count))
                .ok_or_else(|| {
                    invalid(format!(
                        "--userns auto: no {size} free IDs left in the range for auto user namespaces ({pool}+{count})"
                    ))
                })?;
            let base = [[0, start, size]];
            (
                "auto",
                overlay(&base, uids),
                overlay(&base, gids),
                Some(guard),
            )
        }
        UsernsRequest::Default => unreachable!("the default has no record"),
    };
    Ok((
        UsernsRecord {
            mode: mode.to_string(),
            uid_map,
            gid_map,
        },
        lock,
    ))
}

/// The container's mapping for `request`, rootless: `caller` is the
/// caller's default mapping. `None` for the default. The lock, held
/// for `auto`, must be kept until the record is written.
pub fn resolve_userns(
    dirs: &StorageDirs,
    request: &UsernsRequest,
    mode_text: &str,
    caller: &IdMappings,
) -> Result<(Option<UsernsRecord>, Option<AutoLock>), EngineError> {
    if *request == UsernsRequest::Default {
        return Ok((None, None));
    }
    let name = mode_text.split(':').next().unwrap_or(mode_text);
    if !super::is_rootless() {
        let (record, lock) = resolve_as_root(dirs, request, name)?;
        return Ok((Some(record), lock));
    }
    let (Some((_, _, ucount)), Some((_, _, gcount))) =
        (default_shape(&caller.uids), default_shape(&caller.gids))
    else {
        return Err(invalid(format!(
            "--userns {name}: needs subordinate ID ranges in /etc/subuid and /etc/subgid and the newuidmap/newgidmap helpers (see rootless.md)"
        )));
    };
    let caller_uid = caller.uids[0].host_id;
    let caller_gid = caller.gids[0].host_id;
    let mut lock = None;
    let (mode, uid_map, gid_map) = match request {
        UsernsRequest::Default => unreachable!("handled above"),
        UsernsRequest::KeepId { uid, gid } => {
            let (u, g) = (uid.unwrap_or(caller_uid), gid.unwrap_or(caller_gid));
            (
                "keep-id",
                keep_id_ranges(u, ucount),
                keep_id_ranges(g, gcount),
            )
        }
        UsernsRequest::NoMap => ("nomap", vec![[0, 1, ucount]], vec![[0, 1, gcount]]),
        UsernsRequest::Maps { uids, gids } => {
            check_within("--uidmap", uids, ucount)?;
            check_within("--gidmap", gids, gcount)?;
            ("private", uids.clone(), gids.clone())
        }
        UsernsRequest::Auto { size, uids, gids } => {
            let size = size.unwrap_or(AUTO_DEFAULT_SIZE);
            check_within("--userns auto uidmapping", uids, ucount)?;
            check_within("--userns auto gidmapping", gids, gcount)?;
            let guard = lock_auto(dirs)?;
            let taken: Vec<(u32, u32)> = auto_ranges(dirs);
            let hi = u64::from(ucount.min(gcount)) + 1;
            let start = free_range(&taken, size, 1, hi).ok_or_else(|| {
                invalid(format!(
                    "--userns auto: no {size} free IDs left in your subordinate ranges ({ucount} uids, {gcount} gids) beside other auto containers"
                ))
            })?;
            lock = Some(guard);
            let base = [[0, start, size]];
            ("auto", overlay(&base, uids), overlay(&base, gids))
        }
    };
    Ok((
        Some(UsernsRecord {
            mode: mode.to_string(),
            uid_map,
            gid_map,
        }),
        lock,
    ))
}

/// The mapping of a container that enters other containers' namespaces
/// (`user_of`: the one whose user namespace it enters, if any). A mapping of its own cannot go with a join (the joined
/// namespaces belong to the other container's user namespace); entering
/// a user namespace means that container's mapping, and so its copies of
/// the layers.
pub fn joined_userns(
    dirs: &StorageDirs,
    request: &UsernsRequest,
    mode_text: &str,
    user_of: Option<&str>,
) -> Result<Option<UsernsRecord>, EngineError> {
    if *request != UsernsRequest::Default {
        let shown = if mode_text.is_empty() {
            "--uidmap/--gidmap".to_string()
        } else {
            format!("--userns {mode_text}")
        };
        return Err(invalid(format!(
            "{shown} cannot be combined with entering another container's namespaces"
        )));
    }
    let Some(id) = user_of else {
        return Ok(None);
    };
    let record = ContainerStore::new(dirs)
        .load(id)
        .map_err(|e| invalid(e.to_string()))?;
    Ok(record.config.userns)
}

/// Intermediate ranges the existing `auto` containers hold.
fn auto_ranges(dirs: &StorageDirs) -> Vec<(u32, u32)> {
    let store = ContainerStore::new(dirs);
    store
        .list_ids()
        .iter()
        .filter_map(|id| store.load(id).ok())
        .filter_map(|record| record.config.userns)
        .filter(|u| u.mode == "auto")
        .flat_map(|u| u.uid_map.into_iter().chain(u.gid_map))
        .map(|[_, h, s]| (h, s))
        .collect()
}

/// `ranges` (container → intermediate) as host mappings: intermediate 0
/// is `own`, 1.. the subordinate range from `sub_start`.
fn to_host(ranges: &[Range], own: u32, sub_start: u32) -> Vec<IdMapping> {
    let mut out = Vec::new();
    for &[c, h, s] in ranges {
        let (mut c, mut h, mut s) = (c, h, s);
        if h == 0 {
            out.push(IdMapping {
                container_id: c,
                host_id: own,
                size: 1,
            });
            (c, h, s) = (c + 1, 1, s - 1);
        }
        if s > 0 {
            out.push(IdMapping {
                container_id: c,
                host_id: sub_start + (h - 1),
                size: s,
            });
        }
    }
    out
}

/// The host mappings the spec gets for `record`: rootless through the
/// caller's own (`caller`), as root (`None`) the record's IDs are the
/// host's.
pub fn host_mappings(
    record: &UsernsRecord,
    caller: Option<&IdMappings>,
) -> (Vec<IdMapping>, Vec<IdMapping>) {
    let Some(caller) = caller else {
        let direct = |ranges: &[Range]| {
            ranges
                .iter()
                .map(|&[c, h, s]| IdMapping {
                    container_id: c,
                    host_id: h,
                    size: s,
                })
                .collect()
        };
        return (direct(&record.uid_map), direct(&record.gid_map));
    };
    let shape = |maps: &[IdMapping]| default_shape(maps).unwrap_or((0, 0, 0));
    let (uid, usub, _) = shape(&caller.uids);
    let (gid, gsub, _) = shape(&caller.gids);
    (
        to_host(&record.uid_map, uid, usub),
        to_host(&record.gid_map, gid, gsub),
    )
}

#[cfg(test)]
#[path = "userns_modes_tests.rs"]
mod tests;
