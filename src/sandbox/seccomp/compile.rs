//! `linux.seccomp` → BPF, with the `seccompiler` crate (see DESIGN.md,
//! "seccomp"). seccompiler builds a filter with one action on match and
//! one on mismatch, while a profile gives each rule its own action, so a
//! profile becomes a stack of filters, installed in order:
//!
//! 1. the base filter: every syscall some rule (whatever its action)
//!    matches is allowed by it, everything else gets the default action;
//! 2. one filter per other action A: the rules with action A give A,
//!    everything else is allowed.
//!
//! The kernel runs every filter and keeps the strictest result (on a tie,
//! the most recently installed filter's), so a syscall no rule matches
//! gets the default action, and one matched by rules of action A gets A.

use std::collections::BTreeMap;
use std::str::FromStr;

use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator, LinuxSyscall};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// EPERM: the errno of an `SCMP_ACT_ERRNO` without `errnoRet`, as in runc.
const DEFAULT_ERRNO: u32 = libc::EPERM as u32;

fn action(a: LinuxSeccompAction, errno: Option<u32>) -> SeccompAction {
    match a {
        LinuxSeccompAction::ScmpActAllow => SeccompAction::Allow,
        LinuxSeccompAction::ScmpActErrno => SeccompAction::Errno(errno.unwrap_or(DEFAULT_ERRNO)),
        // libseccomp's SCMP_ACT_KILL is KILL_THREAD.
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            SeccompAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => SeccompAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => SeccompAction::Trap,
        LinuxSeccompAction::ScmpActLog => SeccompAction::Log,
        LinuxSeccompAction::ScmpActTrace => SeccompAction::Trace(errno.unwrap_or(0)),
        // Refused when the profile is parsed; never allow by accident.
        LinuxSeccompAction::ScmpActNotify => SeccompAction::KillProcess,
    }
}

/// One entry's rules: `None` when it matches unconditionally.
fn conditions(entry: &LinuxSyscall) -> Result<Option<SeccompRule>, String> {
    let Some(args) = entry.args().as_ref().filter(|a| !a.is_empty()) else {
        return Ok(None);
    };
    let mut conds = Vec::new();
    for arg in args {
        let op = match arg.op() {
            LinuxSeccompOperator::ScmpCmpNe => SeccompCmpOp::Ne,
            LinuxSeccompOperator::ScmpCmpLt => SeccompCmpOp::Lt,
            LinuxSeccompOperator::ScmpCmpLe => SeccompCmpOp::Le,
            LinuxSeccompOperator::ScmpCmpEq => SeccompCmpOp::Eq,
            LinuxSeccompOperator::ScmpCmpGe => SeccompCmpOp::Ge,
            LinuxSeccompOperator::ScmpCmpGt => SeccompCmpOp::Gt,
            LinuxSeccompOperator::ScmpCmpMaskedEq => SeccompCmpOp::MaskedEq(arg.value()),
        };
        // MASKED_EQ: `value` is the mask and `valueTwo` the expected
        // bits, as in libseccomp.
        let value = match arg.op() {
            LinuxSeccompOperator::ScmpCmpMaskedEq => arg.value_two().unwrap_or(0),
            _ => arg.value(),
        };
        let index = u8::try_from(arg.index()).map_err(|_| "argument index out of range")?;
        // Whole 64-bit registers, as libseccomp compares them.
        conds.push(
            SeccompCondition::new(index, SeccompCmpArgLen::Qword, op, value)
                .map_err(|e| e.to_string())?,
        );
    }
    Ok(Some(SeccompRule::new(conds).map_err(|e| e.to_string())?))
}

type RuleMap = BTreeMap<i64, Vec<SeccompRule>>;

