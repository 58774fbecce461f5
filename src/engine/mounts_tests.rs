use super::*;

fn volume_name(mount: &MountSpec) -> (&str, bool) {
    match &mount.kind {
        MountKind::Volume {
            name, anonymous, ..
        } => (name.as_str(), *anonymous),
        other => panic!("not a volume: {other:?}"),
    }
}

#[test]
fn volume_flags_name_binds_volumes_and_anonymous_ones() {
    let bind = parse_volume_flag("/srv/data:/data:ro,Z").unwrap();
    assert_eq!(
        bind.kind,
        MountKind::Bind {
            source: "/srv/data".into()
        }
    );
    assert!(bind.read_only);
    assert_eq!(bind.mode, "ro,Z");

    let named = parse_volume_flag("mydata:/var/lib/mysql").unwrap();
    assert_eq!(volume_name(&named), ("mydata", false));
    assert!(named.copy_up && !named.read_only);

    let anonymous = parse_volume_flag("/data").unwrap();
    let (name, is_anonymous) = volume_name(&anonymous);
    assert!(is_anonymous && name.len() == 64);
    assert_eq!(anonymous.destination, "/data");

    assert!(parse_volume_flag("/srv:/srv:O").unwrap().overlay);

    let options = parse_volume_flag("v1:/x:nocopy,U,rprivate").unwrap();
    assert!(!options.copy_up && options.chown);
    assert_eq!(options.propagation.as_deref(), Some("rprivate"));
}

#[test]
fn bad_volume_flags_name_the_problem() {
    for (bad, why) in [
        (
            "rel/path:/x",
            "neither an absolute host path nor a volume name",
        ),
        ("v1:rel", "must be an absolute path"),
        ("v1:/x:bogus", "unknown option \"bogus\""),
        ("v1:/x:O", "needs a host directory"),
        ("/a:/x:O,ro", ":O and ro"),
        ("/a:/x:rshared", "not supported"),
        ("a:b:c:d", "expected [SOURCE:]DESTINATION"),
        (":/x", "empty source"),
        ("v1:/a/../b", "\"..\""),
    ] {
        let err = parse_volume_flag(bad).unwrap_err().to_string();
        assert!(err.contains(bad) && err.contains(why), "{bad}: {err}");
    }
}

#[test]
fn mount_flags_follow_docker_keys() {
    let named = parse_mount_flag("source=mydata,target=/data").unwrap();
    assert_eq!(
        volume_name(&named),
        ("mydata", false),
        "no type= is a volume"
    );

    let opts =
        parse_mount_flag("type=volume,src=v2,dst=/d,readonly,volume-nocopy,volume-opt=type=tmpfs")
            .unwrap();
    assert!(opts.read_only && !opts.copy_up);
    match &opts.kind {
        MountKind::Volume { driver_options, .. } => {
            assert_eq!(
                driver_options.get("type").map(String::as_str),
                Some("tmpfs")
            )
        }
        other => panic!("{other:?}"),
    }

    let tmp = std::env::temp_dir();
    let bind = parse_mount_flag(&format!(
        "type=bind,source={},target=/c,readonly=false,bind-propagation=rprivate",
        tmp.display()
    ))
    .unwrap();
    assert_eq!(bind.kind, MountKind::Bind { source: tmp });
    assert!(!bind.read_only);

    let tmpfs =
        parse_mount_flag("type=tmpfs,target=/scratch,tmpfs-size=64m,tmpfs-mode=1777").unwrap();
    assert_eq!(
        tmpfs.kind,
        MountKind::Tmpfs {
            options: vec!["size=67108864".into(), "mode=1777".into()]
        }
    );

    let anonymous = parse_mount_flag("type=volume,target=/anon").unwrap();
    assert!(volume_name(&anonymous).1);
}

#[test]
fn bad_mount_flags_name_the_problem() {
    for (bad, why) in [
        (
            "type=bind,source=rel,target=/c",
            "must be an absolute host path",
        ),
        (
            "type=bind,source=/no/such/dir/here,target=/c",
            "does not exist",
        ),
        (
            "type=volume,source=v,target=rel",
            "must be an absolute path",
        ),
        ("type=volume,source=v", "target is required"),
        (
            "type=volume,source=v,target=/d,colour=red",
            "unknown key \"colour\"",
        ),
        ("type=nfs,target=/d", "unknown type \"nfs\""),
        ("type=tmpfs,source=x,target=/d", "takes no source"),
        ("type=tmpfs,target=/d,tmpfs-mode=999", "not an octal mode"),
        ("type=tmpfs,target=/d,tmpfs-size=lots", "not a size"),
        (
            "type=volume,target=/d,bind-propagation=rprivate",
            "only applies to type=bind",
        ),
        (
            "type=bind,source=/,target=/d,volume-nocopy",
            "only applies to type=volume",
        ),
        ("type=volume,target=/d,readonly=maybe", "not a boolean"),
    ] {
        let err = parse_mount_flag(bad).unwrap_err().to_string();
        assert!(err.contains(bad) && err.contains(why), "{bad}: {err}");
    }
}

#[test]
fn tmpfs_flags_keep_their_options() {
    let tmpfs = parse_tmpfs_flag("/scratch:size=1m,mode=1777").unwrap();
    assert_eq!(
        tmpfs.kind,
        MountKind::Tmpfs {
            options: vec!["size=1m".into(), "mode=1777".into()]
        }
    );
    assert!(parse_tmpfs_flag("scratch").is_err());
}

#[test]
fn two_mounts_on_one_destination_are_refused() {
    let mounts = [
        parse_volume_flag("a1:/data").unwrap(),
        parse_tmpfs_flag("/data/").unwrap(),
    ];
    let err = check_distinct_destinations(&mounts)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("duplicate mount destination \"/data/\""),
        "{err}"
    );
    assert!(check_distinct_destinations(&mounts[..1]).is_ok());
}
