//! Which device nodes a container may use: docker's default policy
//! (deny everything, allow `mknod` of any node, read and write only the
//! standard pseudo-devices and terminals), enforced by the container's
//! cgroup. On v1 through the devices controller's `devices.deny`/
//! `devices.allow`; on v2 through a `BPF_PROG_TYPE_CGROUP_DEVICE` program
//! that this module generates (a dozen instructions per rule, as runc and
//! crun do; no crate, no compiler) and attaches to the cgroup.
//!
//! Only root needs it: rootless, every mount is `nodev` in the user
//! namespace, so the kernel refuses to open any device node that is not
//! one of the host's bind-mounted defaults, and mknod is refused anyway.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

use super::{CgroupError, write_file};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    Char,
    Block,
}

/// `r`, `w`, `m` as the kernel's bits (BPF_DEVCG_ACC_*).
pub const MKNOD: u32 = 1;
pub const READ: u32 = 2;
pub const WRITE: u32 = 4;
const ALL_ACCESS: u32 = MKNOD | READ | WRITE;

/// One allowed class of devices; `None` for `*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceRule {
    pub kind: DeviceKind,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: u32,
}

impl DeviceRule {
    const fn char(major: u32, minor: Option<u32>) -> DeviceRule {
        DeviceRule {
            kind: DeviceKind::Char,
            major: Some(major),
            minor,
            access: ALL_ACCESS,
        }
    }

    /// The line `devices.allow` takes: `c 1:3 rwm`.
    fn to_v1(self) -> String {
        let number = |n: Option<u32>| n.map_or("*".to_string(), |n| n.to_string());
        let mut access = String::new();
        for (bit, letter) in [(READ, 'r'), (WRITE, 'w'), (MKNOD, 'm')] {
            if self.access & bit != 0 {
                access.push(letter);
            }
        }
        let kind = match self.kind {
            DeviceKind::Char => 'c',
            DeviceKind::Block => 'b',
        };
        format!(
            "{kind} {}:{} {access}",
            number(self.major),
            number(self.minor)
        )
    }

    fn matches(&self, kind: DeviceKind, major: u32, minor: u32, access: u32) -> bool {
        self.kind == kind
            && self.major.is_none_or(|m| m == major)
            && self.minor.is_none_or(|m| m == minor)
            && access & !self.access == 0
    }
}

/// What a container may do with device nodes: everything the rules allow,
/// nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicePolicy {
    pub rules: Vec<DeviceRule>,
}

impl DevicePolicy {
    /// docker's and runc's default set, plus /dev/fuse.
    pub fn docker_default() -> DevicePolicy {
        let any = |kind| DeviceRule {
            kind,
            major: None,
            minor: None,
            access: MKNOD,
        };
        DevicePolicy {
            rules: vec![
                any(DeviceKind::Char),
                any(DeviceKind::Block),
                DeviceRule::char(1, Some(3)), // null
                DeviceRule::char(1, Some(5)), // zero
                DeviceRule::char(1, Some(7)), // full
                DeviceRule::char(1, Some(8)), // random
                DeviceRule::char(1, Some(9)), // urandom
                DeviceRule::char(5, Some(0)), // tty
                DeviceRule::char(5, Some(1)), // console
                DeviceRule::char(5, Some(2)), // ptmx
                DeviceRule::char(136, None),  // pts
                // /dev/fuse, beyond docker's set: the fuse-overlayfs rootfs
                // driver runs in the container's cgroup. Harmless without
                // CAP_SYS_ADMIN (no FUSE mount), which the default lacks.
                DeviceRule::char(10, Some(229)),
            ],
        }
    }

    pub fn allows(&self, kind: DeviceKind, major: u32, minor: u32, access: u32) -> bool {
        self.rules
            .iter()
            .any(|r| r.matches(kind, major, minor, access))
    }
}

/// v1: deny everything, then allow each rule (the kernel takes one rule
/// per write).
pub(super) fn apply_v1(dir: &Path, policy: &DevicePolicy) -> Result<(), CgroupError> {
    let write = |file: &str, value: &str| {
        write_file(&dir.join(file), value).map_err(|e| CgroupError::DevicePolicy(e.to_string()))
    };
    write("devices.deny", "a")?;
    for rule in &policy.rules {
        write("devices.allow", &rule.to_v1())?;
    }
    Ok(())
}

/// One eBPF instruction, laid out as the kernel's `struct bpf_insn`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BpfInsn {
    code: u8,
    /// dst register in the low nibble, src in the high one.
    regs: u8,
    off: i16,
    imm: i32,
}

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> BpfInsn {
    BpfInsn {
        code,
        regs: (src << 4) | dst,
        off,
        imm,
    }
}

const LDX_W: u8 = 0x61; // BPF_LDX | BPF_W | BPF_MEM
const MOV32_REG: u8 = 0xbc; // BPF_ALU | BPF_X | BPF_MOV
const AND32_IMM: u8 = 0x54; // BPF_ALU | BPF_K | BPF_AND
const RSH32_IMM: u8 = 0x74; // BPF_ALU | BPF_K | BPF_RSH
const MOV64_IMM: u8 = 0xb7; // BPF_ALU64 | BPF_K | BPF_MOV
const JNE_IMM: u8 = 0x55; // BPF_JMP | BPF_K | BPF_JNE
const EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

