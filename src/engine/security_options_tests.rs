use super::*;

fn request() -> SecurityRequest {
    SecurityRequest::default()
}

#[test]
fn device_specs_as_podman_reads_them() {
    let dev = |t: &str| parse_device(t).unwrap();
    assert_eq!(dev("/dev/fuse").container, "/dev/fuse");
    assert_eq!(dev("/dev/fuse").permissions, "rwm");
    assert_eq!(dev("/dev/fuse:r").permissions, "r");
    assert_eq!(dev("/dev/fuse:r").container, "/dev/fuse");
    let full = dev("/dev/null:/dev/mynull:rw");
    assert_eq!(
        (
            full.host.as_str(),
            full.container.as_str(),
            full.permissions.as_str()
        ),
        ("/dev/null", "/dev/mynull", "rw")
    );
    for bad in [
        "dev/null",
        "/dev/null:rel",
        "/dev/null:/x:rwx",
        "/a:/b:r:w",
        "",
    ] {
        assert!(parse_device(bad).is_err(), "{bad}");
    }
}

#[test]
fn bad_values_are_refused_by_name() {
    let cases: [(SecurityRequest, &str); 6] = [
        (
            SecurityRequest {
                cap_add: vec!["bogus".into()],
                ..request()
            },
            "bogus",
        ),
        (
            SecurityRequest {
                cap_add: vec!["ALL".into()],
                cap_drop: vec!["all".into()],
                ..request()
            },
            "ALL",
        ),
        (
            SecurityRequest {
                cap_add: vec!["chown".into()],
                cap_drop: vec!["CAP_CHOWN".into()],
                ..request()
            },
            "CAP_CHOWN",
        ),
        (
            SecurityRequest {
                read_only_tmpfs: Some(false),
                ..request()
            },
            "--read-only",
        ),
        (
            SecurityRequest {
                security_opt: vec!["mask=relative".into()],
                ..request()
            },
            "relative",
        ),
        (
            SecurityRequest {
                security_opt: vec!["apparmor=x".into()],
                ..request()
            },
            "apparmor=x",
        ),
    ];
    for (req, subject) in cases {
        let err = parse_security(&req).unwrap_err().to_string();
        assert!(err.contains(subject), "{subject}: {err}");
    }
}

#[test]
fn masks_and_unmasks_split_on_colons() {
    let opts = parse_security(&SecurityRequest {
        security_opt: vec!["mask=/a:/b".into(), "unmask=ALL".into()],
        ..request()
    })
    .unwrap();
    assert_eq!(opts.mask, ["/a", "/b"]);
    assert_eq!(opts.unmask, ["ALL"]);
    assert!(opts.read_only_tmpfs);
}

#[test]
fn device_cgroup_rules_as_the_kernel_reads_them() {
    let rule = parse_device_cgroup_rule("c 10:229 rwm").unwrap();
    assert_eq!(rule.kind, LinuxDeviceType::C);
    assert_eq!((rule.major, rule.minor), (Some(10), Some(229)));
    let any = parse_device_cgroup_rule("b *:* r").unwrap();
    assert_eq!((any.major, any.minor), (None, None));
    for bad in ["c 10:229", "x 1:3 r", "c a:b rwm", "c 1:3 rwx", "c 13 r"] {
        assert!(parse_device_cgroup_rule(bad).is_err(), "{bad}");
    }
}

#[test]
fn keep_groups_stands_alone() {
    let keep = parse_security(&SecurityRequest {
        group_add: vec!["keep-groups".into()],
        ..request()
    })
    .unwrap();
    assert!(keep.keep_groups && keep.group_add.is_empty());
    assert!(
        parse_security(&SecurityRequest {
            group_add: vec!["keep-groups".into(), "10".into()],
            ..request()
        })
        .is_err()
    );
}
