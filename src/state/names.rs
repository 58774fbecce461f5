//! The name index: `containers/names/<name>` is a symlink to the ID.
//! `symlink(2)` fails if the name exists, so exactly one process wins a
//! name, with no lock. Unnamed containers get a generated `adjective_noun`.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::StateError;

const ADJECTIVES: &[&str] = &[
    "amber", "brave", "brisk", "calm", "clever", "cosy", "crisp", "daring", "eager", "fair",
    "fancy", "gentle", "glad", "golden", "happy", "hardy", "humble", "jolly", "keen", "kind",
    "lively", "lucid", "merry", "mighty", "modest", "nimble", "noble", "patient", "plucky",
    "polite", "proud", "quick", "quiet", "rapid", "ready", "sharp", "shiny", "silent", "sleepy",
    "smart", "snug", "steady", "stoic", "sunny", "swift", "tender", "tidy", "trusty", "vivid",
    "wise", "witty", "zealous",
];

const NOUNS: &[&str] = &[
    "albatross",
    "anchor",
    "barge",
    "beacon",
    "buoy",
    "canoe",
    "cutter",
    "dinghy",
    "dolphin",
    "ferry",
    "frigate",
    "galleon",
    "gull",
    "harbor",
    "heron",
    "jetty",
    "kayak",
    "keel",
    "ketch",
    "lagoon",
    "lighthouse",
    "mast",
    "narwhal",
    "oar",
    "otter",
    "pelican",
    "pier",
    "puffin",
    "raft",
    "reef",
    "rudder",
    "sail",
    "schooner",
    "seal",
    "shoal",
    "skipper",
    "sloop",
    "sonar",
    "starfish",
    "tern",
    "tide",
    "trawler",
    "tugboat",
    "walrus",
    "wharf",
    "yacht",
    "yawl",
];

pub(super) fn names_dir(containers_root: &Path) -> PathBuf {
    containers_root.join("names")
}

pub fn validate_name(name: &str) -> Result<(), StateError> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if first_ok && rest_ok {
        Ok(())
    } else {
        Err(StateError::InvalidName {
            name: name.to_string(),
        })
    }
}

/// Takes `name` for `id`, or fails naming the container that holds it.
pub fn reserve_name(containers_root: &Path, name: &str, id: &str) -> Result<(), StateError> {
    validate_name(name)?;
    let dir = names_dir(containers_root);
    fs::create_dir_all(&dir).map_err(|source| StateError::Io {
        path: dir.clone(),
        source,
    })?;
    let link = dir.join(name);
    match std::os::unix::fs::symlink(id, &link) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == ErrorKind::AlreadyExists => {
            let holder = fs::read_link(&link)
                .map(|t| t.to_string_lossy().into_owned())
                .unwrap_or_default();
            Err(StateError::NameInUse {
                name: name.to_string(),
                id: holder,
            })
        }
        Err(source) => Err(StateError::Io { path: link, source }),
    }
}

/// Takes a free generated name for `id`.
pub fn reserve_generated_name(containers_root: &Path, id: &str) -> Result<String, StateError> {
    let mut seed = u64::from_str_radix(&id[..16.min(id.len())], 16).unwrap_or(0);
    for attempt in 0.. {
        let adjective = ADJECTIVES[(seed % ADJECTIVES.len() as u64) as usize];
        let noun = NOUNS[((seed / 64) % NOUNS.len() as u64) as usize];
        // After a few collisions, add digits as docker does.
        let name = if attempt < 8 {
            format!("{adjective}_{noun}")
        } else {
            format!("{adjective}_{noun}{}", seed % 1000)
        };
        match reserve_name(containers_root, &name, id) {
            Ok(()) => return Ok(name),
            Err(StateError::NameInUse { .. }) => {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
            }
            Err(e) => return Err(e),
        }
    }
    unreachable!("the loop only ends by returning")
}

/// Releases `name` if it still points at `id`.
pub fn release_name(containers_root: &Path, name: &str, id: &str) {
    let link = names_dir(containers_root).join(name);
    if fs::read_link(&link).is_ok_and(|target| target.as_os_str() == id) {
        let _ = fs::remove_file(link);
    }
}

/// The ID a name points at, if the name is taken.
pub fn id_of_name(containers_root: &Path, name: &str) -> Option<String> {
    if validate_name(name).is_err() {
        return None;
    }
    fs::read_link(names_dir(containers_root).join(name))
        .ok()
        .map(|t| t.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_can_be_taken_once_and_again_after_release() {
        let tmp = tempfile::tempdir().unwrap();
        reserve_name(tmp.path(), "web", "aaa").unwrap();
        let err = reserve_name(tmp.path(), "web", "bbb").unwrap_err();
        assert!(err.to_string().contains("already in use by aaa"), "{err}");
        release_name(tmp.path(), "web", "bbb");
        assert_eq!(id_of_name(tmp.path(), "web").as_deref(), Some("aaa"));
        release_name(tmp.path(), "web", "aaa");
        reserve_name(tmp.path(), "web", "ccc").unwrap();
    }

    #[test]
    fn invalid_names_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        for bad in ["", "-x", "a/b", "a b", ".."] {
            assert!(reserve_name(tmp.path(), bad, "x").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn generated_names_are_distinct_even_for_equal_seeds() {
        let tmp = tempfile::tempdir().unwrap();
        let id = "0".repeat(64);
        let names: std::collections::HashSet<String> = (0..20)
            .map(|_| reserve_generated_name(tmp.path(), &id).unwrap())
            .collect();
        assert_eq!(names.len(), 20);
        assert!(names.iter().all(|n| validate_name(n).is_ok()));
    }
}
