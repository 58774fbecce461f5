use super::*;
use oci_spec::runtime::PosixRlimitType;

fn parse(req: ProcessRequest) -> Result<ProcessSettings, EngineError> {
    parse_process_request(&req, true)
}

#[test]
fn ulimits_parse_like_docker() {
    let u = parse_ulimit("nofile=1024:2048").unwrap();
    assert_eq!(
        (u.typ, u.soft, u.hard),
        (PosixRlimitType::RlimitNofile, 1024, 2048)
    );
    let u = parse_ulimit("nproc=100").unwrap();
    assert_eq!((u.soft, u.hard), (100, 100));
    let u = parse_ulimit("core=-1").unwrap();
    assert_eq!((u.soft, u.hard), (u64::MAX, u64::MAX));
    assert!(parse_ulimit("stack=8192").is_ok());
    for bad in ["nofile", "bogus=1", "nofile=2:1", "nofile=x", "nofile=1:y"] {
        let err = parse_ulimit(bad).unwrap_err().to_string();
        assert!(err.contains(bad), "{err}");
    }
}

#[test]
fn a_later_ulimit_of_the_same_name_wins() {
    let settings = parse(ProcessRequest {
        ulimits: vec!["nofile=10".into(), "nofile=20".into()],
        ..ProcessRequest::default()
    })
    .unwrap();
    assert_eq!(settings.ulimits.len(), 1);
    assert_eq!(settings.ulimits[0].soft, 20);
}

#[test]
fn umask_is_octal() {
    assert_eq!(parse_umask("0022").unwrap(), 0o022);
    assert_eq!(parse_umask("077").unwrap(), 0o077);
    for bad in ["", "8", "01000", "abc", "00777"] {
        assert!(parse_umask(bad).is_err(), "{bad}");
    }
}

#[test]
fn only_namespaced_sysctls_are_allowed() {
    assert!(parse_sysctl("kernel.shmmax=1", true, false).is_ok());
    assert!(parse_sysctl("fs.mqueue.msg_max=5", true, false).is_ok());
    assert!(parse_sysctl("net.ipv4.ip_forward=1", true, false).is_ok());
    assert_eq!(
        parse_sysctl("net/ipv4/ip_forward=1", true, false)
            .unwrap()
            .0,
        "net.ipv4.ip_forward"
    );
    let err = |text, net, ipc| parse_sysctl(text, net, ipc).unwrap_err().to_string();
    assert!(err("kernel.hostname=x", true, false).contains("not whitelisted"));
    assert!(err("vm.swappiness=1", true, false).contains("not whitelisted"));
    assert!(err("net.ipv4.ip_forward=1", false, false).contains("network namespace"));
    assert!(err("kernel.shmmax=1", true, true).contains("IPC namespace"));
    assert!(err("=1", true, false).contains("KEY=VALUE"));
    assert!(err("net..x=1", true, false).contains("bad key"));
}

#[test]
fn namespace_modes() {
    let settings = parse(ProcessRequest {
        pid: Some("host".into()),
        ipc: Some("shareable".into()),
        uts: Some("host".into()),
        cgroupns: Some("private".into()),
        ..ProcessRequest::default()
    })
    .unwrap();
    assert_eq!(
        settings.host_namespaces,
        HostNamespaces {
            pid: true,
            ipc: false,
            uts: true,
            cgroup: false
        }
    );
    for (req, subject) in [
        (
            ProcessRequest {
                pid: Some("shareable".into()),
                ..ProcessRequest::default()
            },
            "--pid",
        ),
        (
            ProcessRequest {
                ipc: Some("container:".into()),
                ..ProcessRequest::default()
            },
            "no container named",
        ),
        (
            ProcessRequest {
                cgroupns: Some("container:db".into()),
                ..ProcessRequest::default()
            },
            "--cgroupns",
        ),
        (
            ProcessRequest {
                ipc: Some("host".into()),
                shm_size: Some("1m".into()),
                ..ProcessRequest::default()
            },
            "--shm-size",
        ),
    ] {
        let err = parse(req).unwrap_err().to_string();
        assert!(err.contains(subject), "{err}");
    }
}

#[test]
fn userns_host_or_container() {
    let mut joins = Vec::new();
    assert!(parse_userns(&Some("host".into()), &mut joins).unwrap());
    assert!(!parse_userns(&None, &mut joins).unwrap());
    assert!(!parse_userns(&Some("container:db".into()), &mut joins).unwrap());
    assert_eq!(joins, [(JoinKind::User, "db".to_string())]);
    // The other modes are userns_modes' to check.
    assert!(!parse_userns(&Some("keep-id".into()), &mut joins).unwrap());
    assert_eq!(joins.len(), 1);
}

#[test]
fn container_modes_become_joins_and_ipc_none_has_no_shm() {
    let settings = parse(ProcessRequest {
        pid: Some("container:db".into()),
        ipc: Some("none".into()),
        uts: Some("container:web".into()),
        ..ProcessRequest::default()
    })
    .unwrap();
    assert_eq!(
        settings.joins,
        [
            (JoinKind::Pid, "db".to_string()),
            (JoinKind::Uts, "web".to_string())
        ]
    );
    assert!(settings.ipc_none);
    assert_eq!(settings.host_namespaces, HostNamespaces::default());
}

#[test]
fn time_zones_must_be_plain_names_of_existing_files() {
    for bad in ["", "../etc/passwd", "/etc/passwd", "Nowhere/Atlantis"] {
        assert!(zone_file(bad).is_err(), "{bad}");
    }
}

#[test]
fn shm_size_becomes_the_tmpfs_size() {
    let settings = parse(ProcessRequest {
        shm_size: Some("256m".into()),
        ..ProcessRequest::default()
    })
    .unwrap();
    assert_eq!(settings.shm_size_option(), "size=262144k");
    assert_eq!(ProcessSettings::default().shm_size_option(), "size=65536k");
    assert!(parse_shm_size("0").is_err());
    assert!(parse_shm_size("lots").is_err());
}
