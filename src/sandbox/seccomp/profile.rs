//! docker's seccomp profile format (the JSON of `--security-opt
//! seccomp=FILE`, and `default.json`, docker's default profile kept here
//! as data), and its resolution into the OCI `linux.seccomp` of one
//! container: the rules that depend on the architecture, the kernel or
//! the container's capabilities are decided here, so the spec holds
//! exactly the filter that is loaded.

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompBuilder, LinuxSyscall,
    LinuxSyscallBuilder,
};
use serde::Deserialize;

/// docker's default profile (moby/profiles `seccomp/default.json`).
pub const DEFAULT_PROFILE: &str = include_str!("default.json");

/// The architecture names docker's `includes.arches`/`excludes.arches`
/// use for this machine. Only native x86_64 is filtered (see DESIGN.md):
/// "x32" is listed because docker treats x32 rules as applying to amd64
/// hosts too (`arch_prctl`).
const NATIVE_ARCHES: [&str; 2] = ["amd64", "x32"];

/// A parsed profile, before it is resolved for a container.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub default_action: LinuxSeccompAction,
    #[serde(default)]
    pub default_errno_ret: Option<u32>,
    #[serde(default)]
    pub syscalls: Vec<Rule>,
}

/// One entry of `syscalls`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    #[serde(default)]
    pub names: Vec<String>,
    /// The old format's single name.
    #[serde(default)]
    pub name: Option<String>,
    pub action: LinuxSeccompAction,
    #[serde(default)]
    pub errno_ret: Option<u32>,
    #[serde(default)]
    pub args: Vec<LinuxSeccompArg>,
    #[serde(default)]
    pub includes: Filter,
    #[serde(default)]
    pub excludes: Filter,
}

/// `includes`/`excludes`: when a rule applies.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    #[serde(default)]
    pub arches: Vec<String>,
    #[serde(default)]
    pub caps: Vec<String>,
    #[serde(default)]
    pub min_kernel: Option<String>,
}

impl Profile {
    /// Parses docker's JSON format. `kernel` is the running kernel's
    /// (major, minor): a rule with a higher `minKernel` is dropped here,
    /// so the planner stays free of syscalls.
    pub fn parse(json: &[u8], kernel: (u32, u32)) -> Result<Profile, String> {
        let mut profile: Profile = serde_json::from_slice(json).map_err(|e| e.to_string())?;
        if profile.default_action == LinuxSeccompAction::ScmpActNotify {
            return Err("defaultAction SCMP_ACT_NOTIFY is not supported".into());
        }
        for rule in &profile.syscalls {
            if rule.action == LinuxSeccompAction::ScmpActNotify {
                return Err("action SCMP_ACT_NOTIFY is not supported".into());
            }
            if rule.names.is_empty() && rule.name.is_none() {
                return Err("a syscalls entry has no names".into());
            }
            if let Some(arg) = rule.args.iter().find(|a| a.index() > 5) {
                return Err(format!(
                    "argument index {} is out of range (0 to 5)",
                    arg.index()
                ));
            }
            for min in rule.includes.min_kernel.iter() {
                parse_kernel(min).ok_or_else(|| format!("invalid minKernel \"{min}\""))?;
            }
        }
        profile.syscalls.retain(|r| {
            r.includes
                .min_kernel
                .as_deref()
                .and_then(parse_kernel)
                .is_none_or(|min| kernel >= min)
        });
        Ok(profile)
    }

    /// The filter for a container whose bounding set is `caps` (names
    /// without `CAP_`, as the spec writes them), with docker's rules: a
    /// rule applies when every `includes` condition holds and no
    /// `excludes` one does.
    pub fn resolve(&self, caps: &[String]) -> Result<LinuxSeccomp, oci_spec::OciSpecError> {
        let has_cap = |c: &String| {
            let bare = c.strip_prefix("CAP_").unwrap_or(c);
            caps.iter().any(|have| {
                have.strip_prefix("CAP_")
                    .unwrap_or(have)
                    .eq_ignore_ascii_case(bare)
            })
        };
        let native = |arches: &Vec<String>| arches.iter().any(|a| NATIVE_ARCHES.contains(&&**a));
        let mut syscalls: Vec<LinuxSyscall> = Vec::new();
        for rule in &self.syscalls {
            let inc = &rule.includes;
            let exc = &rule.excludes;
            let applies = (inc.arches.is_empty() || native(&inc.arches))
                && inc.caps.iter().all(has_cap)
                && !native(&exc.arches)
                && !exc.caps.iter().any(has_cap);
            if !applies {
                continue;
            }
            let names: Vec<String> = rule.names.iter().chain(rule.name.iter()).cloned().collect();
            let mut b = LinuxSyscallBuilder::default()
                .names(names)
                .action(rule.action);
            if let Some(errno) = rule.errno_ret {
                b = b.errno_ret(errno);
            }
            if !rule.args.is_empty() {
                b = b.args(rule.args.clone());
            }
            syscalls.push(b.build()?);
        }
        let mut b = LinuxSeccompBuilder::default()
            .default_action(self.default_action)
            .architectures(vec![Arch::ScmpArchX86_64])
            .syscalls(syscalls);
        if let Some(errno) = self.default_errno_ret {
            b = b.default_errno_ret(errno);
        }
        b.build()
    }
}

