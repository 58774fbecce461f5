//! The device policy's semantics, and the generated program checked
//! against them by a small interpreter of the instructions it emits.

use super::*;

/// Runs `program` on one device context; returns r0.
fn run(program: &[BpfInsn], kind: DeviceKind, major: u32, minor: u32, access: u32) -> u64 {
    let kind = match kind {
        DeviceKind::Block => 1u64,
        DeviceKind::Char => 2,
    };
    let ctx = [
        (u64::from(access) << 16) | kind,
        u64::from(major),
        u64::from(minor),
    ];
    let mut r = [0u64; 11];
    let mut pc = 0usize;
    loop {
        let i = program[pc];
        let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
        pc += 1;
        match i.code {
            LDX_W => {
                assert_eq!(src, 1, "loads come from the context");
                r[dst] = ctx[i.off as usize / 4];
            }
            MOV32_REG => r[dst] = r[src] & 0xffff_ffff,
            AND32_IMM => r[dst] = (r[dst] & 0xffff_ffff) & (i.imm as u32 as u64),
            RSH32_IMM => r[dst] = (r[dst] & 0xffff_ffff) >> i.imm,
            MOV64_IMM => r[dst] = i.imm as i64 as u64,
            JNE_IMM => {
                if r[dst] != i.imm as i64 as u64 {
                    pc += i.off as usize;
                }
            }
            EXIT => return r[0],
            other => panic!("unexpected opcode {other:#x}"),
        }
    }
}

#[test]
fn the_program_agrees_with_the_policy() {
    let mut extra = DevicePolicy::docker_default();
    extra.rules.push(DeviceRule {
        kind: DeviceKind::Block,
        major: Some(8),
        minor: None,
        access: READ,
    });
    // --privileged: everything of both kinds.
    let mut all = DevicePolicy::docker_default();
    for kind in [DeviceKind::Char, DeviceKind::Block] {
        all.rules.push(DeviceRule {
            kind,
            major: None,
            minor: None,
            access: ALL_ACCESS,
        });
    }
    for policy in [DevicePolicy::docker_default(), extra, all] {
        let program = compile_v2(&policy);
        for kind in [DeviceKind::Char, DeviceKind::Block] {
            for (major, minor) in [(1, 3), (1, 5), (1, 11), (5, 2), (136, 7), (8, 0), (10, 200)] {
                for access in 1..=ALL_ACCESS {
                    let allowed = policy.allows(kind, major, minor, access);
                    let verdict = run(&program, kind, major, minor, access);
                    assert_eq!(
                        verdict,
                        u64::from(allowed),
                        "{kind:?} {major}:{minor} access {access}"
                    );
                }
            }
        }
    }
}

#[test]
fn the_default_is_dockers() {
    let policy = DevicePolicy::docker_default();
    assert!(policy.allows(DeviceKind::Char, 1, 3, READ | WRITE));
    assert!(policy.allows(DeviceKind::Char, 136, 4, READ | WRITE));
    assert!(policy.allows(DeviceKind::Char, 1, 11, MKNOD));
    assert!(policy.allows(DeviceKind::Block, 8, 0, MKNOD));
    assert!(!policy.allows(DeviceKind::Char, 1, 11, WRITE), "kmsg");
    assert!(!policy.allows(DeviceKind::Block, 8, 0, READ), "a disk");
    assert!(!policy.allows(DeviceKind::Char, 1, 1, READ | MKNOD), "mem");
}

#[test]
fn v1_denies_all_then_allows_each_rule() {
    let dir = tempfile::tempdir().unwrap();
    for file in ["devices.deny", "devices.allow"] {
        std::fs::write(dir.path().join(file), "").unwrap();
    }
    let policy = DevicePolicy {
        rules: vec![
            DeviceRule::char(136, None),
            DevicePolicy::docker_default().rules[0],
        ],
    };
    apply_v1(dir.path(), &policy).unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("devices.deny")).unwrap(),
        "a"
    );
    // Each rule is one write; a plain file keeps the last.
    assert_eq!(
        std::fs::read_to_string(dir.path().join("devices.allow")).unwrap(),
        "c *:* m"
    );
    assert_eq!(DeviceRule::char(136, None).to_v1(), "c 136:* rwm");
    assert_eq!(DeviceRule::char(1, Some(3)).to_v1(), "c 1:3 rwm");
}
