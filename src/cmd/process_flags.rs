//! `run`/`create` flags for process settings and shared namespaces:
//! `--ulimit`, `--umask`, `--tz`, `--shm-size`, `--sysctl`, `--pid`,
//! `--ipc`, `--uts`, `--cgroupns`, `--userns`, `--uidmap`, `--gidmap`.

use clap::Args;
use skiff::engine::ProcessRequest;

#[derive(Args)]
pub struct ProcessFlags {
    /// Resource limit NAME=SOFT[:HARD] (nofile, nproc, core, …)
    #[arg(long)]
    ulimit: Vec<String>,
    /// The process's umask (octal, default 0022)
    #[arg(long)]
    umask: Option<String>,
    /// Time zone of the container (a zone name such as Europe/Paris, or local)
    #[arg(long)]
    tz: Option<String>,
    /// Size of /dev/shm (e.g. 256m)
    #[arg(long = "shm-size")]
    shm_size: Option<String>,
    /// Namespaced kernel parameter KEY=VALUE
    #[arg(long)]
    sysctl: Vec<String>,
    /// PID namespace: private (default), host or container:NAME
    #[arg(long)]
    pid: Option<String>,
    /// IPC namespace: shareable (default), private, none (no /dev/shm), host or container:NAME
    #[arg(long)]
    ipc: Option<String>,
    /// UTS namespace: private (default), host or container:NAME
    #[arg(long)]
    uts: Option<String>,
    /// cgroup namespace: private (default) or host
    #[arg(long)]
    cgroupns: Option<String>,
    /// User namespace: host (the default), container:NAME, keep-id[:uid=U,gid=G],
    /// nomap, auto[:size=N,uidmapping=C:H:N,gidmapping=C:H:N] (keep-id, nomap rootless only)
    #[arg(long)]
    userns: Option<String>,
    /// UID mapping CONTAINER:HOST:SIZE (repeatable; rootless HOST 0 is you,
    /// 1.. your subordinate IDs)
    #[arg(long)]
    uidmap: Vec<String>,
    /// GID mapping CONTAINER:HOST:SIZE (repeatable; default: as --uidmap)
    #[arg(long)]
    gidmap: Vec<String>,
}

impl ProcessFlags {
    pub fn request(self) -> ProcessRequest {
        ProcessRequest {
            ulimits: self.ulimit,
            umask: self.umask,
            tz: self.tz,
            shm_size: self.shm_size,
            sysctls: self.sysctl,
            pid: self.pid,
            ipc: self.ipc,
            uts: self.uts,
            cgroupns: self.cgroupns,
            userns: self.userns,
            uidmap: self.uidmap,
            gidmap: self.gidmap,
        }
    }
}
