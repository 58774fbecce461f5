//! docker's resource flags for `run` and `create`.

use clap::Args;
use skiff::engine::ResourceRequest;

#[derive(Args)]
pub struct ResourceFlags {
    /// Memory limit (e.g. 512m, 1g)
    #[arg(short = 'm', long)]
    memory: Option<String>,
    /// Memory plus swap limit; -1 for unlimited swap
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    memory_swap: Option<String>,
    /// Memory soft limit
    #[arg(long = "memory-reservation")]
    memory_reservation: Option<String>,
    /// Number of CPUs (e.g. 1.5)
    #[arg(long)]
    cpus: Option<String>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long = "cpu-shares")]
    cpu_shares: Option<u64>,
    /// CPU CFS period in microseconds
    #[arg(long = "cpu-period")]
    cpu_period: Option<u64>,
    /// CPU CFS quota in microseconds per period
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    cpu_quota: Option<i64>,
    /// CPUs the container may run on (0-3, 0,1)
    #[arg(long = "cpuset-cpus")]
    cpuset_cpus: Option<String>,
    /// Memory nodes the container may use (0-3, 0,1)
    #[arg(long = "cpuset-mems")]
    cpuset_mems: Option<String>,
    /// Maximum number of processes; 0 or -1 for unlimited
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pids_limit: Option<i64>,
    /// Give the container a cgroup of its own: enabled (default) or disabled
    #[arg(long)]
    cgroups: Option<String>,
    /// Parent cgroup path for the container's cgroup (default /skiff)
    #[arg(long = "cgroup-parent")]
    cgroup_parent: Option<String>,
}

impl ResourceFlags {
    pub fn request(self) -> ResourceRequest {
        ResourceRequest {
            memory: self.memory,
            memory_swap: self.memory_swap,
            memory_reservation: self.memory_reservation,
            cpus: self.cpus,
            cpu_shares: self.cpu_shares,
            cpu_period: self.cpu_period,
            cpu_quota: self.cpu_quota,
            cpuset_cpus: self.cpuset_cpus,
            cpuset_mems: self.cpuset_mems,
            pids_limit: self.pids_limit,
            cgroups: self.cgroups,
            cgroup_parent: self.cgroup_parent,
        }
    }
}
