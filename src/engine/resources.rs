//! docker's resource flags (`--memory`, `--cpus`, `--pids-limit`, …)
//! checked and turned into the spec's `linux.resources`, with docker's
//! error texts, before anything is created.

use oci_spec::runtime::{
    LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResources, LinuxResourcesBuilder,
};

use super::EngineError;

/// The resource flags as the user spelled them.
#[derive(Debug, Clone, Default)]
pub struct ResourceRequest {
    pub memory: Option<String>,
    pub memory_swap: Option<String>,
    pub memory_reservation: Option<String>,
    pub cpus: Option<String>,
    pub cpu_shares: Option<u64>,
    pub cpu_period: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub pids_limit: Option<i64>,
    /// `--cgroups=enabled|disabled`.
    pub cgroups: Option<String>,
    pub cgroup_parent: Option<String>,
}

/// docker's smallest `--memory`.
const MIN_MEMORY: i64 = 6 << 20;
const CPU_PERIOD: u64 = 100_000;

fn invalid(text: String) -> EngineError {
    EngineError::Invalid(text)
}

/// docker's memory sizes: a number (fractions allowed) with an optional
/// unit b, k, m, g, t (powers of 1024; `kb`, `mib`… spellings too).
pub fn parse_memory(flag: &str, text: &str) -> Result<i64, EngineError> {
    let bad = || {
        invalid(format!(
            "invalid value \"{text}\" for {flag}: expected a size such as 512m or 1g"
        ))
    };
    crate::units::parse_byte_size(text)
        .map(|bytes| bytes as i64)
        .ok_or_else(bad)
}

fn online_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A cpuset list (`0-2,4`): each entry a number or a range.
fn check_cpuset(flag: &str, text: &str, available: Option<usize>) -> Result<(), EngineError> {
    let bad = |why: &str| invalid(format!("invalid value \"{text}\" for {flag}: {why}"));
    for part in text.split(',') {
        let (start, end) = part.split_once('-').unwrap_or((part, part));
        let (Ok(start), Ok(end)) = (start.trim().parse::<usize>(), end.trim().parse::<usize>())
        else {
            return Err(bad("expected a list such as 0-2,4"));
        };
        if start > end {
            return Err(bad("a range must go upwards"));
        }
        if let Some(n) = available
            && end >= n
        {
            return Err(bad(&format!(
                "requested CPUs are not available, this host has 0-{}",
                n - 1
            )));
        }
    }
    Ok(())
}

/// Whether the container gets a cgroup of its own (`--cgroups`).
pub fn cgroups_enabled(req: &ResourceRequest) -> Result<bool, EngineError> {
    match req.cgroups.as_deref() {
        None | Some("enabled") => Ok(true),
        Some("disabled") => Ok(false),
        Some(other) => Err(invalid(format!(
            "invalid --cgroups \"{other}\": use enabled or disabled"
        ))),
    }
}