fn parse_kernel(s: &str) -> Option<(u32, u32)> {
    let mut parts = s.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts
        .next()
        .map(|m| {
            m.chars()
                .take_while(|c| c.is_ascii_digit())
                .collect::<String>()
        })
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    Some((major, minor))
}

/// The running kernel's (major, minor), from uname(2).
pub fn running_kernel() -> (u32, u32) {
    nix::sys::utsname::uname()
        .ok()
        .and_then(|u| parse_kernel(&u.release().to_string_lossy()))
        .unwrap_or((0, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_profile() -> Profile {
        Profile::parse(DEFAULT_PROFILE.as_bytes(), (6, 1)).unwrap()
    }

    fn rules_for<'a>(s: &'a LinuxSeccomp, name: &str) -> Vec<&'a LinuxSyscall> {
        s.syscalls()
            .iter()
            .flatten()
            .filter(|r| r.names().iter().any(|n| n == name))
            .collect()
    }

    #[test]
    fn default_profile_denies_with_eperm_and_allows_common_calls() {
        let s = default_profile().resolve(&["CHOWN".into()]).unwrap();
        assert_eq!(s.default_action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(s.default_errno_ret(), Some(1));
        assert!(!rules_for(&s, "read").is_empty());
        assert!(rules_for(&s, "unshare").is_empty());
        assert!(rules_for(&s, "mount").is_empty());
    }

    #[test]
    fn namespace_calls_depend_on_cap_sys_admin() {
        let without = default_profile().resolve(&[]).unwrap();
        let clone3 = rules_for(&without, "clone3");
        assert_eq!(clone3.len(), 1);
        assert_eq!(clone3[0].action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(clone3[0].errno_ret(), Some(38));
        let clone = rules_for(&without, "clone");
        assert_eq!(clone.len(), 1, "only the flags-filtered clone (not s390)");
        assert_eq!(clone[0].args().as_ref().unwrap()[0].value(), 2114060288);

        let with = default_profile().resolve(&["SYS_ADMIN".into()]).unwrap();
        assert!(
            rules_for(&with, "unshare")
                .iter()
                .all(|r| r.action() == LinuxSeccompAction::ScmpActAllow)
        );
        assert!(!rules_for(&with, "mount").is_empty());
        assert!(
            rules_for(&with, "clone3")
                .iter()
                .all(|r| r.action() == LinuxSeccompAction::ScmpActAllow)
        );
    }

    #[test]
    fn arch_and_kernel_conditions() {
        let s = default_profile().resolve(&[]).unwrap();
        assert!(!rules_for(&s, "arch_prctl").is_empty());
        assert!(!rules_for(&s, "modify_ldt").is_empty());
        assert!(rules_for(&s, "s390_runtime_instr").is_empty());
        let old = Profile::parse(DEFAULT_PROFILE.as_bytes(), (4, 4)).unwrap();
        let s = old.resolve(&[]).unwrap();
        assert!(rules_for(&s, "ptrace").is_empty());
    }

    #[test]
    fn malformed_profiles_are_refused() {
        assert!(Profile::parse(b"{", (6, 1)).is_err());
        assert!(Profile::parse(br#"{"defaultAction":"SCMP_ACT_NOPE"}"#, (6, 1)).is_err());
        let notify = br#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_NOTIFY"}]}"#;
        assert!(Profile::parse(notify, (6, 1)).is_err());
    }

    #[test]
    fn old_single_name_format() {
        let p = Profile::parse(
            br#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"name":"mkdir","action":"SCMP_ACT_ERRNO"}]}"#,
            (6, 1),
        )
        .unwrap();
        let s = p.resolve(&[]).unwrap();
        assert_eq!(rules_for(&s, "mkdir").len(), 1);
    }
}