/// The device program: r2 = type, r3 = access, r4 = major, r5 = minor,
/// then per rule a block that jumps to the next block on any mismatch and
/// returns 1 (allow) when it reaches its end; 0 (deny) after the last.
pub fn compile_v2(policy: &DevicePolicy) -> Vec<BpfInsn> {
    let mut program = vec![
        insn(LDX_W, 2, 1, 0, 0), // access_type
        insn(MOV32_REG, 3, 2, 0, 0),
        insn(AND32_IMM, 2, 0, 0, 0xffff), // the device type
        insn(RSH32_IMM, 3, 0, 0, 16),     // the access asked for
        insn(LDX_W, 4, 1, 4, 0),          // major
        insn(LDX_W, 5, 1, 8, 0),          // minor
    ];
    for rule in &policy.rules {
        let kind = match rule.kind {
            DeviceKind::Block => 1,
            DeviceKind::Char => 2,
        };
        // Every JNE jumps past the end of this block: patched below.
        let mut code = vec![insn(JNE_IMM, 2, 0, 0, kind)];
        if rule.access != ALL_ACCESS {
            // Allowed only when the access asked for has no bit outside
            // the rule's: r1 = access & !rule must be 0.
            code.push(insn(MOV32_REG, 1, 3, 0, 0));
            code.push(insn(AND32_IMM, 1, 0, 0, (!rule.access & ALL_ACCESS) as i32));
            code.push(insn(JNE_IMM, 1, 0, 0, 0));
        }
        if let Some(major) = rule.major {
            code.push(insn(JNE_IMM, 4, 0, 0, major as i32));
        }
        if let Some(minor) = rule.minor {
            code.push(insn(JNE_IMM, 5, 0, 0, minor as i32));
        }
        code.push(insn(MOV64_IMM, 0, 0, 0, 1));
        code.push(insn(EXIT, 0, 0, 0, 0));
        let len = code.len();
        for (i, instruction) in code.iter_mut().enumerate() {
            if instruction.code == JNE_IMM {
                instruction.off = (len - i - 1) as i16;
            }
        }
        program.extend(code);
    }
    program.push(insn(MOV64_IMM, 0, 0, 0, 0));
    program.push(insn(EXIT, 0, 0, 0, 0));
    program
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// The leading fields of `union bpf_attr` for BPF_PROG_LOAD, zero-padded:
/// the kernel accepts a larger attr whose tail is zero.
#[repr(C)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    padding: [u8; 88],
}

#[repr(C)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    padding: [u8; 112],
}

/// v2: loads the policy's program and attaches it to the cgroup `dir`
/// (an fd of its directory). The attachment lives as long as the cgroup.
pub(super) fn attach_v2(
    dir: BorrowedFd<'_>,
    policy: &DevicePolicy,
    shown: &Path,
) -> Result<(), CgroupError> {
    let program = compile_v2(policy);
    let license = c"Apache-2.0";
    // Without a log first: a verbose log that overflows its buffer fails
    // the load (ENOSPC). Only a refused program is loaded again, for the
    // verifier's reason.
    let load = |log: &mut [u8]| {
        let attr = ProgLoadAttr {
            prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
            insn_cnt: program.len() as u32,
            insns: program.as_ptr() as u64,
            license: license.as_ptr() as u64,
            log_level: u32::from(!log.is_empty()),
            log_size: log.len() as u32,
            // The kernel refuses a buffer without a level, even an empty one.
            log_buf: if log.is_empty() {
                0
            } else {
                log.as_mut_ptr() as u64
            },
            padding: [0; 88],
        };
        bpf(BPF_PROG_LOAD, &attr)
    };
    let fd = load(&mut []).map_err(|error| {
        let mut log = vec![0u8; 1 << 20];
        let _ = load(&mut log);
        let logged = &log[..log.iter().position(|&b| b == 0).unwrap_or(0)];
        let verifier = String::from_utf8_lossy(logged)
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .map(|l| format!(" ({})", l.trim()))
            .unwrap_or_default();
        CgroupError::DevicePolicy(format!(
            "{}: loading its program: {error}{verifier}",
            shown.display()
        ))
    })?;
    // SAFETY: a successful BPF_PROG_LOAD returns a new fd that we own.
    let program_fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let attach = ProgAttachAttr {
        target_fd: dir.as_raw_fd() as u32,
        attach_bpf_fd: program_fd.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        padding: [0; 112],
    };
    bpf(BPF_PROG_ATTACH, &attach).map_err(|e| {
        CgroupError::DevicePolicy(format!("{}: attaching its program: {e}", shown.display()))
    })?;
    Ok(())
}

/// bpf(2) with `attr`: a zero-padded `union bpf_attr` prefix for `cmd`.
fn bpf<T>(cmd: libc::c_long, attr: &T) -> std::io::Result<i64> {
    // SAFETY: the callers pass attr structs laid out as the kernel's for
    // `cmd`, every pointer inside alive and sized as stated for the
    // duration of the call (program, license, log buffer, open fds); the
    // kernel copies what it needs and retains none of them.
    let rc = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *const T, size_of::<T>()) };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

#[cfg(test)]
#[path = "devices_tests.rs"]
mod tests;