/// Checks the flags; `None` when no limit was asked for.
pub fn plan_resources(req: &ResourceRequest) -> Result<Option<LinuxResources>, EngineError> {
    let memory = req
        .memory
        .as_deref()
        .map(|m| parse_memory("--memory", m))
        .transpose()?;
    if let Some(m) = memory
        && m < MIN_MEMORY
    {
        return Err(invalid(
            "minimum memory limit allowed is 6MB (--memory)".into(),
        ));
    }
    let swap = match req.memory_swap.as_deref() {
        None => None,
        Some("-1") => Some(-1),
        Some(s) => Some(parse_memory("--memory-swap", s)?),
    };
    if let Some(s) = swap {
        match memory {
            None => {
                return Err(invalid(
                    "you should always set the memory limit when using the memory-swap limit (--memory with --memory-swap)".into(),
                ));
            }
            Some(m) if s >= 0 && s < m => {
                return Err(invalid(
                    "minimum memory-swap limit should be larger than the memory limit (--memory-swap)".into(),
                ));
            }
            _ => {}
        }
    }
    let reservation = req
        .memory_reservation
        .as_deref()
        .map(|r| parse_memory("--memory-reservation", r))
        .transpose()?;
    if let (Some(m), Some(r)) = (memory, reservation)
        && r > m
    {
        return Err(invalid(
            "minimum memory limit can not be less than memory reservation limit (--memory-reservation)".into(),
        ));
    }

    let mut quota = req.cpu_quota;
    let mut period = req.cpu_period;
    if let Some(cpus) = &req.cpus {
        if quota.is_some() || period.is_some() {
            return Err(invalid(
                "conflicting options: --cpus and --cpu-period/--cpu-quota cannot both be set"
                    .into(),
            ));
        }
        let available = online_cpus();
        let value: f64 = cpus
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v > 0.0)
            .ok_or_else(|| {
                invalid(format!(
                    "invalid value \"{cpus}\" for --cpus: expected a number of CPUs such as 1.5"
                ))
            })?;
        if value < 0.01 || value > available as f64 {
            return Err(invalid(format!(
                "range of CPUs is from 0.01 to {available}.00, as there are only {available} CPUs available (--cpus {cpus})"
            )));
        }
        quota = Some((value * CPU_PERIOD as f64).round() as i64);
        period = Some(CPU_PERIOD);
    }
    if let Some(p) = period
        && !(1000..=1_000_000).contains(&p)
    {
        return Err(invalid(format!(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000) (--cpu-period {p})"
        )));
    }
    if let Some(q) = quota
        && q > 0
        && q < 1000
    {
        return Err(invalid(format!(
            "CPU cfs quota can not be less than 1ms (i.e. 1000) (--cpu-quota {q})"
        )));
    }
    if let Some(cpus) = &req.cpuset_cpus {
        check_cpuset("--cpuset-cpus", cpus, Some(online_cpus()))?;
    }
    if let Some(mems) = &req.cpuset_mems {
        check_cpuset("--cpuset-mems", mems, None)?;
    }

    let nothing = memory.is_none()
        && swap.is_none()
        && reservation.is_none()
        && req.cpu_shares.is_none()
        && quota.is_none()
        && period.is_none()
        && req.cpuset_cpus.is_none()
        && req.cpuset_mems.is_none()
        && req.pids_limit.is_none();
    if nothing {
        return Ok(None);
    }
    if !cgroups_enabled(req)? {
        return Err(invalid(
            "cannot set resource limits with --cgroups=disabled".into(),
        ));
    }
    let spec_error = |e: oci_spec::OciSpecError| invalid(format!("building resource limits: {e}"));
    let mut resources = LinuxResourcesBuilder::default();
    if memory.is_some() || swap.is_some() || reservation.is_some() {
        let mut m = LinuxMemoryBuilder::default();
        if let Some(v) = memory {
            m = m.limit(v);
        }
        if let Some(v) = swap {
            m = m.swap(v);
        }
        if let Some(v) = reservation {
            m = m.reservation(v);
        }
        resources = resources.memory(m.build().map_err(spec_error)?);
    }
    let cpu_set = req.cpu_shares.is_some()
        || quota.is_some()
        || period.is_some()
        || req.cpuset_cpus.is_some()
        || req.cpuset_mems.is_some();
    if cpu_set {
        let mut c = LinuxCpuBuilder::default();
        if let Some(v) = req.cpu_shares {
            c = c.shares(v);
        }
        if let Some(v) = quota {
            c = c.quota(v);
        }
        if let Some(v) = period {
            c = c.period(v);
        }
        if let Some(v) = &req.cpuset_cpus {
            c = c.cpus(v.clone());
        }
        if let Some(v) = &req.cpuset_mems {
            c = c.mems(v.clone());
        }
        resources = resources.cpu(c.build().map_err(spec_error)?);
    }
    if let Some(limit) = req.pids_limit {
        let pids = LinuxPidsBuilder::default()
            .limit(limit)
            .build()
            .map_err(spec_error)?;
        resources = resources.pids(pids);
    }
    Ok(Some(resources.build().map_err(spec_error)?))
}

