//! `network create --opt`: the bridge driver options skiff applies.
//! `mtu` (docker's `com.docker.network.driver.mtu` too) sets the MTU of
//! the bridge, the host veths and the containers' interfaces;
//! `com.docker.network.bridge.name` (podman's `--interface-name`) names
//! the bridge. Anything else is refused: an option that would be stored
//! and ignored is worse than none.

use std::collections::BTreeMap;

use super::EngineError;
use crate::state::NetworkRecord;

/// The key the MTU is stored under, as podman does.
pub const MTU: &str = "mtu";
const DOCKER_MTU: &str = "com.docker.network.driver.mtu";
const DOCKER_BRIDGE_NAME: &str = "com.docker.network.bridge.name";
const SUPPORTED: &str = "mtu, com.docker.network.driver.mtu, com.docker.network.bridge.name";

/// The options as given, checked: the options to store (docker's MTU
/// spelling stored as `mtu`) and the bridge name asked for, if any.
pub fn check_options(
    given: &BTreeMap<String, String>,
) -> Result<(BTreeMap<String, String>, Option<String>), EngineError> {
    let mut stored = BTreeMap::new();
    let mut bridge = None;
    for (key, value) in given {
        match key.as_str() {
            MTU | DOCKER_MTU => {
                let mtu = parse_mtu(value)?;
                if stored.insert(MTU.to_string(), mtu.to_string()).is_some() {
                    return Err(invalid(format!(
                        "network option {key}: the MTU is given twice"
                    )));
                }
            }
            DOCKER_BRIDGE_NAME => bridge = Some(value.clone()),
            _ => {
                return Err(invalid(format!(
                    "unsupported bridge network option {key}: supported are {SUPPORTED}"
                )));
            }
        }
    }
    Ok((stored, bridge))
}

/// The stored network's MTU; None: the kernel's default (1500).
pub fn network_mtu(network: &NetworkRecord) -> Option<u32> {
    network.options.get(MTU).and_then(|v| v.parse().ok())
}

fn parse_mtu(value: &str) -> Result<u32, EngineError> {
    match value.parse::<u32>() {
        Ok(mtu) if (68..=65535).contains(&mtu) => Ok(mtu),
        _ => Err(invalid(format!(
            "invalid network option mtu \"{value}\": expected a number from 68 to 65535"
        ))),
    }
}

/// A bridge name asked for: a valid interface name (at most 15 letters,
/// digits, '_', '.', '-'), not the default network's and not another
/// network's. A host link of that name that is not skiff's is found when
/// the bridge is made (the first container on the network fails).
pub fn check_bridge_name(name: &str, existing: &[NetworkRecord]) -> Result<(), EngineError> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
    if name.is_empty()
        || name.len() > 15
        || !name.chars().all(ok_char)
        || name == "."
        || name == ".."
    {
        return Err(invalid(format!(
            "invalid bridge name \"{name}\": expected at most 15 letters, digits, '_', '.' or '-'"
        )));
    }
    let default = NetworkRecord::default_network();
    if let Some(other) = std::iter::once(&default)
        .chain(existing)
        .find(|n| n.bridge == name)
    {
        return Err(invalid(format!(
            "bridge name {name} already used by network {}",
            other.name
        )));
    }
    Ok(())
}

fn invalid(text: String) -> EngineError {
    EngineError::Invalid(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn mtu_in_both_spellings_is_stored_as_mtu() {
        let (stored, bridge) = check_options(&opts(&[("mtu", "1400")])).unwrap();
        assert_eq!(stored, opts(&[("mtu", "1400")]));
        assert_eq!(bridge, None);
        let (stored, _) = check_options(&opts(&[(DOCKER_MTU, "9000")])).unwrap();
        assert_eq!(stored, opts(&[("mtu", "9000")]));
        assert!(check_options(&opts(&[("mtu", "1400"), (DOCKER_MTU, "1400")])).is_err());
    }

    #[test]
    fn bad_mtus_and_unknown_options_are_refused() {
        for bad in ["67", "65536", "", "abc", "-1", "1400.5"] {
            assert!(check_options(&opts(&[("mtu", bad)])).is_err(), "{bad}");
        }
        assert!(check_options(&opts(&[("mtu", "68")])).is_ok());
        assert!(check_options(&opts(&[("mtu", "65535")])).is_ok());
        let error = check_options(&opts(&[("vlan", "5")]))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("vlan") && error.contains("supported are mtu"),
            "{error}"
        );
    }

    #[test]
    fn bridge_names_are_checked() {
        let (_, bridge) = check_options(&opts(&[(DOCKER_BRIDGE_NAME, "br-x")])).unwrap();
        assert_eq!(bridge.as_deref(), Some("br-x"));
        assert!(check_bridge_name("br-x", &[]).is_ok());
        assert!(check_bridge_name("skiff0", &[]).is_err());
        assert!(check_bridge_name("0123456789abcdef", &[]).is_err());
        assert!(check_bridge_name("br/x", &[]).is_err());
        assert!(check_bridge_name("..", &[]).is_err());
        assert!(check_bridge_name("", &[]).is_err());
    }
}
