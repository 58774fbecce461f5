//! Networking: the modes a container can run in and the name-resolution
//! files it sees. Until private networks land, the choices are `none` (a
//! network namespace with only loopback) and `host` (the host's stack).

pub mod bridge;

use std::fmt;
use std::str::FromStr;

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("network mode \"{mode}\" is not supported yet: use --network none or --network host")]
    Unsupported { mode: String },
}

/// How a container is attached to the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NetworkMode {
    /// Its own network namespace with only `lo`, brought up. The default
    /// until private networking with outbound access lands (see README).
    #[default]
    None,
    /// Shares the host's network namespace.
    Host,
}

impl NetworkMode {
    /// Whether the container gets its own network namespace.
    pub fn is_private(self) -> bool {
        self == NetworkMode::None
    }
}

impl FromStr for NetworkMode {
    type Err = NetError;
    fn from_str(s: &str) -> Result<Self, NetError> {
        match s {
            "none" => Ok(NetworkMode::None),
            "host" => Ok(NetworkMode::Host),
            other => Err(NetError::Unsupported {
                mode: other.to_string(),
            }),
        }
    }
}

// Stored in container records by name; a name this skiff does not know
// is an error when the record is read, never a silent default.
impl serde::Serialize for NetworkMode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for NetworkMode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for NetworkMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NetworkMode::None => "none",
            NetworkMode::Host => "host",
        })
    }
}

/// `/etc/hosts` for a container: loopback names plus its own hostname.
/// With the host network the host's own file is used as the base, as docker
/// does, so host names keep resolving.
pub fn hosts_file(mode: NetworkMode, hostname: &str, host_hosts: Option<&str>) -> String {
    let mut text = String::new();
    match (mode, host_hosts) {
        (NetworkMode::Host, Some(host)) => {
            text.push_str(host);
            if !text.ends_with('\n') {
                text.push('\n');
            }
        }
        _ => {
            text.push_str("127.0.0.1\tlocalhost localhost.localdomain\n");
            text.push_str("::1\tlocalhost localhost.localdomain ip6-localhost ip6-loopback\n");
        }
    }
    text.push_str(&format!("127.0.1.1\t{hostname}\n"));
    text
}

/// `/etc/resolv.conf` for a container: the host's, minus loopback
/// nameservers when the container has its own network namespace (they would
/// point at the container's own loopback, where nothing listens).
pub fn resolv_conf(mode: NetworkMode, host_resolv: &str) -> String {
    let mut out = String::new();
    for line in host_resolv.lines() {
        let is_loopback_ns = line
            .trim_start()
            .strip_prefix("nameserver")
            .map(|rest| {
                let addr = rest.trim();
                addr.starts_with("127.") || addr == "::1"
            })
            .unwrap_or(false);
        if mode.is_private() && is_loopback_ns {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_unknown_is_refused() {
        assert_eq!("none".parse::<NetworkMode>().unwrap(), NetworkMode::None);
        assert_eq!("host".parse::<NetworkMode>().unwrap(), NetworkMode::Host);
        let err = "bridge".parse::<NetworkMode>().unwrap_err();
        assert!(err.to_string().contains("\"bridge\" is not supported"));
    }

    #[test]
    fn stored_modes_round_trip_and_unknown_ones_are_errors() {
        let json = serde_json::to_string(&NetworkMode::Host).unwrap();
        assert_eq!(json, "\"host\"");
        assert_eq!(
            serde_json::from_str::<NetworkMode>(&json).unwrap(),
            NetworkMode::Host
        );
        let err = serde_json::from_str::<NetworkMode>("\"bogus\"").unwrap_err();
        assert!(err.to_string().contains("\"bogus\""), "{err}");
    }

    #[test]
    fn hosts_names_the_container() {
        let text = hosts_file(NetworkMode::None, "box", Some("10.0.0.1 secret\n"));
        assert!(text.contains("127.0.0.1\tlocalhost"));
        assert!(text.contains("127.0.1.1\tbox"));
        assert!(
            !text.contains("secret"),
            "private mode must not copy host entries"
        );
        let host = hosts_file(NetworkMode::Host, "box", Some("10.0.0.1 myhost"));
        assert!(host.contains("10.0.0.1 myhost\n") && host.contains("\tbox\n"));
    }

    #[test]
    fn private_mode_drops_loopback_nameservers() {
        let host = "search lan\nnameserver 127.0.0.53\nnameserver 9.9.9.9\n";
        let private = resolv_conf(NetworkMode::None, host);
        assert_eq!(private, "search lan\nnameserver 9.9.9.9\n");
        assert_eq!(resolv_conf(NetworkMode::Host, host), host);
    }
}