/// `--cgroup-parent`: a path inside the hierarchy, never leaving it.
pub fn check_cgroup_parent(parent: &Option<String>) -> Result<(), EngineError> {
    if let Some(p) = parent
        && (p.is_empty() || p.split('/').any(|c| c == ".." || c == "."))
    {
        return Err(invalid(format!(
            "invalid --cgroup-parent \"{p}\": expected a path such as /skiff or /my/containers"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::cgroups::Limits;

    fn plan(req: ResourceRequest) -> Result<Limits, String> {
        plan_resources(&req)
            .map(|r| Limits::from_resources(r.as_ref()))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn sizes_parse_like_docker() {
        assert_eq!(parse_memory("-m", "64m").unwrap(), 64 << 20);
        assert_eq!(parse_memory("-m", "1G").unwrap(), 1 << 30);
        assert_eq!(parse_memory("-m", "1.5g").unwrap(), 3 << 29);
        assert_eq!(parse_memory("-m", "512kb").unwrap(), 512 << 10);
        assert_eq!(parse_memory("-m", "100MiB").unwrap(), 100 << 20);
        assert_eq!(parse_memory("-m", "4096").unwrap(), 4096);
        for bad in ["", "m", "12x", "-5m", "1..2m"] {
            assert!(parse_memory("-m", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn no_flags_no_resources() {
        assert_eq!(plan_resources(&ResourceRequest::default()).unwrap(), None);
    }

    #[test]
    fn cpus_become_quota_and_period() {
        let limits = plan(ResourceRequest {
            cpus: Some("0.5".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(limits.cpu_quota, Some(50_000));
        assert_eq!(limits.cpu_period, Some(100_000));
    }

    #[test]
    fn memory_rules_follow_docker() {
        let small = plan(ResourceRequest {
            memory: Some("4m".into()),
            ..Default::default()
        });
        assert!(small.unwrap_err().contains("6MB"));
        let swap_alone = plan(ResourceRequest {
            memory_swap: Some("1g".into()),
            ..Default::default()
        });
        assert!(
            swap_alone
                .unwrap_err()
                .contains("--memory with --memory-swap")
        );
        let swap_small = plan(ResourceRequest {
            memory: Some("64m".into()),
            memory_swap: Some("32m".into()),
            ..Default::default()
        });
        assert!(
            swap_small
                .unwrap_err()
                .contains("larger than the memory limit")
        );
        let ok = plan(ResourceRequest {
            memory: Some("64m".into()),
            memory_swap: Some("-1".into()),
            pids_limit: Some(10),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(ok.memory, Some(64 << 20));
        assert_eq!(ok.memory_swap, Some(-1));
        assert_eq!(ok.pids, Some(10));
    }

    #[test]
    fn conflicts_and_ranges_are_refused() {
        let both = plan(ResourceRequest {
            cpus: Some("1".into()),
            cpu_quota: Some(50_000),
            ..Default::default()
        });
        assert!(both.unwrap_err().contains("conflicting options"));
        let too_many = plan(ResourceRequest {
            cpus: Some("4096".into()),
            ..Default::default()
        });
        assert!(too_many.unwrap_err().contains("range of CPUs"));
        let cpuset = plan(ResourceRequest {
            cpuset_cpus: Some("0-4096".into()),
            ..Default::default()
        });
        assert!(cpuset.unwrap_err().contains("not available"));
        let syntax = plan(ResourceRequest {
            cpuset_cpus: Some("a".into()),
            ..Default::default()
        });
        assert!(syntax.unwrap_err().contains("0-2,4"));
        let disabled = plan(ResourceRequest {
            pids_limit: Some(5),
            cgroups: Some("disabled".into()),
            ..Default::default()
        });
        assert!(disabled.unwrap_err().contains("--cgroups=disabled"));
    }

    #[test]
    fn cgroup_parent_stays_inside() {
        assert!(check_cgroup_parent(&Some("/a/../b".into())).is_err());
        assert!(check_cgroup_parent(&Some("/my/containers".into())).is_ok());
        assert!(check_cgroup_parent(&None).is_ok());
    }
}
