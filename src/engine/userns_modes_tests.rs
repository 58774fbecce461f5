use super::*;

fn parse(mode: &str) -> Result<UsernsRequest, EngineError> {
    parse_userns_request(Some(mode), &[], &[])
}

#[test]
fn modes_parse_with_their_options() {
    assert_eq!(parse("host").unwrap(), UsernsRequest::Default);
    // Joins are planned by namespace_joins.
    assert_eq!(parse("container:db").unwrap(), UsernsRequest::Default);
    assert_eq!(
        parse("keep-id:uid=200,gid=300").unwrap(),
        UsernsRequest::KeepId {
            uid: Some(200),
            gid: Some(300)
        }
    );
    assert_eq!(parse("nomap").unwrap(), UsernsRequest::NoMap);
    assert_eq!(
        parse("auto:size=500,uidmapping=0:0:1").unwrap(),
        UsernsRequest::Auto {
            size: Some(500),
            uids: vec![[0, 0, 1]],
            gids: vec![]
        }
    );
    for bad in [
        "keep-id:uid=x",
        "keep-id:foo",
        "auto:size=0",
        "bogus",
        "nomap:x",
        "auto:uidmapping=1:2",
    ] {
        assert!(parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn uidmap_alone_maps_groups_too_and_overlaps_are_refused() {
    let maps = parse_userns_request(None, &["0:1:1000".into()], &[]).unwrap();
    assert_eq!(
        maps,
        UsernsRequest::Maps {
            uids: vec![[0, 1, 1000]],
            gids: vec![[0, 1, 1000]]
        }
    );
    assert!(parse_userns_request(None, &["0:1:10".into(), "5:100:10".into()], &[]).is_err());
    assert!(parse_userns_request(None, &[], &["0:1:10".into()]).is_err());
    assert!(parse_userns_request(Some("auto"), &["0:1:10".into()], &[]).is_err());
    assert!(parse_userns_request(None, &["0:1:0".into()], &[]).is_err());
}

#[test]
fn keep_id_puts_the_caller_at_its_uid() {
    assert_eq!(
        keep_id_ranges(1000, 65536),
        vec![[0, 1, 1000], [1000, 0, 1], [1001, 1001, 64536]]
    );
    // Beyond the range: what there is below, then the caller.
    assert_eq!(
        keep_id_ranges(70000, 65536),
        vec![[0, 1, 65536], [70000, 0, 1]]
    );
    assert_eq!(keep_id_ranges(0, 10), vec![[0, 0, 1], [1, 1, 10]]);
    let caller = IdMappings {
        uids: vec![
            IdMapping {
                container_id: 0,
                host_id: 1000,
                size: 1,
            },
            IdMapping {
                container_id: 1,
                host_id: 100000,
                size: 65536,
            },
        ],
        gids: vec![
            IdMapping {
                container_id: 0,
                host_id: 1000,
                size: 1,
            },
            IdMapping {
                container_id: 1,
                host_id: 100000,
                size: 65536,
            },
        ],
        warning: None,
    };
    let record = UsernsRecord {
        mode: "keep-id".into(),
        uid_map: keep_id_ranges(1000, 65536),
        gid_map: vec![[0, 0, 10]],
    };
    let (uids, gids) = host_mappings(&record, Some(&caller));
    let flat = |m: &[IdMapping]| {
        m.iter()
            .map(|m| [m.container_id, m.host_id, m.size])
            .collect::<Vec<_>>()
    };
    assert_eq!(
        flat(&uids),
        vec![[0, 100000, 1000], [1000, 1000, 1], [1001, 101000, 64536]]
    );
    assert_eq!(flat(&gids), vec![[0, 1000, 1], [1, 100000, 9]]);
}

#[test]
fn auto_ranges_avoid_taken_ones_and_overrides_carve_the_base() {
    assert_eq!(free_range(&[], 10, 1, 101), Some(1));
    assert_eq!(free_range(&[(1, 10)], 10, 1, 101), Some(11));
    assert_eq!(free_range(&[(11, 5), (1, 10)], 10, 1, 101), Some(16));
    assert_eq!(free_range(&[(1, 95)], 10, 1, 101), None);
    // A gap big enough comes first; ranges of another pool are skipped.
    assert_eq!(free_range(&[(30, 5), (1, 10)], 10, 1, 101), Some(11));
    assert_eq!(free_range(&[(5, 5)], 10, 1000, 2000), Some(1000));
    assert_eq!(
        overlay(&[[0, 100, 10]], &[[3, 0, 1]]),
        vec![[0, 100, 3], [4, 104, 6], [3, 0, 1]]
    );
}
