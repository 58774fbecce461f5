//! The resource limits of the spec (`linux.resources`) in the shape the
//! cgroup writers use.

use oci_spec::runtime::LinuxResources;

/// Limits as docker's flags set them; `None` leaves the kernel's default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limits {
    /// `--memory`, bytes.
    pub memory: Option<i64>,
    /// `--memory-swap`: memory plus swap, bytes; -1 for unlimited swap.
    pub memory_swap: Option<i64>,
    /// `--memory-reservation`, bytes.
    pub memory_reservation: Option<i64>,
    /// `--cpu-shares` (v1 scale: 2…262144, default 1024).
    pub cpu_shares: Option<u64>,
    /// `--cpu-quota` / `--cpus`, microseconds per period.
    pub cpu_quota: Option<i64>,
    /// `--cpu-period`, microseconds.
    pub cpu_period: Option<u64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    /// `--pids-limit`; 0 or less means unlimited.
    pub pids: Option<i64>,
}

impl Limits {
    pub fn from_resources(resources: Option<&LinuxResources>) -> Limits {
        let Some(r) = resources else {
            return Limits::default();
        };
        let memory = r.memory().as_ref();
        let cpu = r.cpu().as_ref();
        Limits {
            memory: memory.and_then(|m| m.limit()),
            memory_swap: memory.and_then(|m| m.swap()),
            memory_reservation: memory.and_then(|m| m.reservation()),
            cpu_shares: cpu.and_then(|c| c.shares()),
            cpu_quota: cpu.and_then(|c| c.quota()),
            cpu_period: cpu.and_then(|c| c.period()),
            cpuset_cpus: cpu.and_then(|c| c.cpus().clone()),
            cpuset_mems: cpu.and_then(|c| c.mems().clone()),
            pids: r.pids().as_ref().map(|p| p.limit()),
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Limits::default()
    }

    /// The controllers these limits need, with the flag that asked for
    /// each (for error messages).
    pub fn needed_controllers(&self) -> Vec<(&'static str, &'static str)> {
        let mut needed = Vec::new();
        if self.memory.is_some() {
            needed.push(("memory", "--memory"));
        }
        if self.memory_swap.is_some() {
            needed.push(("memory", "--memory-swap"));
        }
        if self.memory_reservation.is_some() {
            needed.push(("memory", "--memory-reservation"));
        }
        if self.cpu_shares.is_some() {
            needed.push(("cpu", "--cpu-shares"));
        }
        if self.cpu_quota.is_some() || self.cpu_period.is_some() {
            needed.push(("cpu", "--cpus/--cpu-quota/--cpu-period"));
        }
        if self.cpuset_cpus.is_some() {
            needed.push(("cpuset", "--cpuset-cpus"));
        }
        if self.cpuset_mems.is_some() {
            needed.push(("cpuset", "--cpuset-mems"));
        }
        if self.pids.is_some() {
            needed.push(("pids", "--pids-limit"));
        }
        needed
    }
}
