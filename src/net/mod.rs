//! Networking: the modes a container can run in and the name-resolution
//! files it sees. Until private networks land, the choices are `none` (a
//! network namespace with only loopback), `host` (the host's stack) and
//! `container:ID` (another container's network namespace).

use std::fmt;
use std::str::FromStr;

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error(
        "network mode \"{mode}\" is not supported yet: use --network none, host or container:NAME"
    )]
    Unsupported { mode: String },
}

/// How a container is attached to the network.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum NetworkMode {
    /// Its own network namespace with only `lo`, brought up. The default
    /// until private networking with outbound access lands (see README).
    #[default]
    None,
    /// Shares the host's network namespace.
    Host,
    /// Enters the network namespace of another container: named as the
    /// user gave it until create resolves it, its ID in the record (so a
    /// rename does not break it).
    Container(String),
}

impl NetworkMode {
    /// Whether the container gets its own network namespace.
    pub fn is_private(&self) -> bool {
        *self == NetworkMode::None
    }

    /// The other container whose network namespace this one enters.
    pub fn container(&self) -> Option<&str> {
        match self {
            NetworkMode::Container(name) => Some(name),
            _ => None,
        }
    }
}

impl FromStr for NetworkMode {
    type Err = NetError;
    fn from_str(s: &str) -> Result<Self, NetError> {
        match s {
            "none" => Ok(NetworkMode::None),
            "host" => Ok(NetworkMode::Host),
            other if other.starts_with("container:") && other.len() > "container:".len() => Ok(
                NetworkMode::Container(other["container:".len()..].to_string()),
            ),
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
        match self {
            NetworkMode::None => f.write_str("none"),
            NetworkMode::Host => f.write_str("host"),
            NetworkMode::Container(id) => write!(f, "container:{id}"),
        }
    }
}

/// `/etc/hosts` for a container: loopback names plus its own hostname.
/// With the host network the host's own file is used as the base, as docker
/// does, so host names keep resolving.
pub fn hosts_file(mode: &NetworkMode, hostname: &str, host_hosts: Option<&str>) -> String {
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
pub fn resolv_conf(mode: &NetworkMode, host_resolv: &str) -> String {
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
        assert_eq!(
            "container:db".parse::<NetworkMode>().unwrap(),
            NetworkMode::Container("db".into())
        );
        assert!("container:".parse::<NetworkMode>().is_err());
        let err = "bridge".parse::<NetworkMode>().unwrap_err();
        assert!(err.to_string().contains("\"bridge\" is not supported"));
    }

    #[test]
    fn stored_modes_round_trip_and_unknown_ones_are_errors() {
        for (mode, text) in [
            (NetworkMode::Host, "\"host\""),
            (
                NetworkMode::Container("0123ab".into()),
                "\"container:0123ab\"",
            ),
        ] {
            let json = serde_json::to_string(&mode).unwrap();
            assert_eq!(json, text);
            assert_eq!(serde_json::from_str::<NetworkMode>(&json).unwrap(), mode);
        }
        let err = serde_json::from_str::<NetworkMode>("\"bogus\"").unwrap_err();
        assert!(err.to_string().contains("\"bogus\""), "{err}");
    }

    #[test]
    fn hosts_names_the_container() {
        let text = hosts_file(&NetworkMode::None, "box", Some("10.0.0.1 secret\n"));
        assert!(text.contains("127.0.0.1\tlocalhost"));
        assert!(text.contains("127.0.1.1\tbox"));
        assert!(
            !text.contains("secret"),
            "private mode must not copy host entries"
        );
        let host = hosts_file(&NetworkMode::Host, "box", Some("10.0.0.1 myhost"));
        assert!(host.contains("10.0.0.1 myhost\n") && host.contains("\tbox\n"));
    }

    #[test]
    fn private_mode_drops_loopback_nameservers() {
        let host = "search lan\nnameserver 127.0.0.53\nnameserver 9.9.9.9\n";
        let private = resolv_conf(&NetworkMode::None, host);
        assert_eq!(private, "search lan\nnameserver 9.9.9.9\n");
        assert_eq!(resolv_conf(&NetworkMode::Host, host), host);
    }
}
