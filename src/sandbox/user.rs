//! Resolving `--user` / the image's `User` against the image's own
//! `/etc/passwd` and `/etc/group`, the way docker does. Pure: the caller
//! hands in the file contents.

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UserError {
    #[error("unable to find user {user}: no matching entries in passwd file")]
    NoSuchUser { user: String },
    #[error("unable to find group {group}: no matching entries in group file")]
    NoSuchGroup { group: String },
}

/// The identity the container's process runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    /// From passwd; `/` when the user has no entry (docker's choice).
    pub home: String,
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

fn passwd_entries(text: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    text.lines().filter_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 7 {
            return None;
        }
        Some(PasswdEntry {
            name: f[0],
            uid: f[2].parse().ok()?,
            gid: f[3].parse().ok()?,
            home: f[5],
        })
    })
}

/// (name, gid, members)
fn group_entries(text: &str) -> impl Iterator<Item = (&str, u32, Vec<&str>)> {
    text.lines().filter_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 4 {
            return None;
        }
        let members = f[3].split(',').filter(|m| !m.is_empty()).collect();
        Some((f[0], f[2].parse().ok()?, members))
    })
}

/// A `--group-add` value: a GID, or a group name of the image's
/// /etc/group.
pub fn resolve_group(name: &str, group: Option<&str>) -> Result<u32, UserError> {
    if let Ok(gid) = name.parse::<u32>() {
        return Ok(gid);
    }
    group_entries(group.unwrap_or(""))
        .find(|(n, _, _)| *n == name)
        .map(|(_, gid, _)| gid)
        .ok_or_else(|| UserError::NoSuchGroup {
            group: name.to_string(),
        })
}

/// Resolves `spec` (`""`, `name`, `uid`, `name:group`, `uid:gid`, …).
/// An empty spec means root. Numeric IDs need no passwd entry; names do.
pub fn resolve_user(
    spec: &str,
    passwd: Option<&str>,
    group: Option<&str>,
) -> Result<ResolvedUser, UserError> {
    let passwd = passwd.unwrap_or("");
    let group = group.unwrap_or("");
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user_part = if user_part.is_empty() { "0" } else { user_part };

    let entry = match user_part.parse::<u32>() {
        Ok(uid) => passwd_entries(passwd).find(|e| e.uid == uid),
        Err(_) => Some(
            passwd_entries(passwd)
                .find(|e| e.name == user_part)
                .ok_or_else(|| UserError::NoSuchUser {
                    user: user_part.to_string(),
                })?,
        ),
    };
    let uid = match (&entry, user_part.parse::<u32>()) {
        (_, Ok(uid)) => uid,
        (Some(e), Err(_)) => e.uid,
        (None, Err(_)) => unreachable!("a name without an entry returned above"),
    };
    let gid = match group_part {
        Some(g) if !g.is_empty() => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => group_entries(group)
                .find(|(name, _, _)| *name == g)
                .map(|(_, gid, _)| gid)
                .ok_or_else(|| UserError::NoSuchGroup {
                    group: g.to_string(),
                })?,
        },
        _ => entry.as_ref().map(|e| e.gid).unwrap_or(0),
    };
    // Supplementary groups only when the group was not given explicitly,
    // as docker does.
    let additional_gids = match (&entry, group_part) {
        (Some(e), None) => group_entries(group)
            .filter(|(_, g, members)| *g != gid && members.contains(&e.name))
            .map(|(_, g, _)| g)
            .collect(),
        _ => Vec::new(),
    };
    let home = entry
        .as_ref()
        .map(|e| e.home.to_string())
        .unwrap_or_else(|| "/".to_string());
    Ok(ResolvedUser {
        uid,
        gid,
        additional_gids,
        home,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str =
        "root:x:0:0:root:/root:/bin/sh\ntester:x:1000:1000:t:/home/tester:/bin/sh\n";
    const GROUP: &str = "root:x:0:\ntester:x:1000:\nwheel:x:10:tester\n";

    #[test]
    fn empty_is_root_with_root_home() {
        let u = resolve_user("", Some(PASSWD), Some(GROUP)).unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (0, 0, "/root"));
    }

    #[test]
    fn name_gives_uid_gid_home_and_groups() {
        let u = resolve_user("tester", Some(PASSWD), Some(GROUP)).unwrap();
        assert_eq!((u.uid, u.gid), (1000, 1000));
        assert_eq!(u.home, "/home/tester");
        assert_eq!(u.additional_gids, vec![10]);
    }

    #[test]
    fn numeric_ids_need_no_entry() {
        let u = resolve_user("4242:4343", Some(PASSWD), Some(GROUP)).unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (4242, 4343, "/"));
        let u = resolve_user("1000", Some(PASSWD), Some(GROUP)).unwrap();
        assert_eq!((u.uid, u.gid), (1000, 1000), "gid comes from passwd");
    }

    #[test]
    fn group_by_name_and_unknowns_fail() {
        let u = resolve_user("tester:wheel", Some(PASSWD), Some(GROUP)).unwrap();
        assert_eq!((u.uid, u.gid), (1000, 10));
        assert!(u.additional_gids.is_empty());
        assert_eq!(
            resolve_user("ghost", Some(PASSWD), Some(GROUP)),
            Err(UserError::NoSuchUser {
                user: "ghost".into()
            })
        );
        assert!(resolve_user("0:nogroup", Some(PASSWD), Some(GROUP)).is_err());
        assert!(resolve_user("tester", None, None).is_err());
    }
}