/// Adds `entry`'s names to `map`. A syscall this kernel's table does not
/// know is skipped, as docker skips names libseccomp does not know.
fn add(map: &mut RuleMap, entry: &LinuxSyscall) -> Result<(), String> {
    let rule = conditions(entry)?;
    for name in entry.names() {
        let Ok(nr) = syscalls::Sysno::from_str(name) else {
            continue;
        };
        let nr = nr.id() as i64;
        match (&rule, map.get_mut(&nr)) {
            // Unconditional wins: an empty rule list matches any call.
            (None, _) => {
                map.insert(nr, Vec::new());
            }
            (Some(_), Some(rules)) if rules.is_empty() => {}
            (Some(r), Some(rules)) => rules.push(r.clone()),
            (Some(r), None) => {
                map.insert(nr, vec![r.clone()]);
            }
        }
    }
    Ok(())
}

fn filter(
    rules: RuleMap,
    mismatch: SeccompAction,
    on_match: SeccompAction,
) -> Result<BpfProgram, String> {
    let f = SeccompFilter::new(rules, mismatch, on_match, TargetArch::x86_64)
        .map_err(|e| e.to_string())?;
    BpfProgram::try_from(f).map_err(|e| e.to_string())
}

/// Compiles the spec's filter into the programs to install, in order.
pub fn compile(seccomp: &LinuxSeccomp) -> Result<Vec<BpfProgram>, String> {
    let default = action(seccomp.default_action(), seccomp.default_errno_ret());
    let entries: Vec<&LinuxSyscall> = seccomp.syscalls().iter().flatten().collect();
    let entry_action = |e: &LinuxSyscall| action(e.action(), e.errno_ret());

    let mut programs = Vec::new();
    if default != SeccompAction::Allow {
        let mut base = RuleMap::new();
        for e in entries.iter().filter(|e| entry_action(e) != default) {
            add(&mut base, e)?;
        }
        programs.push(filter(base, default.clone(), SeccompAction::Allow)?);
    }
    let mut others: Vec<SeccompAction> = Vec::new();
    for e in &entries {
        let a = entry_action(e);
        if a != default && a != SeccompAction::Allow && !others.contains(&a) {
            others.push(a);
        }
    }
    for a in others {
        let mut map = RuleMap::new();
        for e in entries.iter().filter(|e| entry_action(e) == a) {
            add(&mut map, e)?;
        }
        programs.push(filter(map, SeccompAction::Allow, a)?);
    }
    if programs.is_empty() {
        // Everything allowed: still a filter, so the process shows it is
        // confined the way the profile says (`Seccomp: 2`).
        programs.push(filter(
            RuleMap::new(),
            SeccompAction::Allow,
            SeccompAction::Log,
        )?);
    }
    Ok(programs)
}

/// The cache file's format: per program, its instruction count (u32 LE)
/// then the instructions (code u16, jt u8, jf u8, k u32; LE).
pub fn encode(programs: &[BpfProgram]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in programs {
        out.extend_from_slice(&(p.len() as u32).to_le_bytes());
        for ins in p {
            out.extend_from_slice(&ins.code.to_le_bytes());
            out.push(ins.jt);
            out.push(ins.jf);
            out.extend_from_slice(&ins.k.to_le_bytes());
        }
    }
    out
}

