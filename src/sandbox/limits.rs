//! The syscalls behind `settings.rs`: rlimits and umask (init and `exec`,
//! from `last_steps`), sysctls (init only, once /proc is mounted).

use std::collections::HashMap;

use oci_spec::runtime::{PosixRlimitType, Process};

use super::SetupError;
use super::settings::{DEFAULT_UMASK, rlimit_name};

fn resource(typ: PosixRlimitType) -> libc::__rlimit_resource_t {
    match typ {
        PosixRlimitType::RlimitCpu => libc::RLIMIT_CPU,
        PosixRlimitType::RlimitFsize => libc::RLIMIT_FSIZE,
        PosixRlimitType::RlimitData => libc::RLIMIT_DATA,
        PosixRlimitType::RlimitStack => libc::RLIMIT_STACK,
        PosixRlimitType::RlimitCore => libc::RLIMIT_CORE,
        PosixRlimitType::RlimitRss => libc::RLIMIT_RSS,
        PosixRlimitType::RlimitNproc => libc::RLIMIT_NPROC,
        PosixRlimitType::RlimitNofile => libc::RLIMIT_NOFILE,
        PosixRlimitType::RlimitMemlock => libc::RLIMIT_MEMLOCK,
        PosixRlimitType::RlimitAs => libc::RLIMIT_AS,
        PosixRlimitType::RlimitLocks => libc::RLIMIT_LOCKS,
        PosixRlimitType::RlimitSigpending => libc::RLIMIT_SIGPENDING,
        PosixRlimitType::RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        PosixRlimitType::RlimitNice => libc::RLIMIT_NICE,
        PosixRlimitType::RlimitRtprio => libc::RLIMIT_RTPRIO,
        PosixRlimitType::RlimitRttime => libc::RLIMIT_RTTIME,
    }
}

/// This process's hard limit for `typ` (what a container may not exceed
/// without CAP_SYS_RESOURCE on the host).
pub fn current_hard_limit(typ: PosixRlimitType) -> u64 {
    let mut current = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(resource(typ), &mut current) } != 0 {
        return u64::MAX;
    }
    current.rlim_max
}

/// Sets the spec's rlimits and umask on this process. Before the
/// identity switch: lowering a hard limit needs nothing, but the switch
/// drops what raising one within our own hard limit may still need.
pub fn apply_process_limits(process: &Process) -> Result<(), SetupError> {
    for limit in process.rlimits().iter().flatten() {
        let value = libc::rlimit {
            rlim_cur: limit.soft(),
            rlim_max: limit.hard(),
        };
        // SAFETY: setrlimit reads the struct we own.
        if unsafe { libc::setrlimit(resource(limit.typ()), &value) } != 0 {
            return Err(SetupError::Sys {
                what: format!(
                    "setting the {} limit to {}:{}",
                    rlimit_name(limit.typ()),
                    limit.soft(),
                    limit.hard()
                ),
                source: nix::Error::last(),
            });
        }
    }
    let umask = process.user().umask().unwrap_or(DEFAULT_UMASK);
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(umask));
    Ok(())
}

/// Writes the spec's sysctls through the container's /proc (mounted,
/// and not yet made read-only).
pub fn write_sysctls(sysctls: &HashMap<String, String>) -> Result<(), SetupError> {
    for (key, value) in sysctls {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        std::fs::write(&path, value).map_err(|source| SetupError::Io {
            what: format!("setting sysctl {key}={value}"),
            source,
        })?;
    }
    Ok(())
}
