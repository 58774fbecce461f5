//! `--cap-add`, `--cap-drop`, `--privileged`: the five capability sets a
//! container's process has, read from /proc/self/status inside it and
//! compared with masks computed here from the capability numbers.

mod common;

use std::collections::BTreeMap;

use common::*;

// capability(7) numbers.
const CHOWN: u32 = 0;
const DAC_OVERRIDE: u32 = 1;
const FOWNER: u32 = 3;
const FSETID: u32 = 4;
const KILL: u32 = 5;
const SETGID: u32 = 6;
const SETUID: u32 = 7;
const SETPCAP: u32 = 8;
const NET_BIND_SERVICE: u32 = 10;
const NET_RAW: u32 = 13;
const SYS_CHROOT: u32 = 18;
const SYS_ADMIN: u32 = 21;
const MKNOD: u32 = 27;
const AUDIT_WRITE: u32 = 29;
const SETFCAP: u32 = 31;

const DOCKER_DEFAULT: [u32; 14] = [
    CHOWN,
    DAC_OVERRIDE,
    FOWNER,
    FSETID,
    KILL,
    SETGID,
    SETUID,
    SETPCAP,
    NET_BIND_SERVICE,
    NET_RAW,
    SYS_CHROOT,
    MKNOD,
    AUDIT_WRITE,
    SETFCAP,
];

fn mask(caps: &[u32]) -> u64 {
    caps.iter().fold(0, |m, c| m | (1u64 << c))
}

/// CapInh, CapPrm, CapEff, CapBnd, CapAmb of a status file.
fn cap_sets(status: &str) -> BTreeMap<String, u64> {
    status
        .lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.starts_with("Cap"))
        .map(|(k, v)| (k.to_string(), u64::from_str_radix(v.trim(), 16).unwrap()))
        .collect()
}

fn expected(bnd: u64, eff: u64, inh_amb: u64) -> BTreeMap<String, u64> {
    [
        ("CapBnd", bnd),
        ("CapEff", eff),
        ("CapPrm", eff),
        ("CapInh", inh_amb),
        ("CapAmb", inh_amb),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn sets_in(ctx: &Ctx, flags: &[&str]) -> BTreeMap<String, u64> {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["busybox", "cat", "/proc/self/status"]);
    cap_sets(&ctx.run_ok(&args))
}

#[test]
fn root_gets_dockers_default_set_with_adds_and_drops() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let default = mask(&DOCKER_DEFAULT);
        assert_eq!(
            sets_in(ctx, &[]),
            expected(default, default, 0),
            "{}",
            ctx.user
        );
        assert_eq!(
            sets_in(ctx, &["--cap-drop", "ALL"]),
            expected(0, 0, 0),
            "{}",
            ctx.user
        );
        let only = mask(&[NET_BIND_SERVICE]);
        assert_eq!(
            sets_in(ctx, &["--cap-drop", "all", "--cap-add", "NET_BIND_SERVICE"]),
            expected(only, only, 0),
            "{}",
            ctx.user
        );
        let with_admin = default | mask(&[SYS_ADMIN]);
        assert_eq!(
            sets_in(ctx, &["--cap-add", "cap_sys_admin"]),
            expected(with_admin, with_admin, 0),
            "{}",
            ctx.user
        );
        let less = default & !mask(&[CHOWN, KILL]);
        assert_eq!(
            sets_in(ctx, &["--cap-drop", "CAP_CHOWN,kill"]),
            expected(less, less, 0),
            "{}",
            ctx.user
        );
    });
}

#[test]
fn a_non_root_user_gets_only_what_cap_add_names() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let default = mask(&DOCKER_DEFAULT);
        assert_eq!(
            sets_in(ctx, &["-u", "1000"]),
            expected(default, 0, 0),
            "{}",
            ctx.user
        );
        let nbs = mask(&[NET_BIND_SERVICE]);
        assert_eq!(
            sets_in(ctx, &["-u", "1000", "--cap-add", "NET_BIND_SERVICE"]),
            expected(default, nbs, nbs),
            "{}",
            ctx.user
        );
    });
}

/// The bounding set of this test process: what skiff (started from it)
/// has to give.
fn own_bounding_set() -> u64 {
    cap_sets(&std::fs::read_to_string("/proc/self/status").unwrap())["CapBnd"]
}

#[test]
fn privileged_gets_every_capability_skiff_has() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let all = own_bounding_set();
        assert_eq!(
            sets_in(ctx, &["--privileged"]),
            expected(all, all, 0),
            "{}",
            ctx.user
        );
        assert_eq!(
            sets_in(ctx, &["--cap-add", "ALL"]),
            expected(all, all, 0),
            "{}",
            ctx.user
        );
    });
}

#[test]
fn exec_has_the_containers_sets() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let id = ctx.run_detached(&[
            "--cap-drop",
            "ALL",
            "--cap-add",
            "NET_BIND_SERVICE",
            "busybox",
            "sleep",
            "60",
        ]);
        let sets = cap_sets(&ctx.run_ok(&["exec", &id, "cat", "/proc/self/status"]));
        let only = mask(&[NET_BIND_SERVICE]);
        assert_eq!(sets, expected(only, only, 0), "{}", ctx.user);
        assert_eq!(
            ctx.inspect_format(&id, "{{.HostConfig.CapAdd}} {{.HostConfig.CapDrop}}"),
            "[CAP_NET_BIND_SERVICE] [ALL]"
        );
        ctx.run_ok(&["rm", "-f", &id]);
    });
}

#[test]
fn unknown_capabilities_are_refused_before_anything_is_created() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        for flags in [
            &["--cap-add", "CAP_BOGUS"][..],
            &["--cap-drop", "nope"][..],
            &["--cap-add", "chown", "--cap-drop", "CHOWN"][..],
        ] {
            let mut args = vec!["run", "--rm"];
            args.extend_from_slice(flags);
            args.extend_from_slice(&["busybox", "true"]);
            let out = ctx.run_status(&args);
            let what = format!("{}: {flags:?}", ctx.user);
            assert_exit_code(&out, 125, &what);
            assert_one_error_mentioning(&out, &flags[1].to_uppercase().replace("CAP_", ""), &what);
        }
        assert_eq!(ctx.run_ok(&["ps", "-a", "-q"]), "");
    });
}