/// Reads `encode`'s format back; `None` for a damaged file.
pub fn decode(mut bytes: &[u8]) -> Option<Vec<BpfProgram>> {
    let mut programs = Vec::new();
    while !bytes.is_empty() {
        let (len, rest) = bytes.split_first_chunk::<4>()?;
        let len = u32::from_le_bytes(*len) as usize;
        if len == 0 || rest.len() < len * 8 {
            return None;
        }
        let (body, rest) = rest.split_at(len * 8);
        let program = body
            .chunks_exact(8)
            .map(|c| seccompiler::sock_filter {
                code: u16::from_le_bytes([c[0], c[1]]),
                jt: c[2],
                jf: c[3],
                k: u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect();
        programs.push(program);
        bytes = rest;
    }
    (!programs.is_empty()).then_some(programs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::seccomp::profile::{DEFAULT_PROFILE, Profile};

    #[test]
    fn default_profile_compiles_to_base_plus_enosys_filter() {
        let profile = Profile::parse(DEFAULT_PROFILE.as_bytes(), (6, 1)).unwrap();
        let programs = compile(&profile.resolve(&[]).unwrap()).unwrap();
        assert_eq!(programs.len(), 2, "base filter and clone3's ENOSYS");
        let with_admin = compile(&profile.resolve(&["SYS_ADMIN".into()]).unwrap()).unwrap();
        assert_eq!(with_admin.len(), 1);
    }

    /// Runs `probe` in a forked child under `programs` (with
    /// no_new_privs); returns its exit code.
    fn under_filter(programs: &[BpfProgram], probe: fn() -> i32) -> i32 {
        let program = crate::sandbox::seccomp::SeccompProgram(programs.to_vec());
        // SAFETY: the child only makes raw syscalls on memory it already
        // has, then _exits; the parent waits for it.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            // SAFETY: as above.
            unsafe {
                libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
                let code = match crate::sandbox::seccomp::load(&program) {
                    Ok(()) => probe(),
                    Err(_) => 99,
                };
                libc::_exit(code);
            }
        }
        let mut status = 0;
        // SAFETY: waits for our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(libc::WIFEXITED(status), "child died: {status:#x}");
        libc::WEXITSTATUS(status)
    }

    /// errno of a failed raw syscall, 0 on success.
    fn errno_of(rc: libc::c_long) -> i32 {
        if rc < 0 {
            // SAFETY: reads this thread's errno.
            unsafe { *libc::__errno_location() }
        } else {
            0
        }
    }

    #[test]
    fn default_profile_semantics_in_the_kernel() {
        let profile = Profile::parse(DEFAULT_PROFILE.as_bytes(), (6, 1)).unwrap();
        let programs = compile(&profile.resolve(&["CHOWN".into()]).unwrap()).unwrap();
        // SAFETY (every probe below): raw syscalls with integer arguments
        // that the filter refuses or that touch no memory.
        // clone3: ENOSYS, so libc falls back to clone.
        let clone3 = || errno_of(unsafe { libc::syscall(libc::SYS_clone3, 0usize, 0usize) });
        assert_eq!(under_filter(&programs, clone3), libc::ENOSYS);
        // unshare: not in the allow list without CAP_SYS_ADMIN.
        let unshare = || errno_of(unsafe { libc::syscall(libc::SYS_unshare, 0usize) });
        assert_eq!(under_filter(&programs, unshare), libc::EPERM);
        // clone with a namespace flag: the masked-flags rule refuses it.
        let clone_ns = || {
            errno_of(unsafe {
                libc::syscall(
                    libc::SYS_clone,
                    libc::CLONE_NEWUSER as usize | libc::SIGCHLD as usize,
                    0usize,
                )
            })
        };
        assert_eq!(under_filter(&programs, clone_ns), libc::EPERM);
        // personality: only the listed values.
        let query = || errno_of(unsafe { libc::syscall(libc::SYS_personality, 0xffff_ffffusize) });
        assert_eq!(under_filter(&programs, query), 0);
        let bsd = || errno_of(unsafe { libc::syscall(libc::SYS_personality, 0x0006usize) });
        assert_eq!(under_filter(&programs, bsd), libc::EPERM);
        let getpid = || errno_of(unsafe { libc::syscall(libc::SYS_getpid) });
        assert_eq!(under_filter(&programs, getpid), 0);
    }

    #[test]
    fn cache_format_round_trips() {
        let profile = Profile::parse(DEFAULT_PROFILE.as_bytes(), (6, 1)).unwrap();
        let programs = compile(&profile.resolve(&[]).unwrap()).unwrap();
        let decoded = decode(&encode(&programs)).unwrap();
        assert_eq!(decoded.len(), programs.len());
        for (a, b) in decoded.iter().zip(&programs) {
            assert_eq!(
                encode(std::slice::from_ref(a)),
                encode(std::slice::from_ref(b))
            );
        }
        assert!(decode(&encode(&programs)[..10]).is_none());
        assert!(decode(&[]).is_none());
    }
}
