//! The process's identity and privileges: user and groups, capability
//! sets, no_new_privs. Applied last before exec, after all mounting (which
//! needs CAP_SYS_ADMIN) is done.

use std::collections::HashSet;
use std::str::FromStr;

use caps::{CapSet, Capability as KernelCap, CapsHashSet};
use nix::unistd::{Gid, Uid, setgroups, setresgid, setresuid};
use oci_spec::runtime::{Capabilities, Process};

use super::SetupError;

fn sys(what: &'static str) -> impl FnOnce(nix::Error) -> SetupError {
    move |source| SetupError::Sys {
        what: what.to_string(),
        source,
    }
}

fn caps_err(what: &'static str) -> impl FnOnce(caps::errors::CapsError) -> SetupError {
    move |e| SetupError::Message(format!("{what}: {e}"))
}

/// The spec names capabilities without their `CAP_` prefix; the kernel
/// crate wants it.
pub fn kernel_caps(set: &Option<Capabilities>) -> CapsHashSet {
    set.iter()
        .flatten()
        .filter_map(|c| KernelCap::from_str(&format!("CAP_{c}")).ok())
        .collect()
}

/// Switches to the spec's user and capability sets. Order matters: the
/// bounding set is trimmed while we still hold CAP_SETPCAP, KEEPCAPS keeps
/// the permitted set across setuid, then the final sets are installed.
pub fn apply_identity(process: &Process) -> Result<(), SetupError> {
    let wanted = process.capabilities().clone().unwrap_or_default();
    let bounding = kernel_caps(wanted.bounding());
    let supported: HashSet<KernelCap> = caps::runtime::thread_all_supported();
    for cap in supported.difference(&bounding) {
        caps::drop(None, CapSet::Bounding, *cap)
            .map_err(caps_err("dropping bounding capabilities"))?;
    }
    nix::sys::prctl::set_keepcaps(true).map_err(sys("keeping capabilities across setuid"))?;

    let user = process.user();
    // No list at all (`--group-add keep-groups`): the groups skiff was
    // started with stay, as crun's keep_original_groups; rootless they
    // are unmapped in the user namespace (shown as nobody) but the kernel
    // still grants their access on host files and devices.
    if let Some(gids) = user.additional_gids() {
        let groups: Vec<Gid> = gids.iter().map(|g| Gid::from_raw(*g)).collect();
        match setgroups(&groups) {
            Ok(()) => {}
            // A single-ID user namespace denies setgroups; the inherited
            // groups are unmapped there (they show as nobody) and grant
            // nothing new.
            Err(nix::Error::EPERM) if setgroups_denied() => {}
            Err(e) => return Err(sys("setting supplementary groups")(e)),
        }
    }
    let gid = Gid::from_raw(user.gid());
    let uid = Uid::from_raw(user.uid());
    setresgid(gid, gid, gid).map_err(sys("setting the group ID"))?;
    setresuid(uid, uid, uid).map_err(sys("setting the user ID"))?;

    // Effective first: it must stay a subset of permitted at every step.
    caps::set(None, CapSet::Effective, &kernel_caps(wanted.effective()))
        .map_err(caps_err("setting effective capabilities"))?;
    caps::set(None, CapSet::Permitted, &kernel_caps(wanted.permitted()))
        .map_err(caps_err("setting permitted capabilities"))?;
    caps::set(
        None,
        CapSet::Inheritable,
        &kernel_caps(wanted.inheritable()),
    )
    .map_err(caps_err("setting inheritable capabilities"))?;
    let ambient = kernel_caps(wanted.ambient());
    if !ambient.is_empty() {
        caps::set(None, CapSet::Ambient, &ambient)
            .map_err(caps_err("setting ambient capabilities"))?;
    }
    if process.no_new_privileges() == Some(true) {
        nix::sys::prctl::set_no_new_privs().map_err(sys("setting no_new_privs"))?;
    }
    Ok(())
}

fn setgroups_denied() -> bool {
    std::fs::read_to_string("/proc/self/setgroups").is_ok_and(|s| s.trim() == "deny")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::spec::DEFAULT_CAPABILITIES;

    #[test]
    fn every_default_capability_maps_to_a_kernel_capability() {
        let set: Capabilities = DEFAULT_CAPABILITIES.into_iter().collect();
        let kernel = kernel_caps(&Some(set));
        assert_eq!(kernel.len(), DEFAULT_CAPABILITIES.len());
        assert!(kernel.contains(&KernelCap::CAP_NET_BIND_SERVICE));
        assert!(kernel.contains(&KernelCap::CAP_DAC_OVERRIDE));
    }
}
