//! Networking: the modes a container can run in, its published ports,
//! the networks it is on and the name-resolution files it sees.

pub mod config;
pub mod host_routes;
pub mod hosts;
pub mod pasta;
pub mod pasta_detached;
pub mod ports;
pub mod routes;
pub mod subnet;

pub mod bridge;

use std::fmt;
use std::str::FromStr;

pub use config::{Attachment, DEFAULT_NETWORK, NetworkConfig, NetworkRequestEntry};
pub use ports::{PortMapping, Protocol};

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error(
        "network mode \"{mode}\" is not supported: use --network none, host, bridge, pasta, NETWORK, container:NAME or ns:PATH"
    )]
    Unsupported { mode: String },
    #[error("invalid port \"{spec}\": {why}")]
    InvalidPort { spec: String, why: String },
    #[error("rootless networking needs pasta (Debian package passt): {0}")]
    Pasta(String),
}

/// How a container is attached to the network.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum NetworkMode {
    /// Its own network namespace with only `lo`, brought up.
    #[default]
    None,
    /// Shares the host's network namespace.
    Host,
    /// Enters the network namespace of another container: named as the
    /// user gave it until create resolves it, its ID in the record (so a
    /// rename does not break it).
    Container(String),
    /// Its own network namespace on bridge networks (the record's
    /// `NetworkConfig::networks`): the default network or user-defined.
    Bridge,
    /// Rootless: its own network namespace connected to the host by a
    /// pasta process of its own (podman 5's rootless default).
    Pasta,
    /// An existing network namespace, by path (`ns:/run/netns/x`): root.
    Path(String),
}

impl NetworkMode {
    /// Whether the container gets its own network namespace.
    pub fn is_private(&self) -> bool {
        matches!(
            self,
            NetworkMode::None | NetworkMode::Bridge | NetworkMode::Pasta
        )
    }

    /// The network namespace file this one enters (`ns:PATH`).
    pub fn path(&self) -> Option<&str> {
        match self {
            NetworkMode::Path(path) => Some(path),
            _ => None,
        }
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
            "bridge" => Ok(NetworkMode::Bridge),
            "pasta" => Ok(NetworkMode::Pasta),
            other if other.starts_with("ns:/") => Ok(NetworkMode::Path(other[3..].to_string())),
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
            NetworkMode::Bridge => f.write_str("bridge"),
            NetworkMode::Pasta => f.write_str("pasta"),
            NetworkMode::Path(path) => write!(f, "ns:{path}"),
        }
    }
}

/// `/etc/hosts` for a container: loopback names plus its own hostname.
/// With the host network the host's own file is used as the base, as docker
/// does, so host names keep resolving.
pub fn hosts_file(
    mode: &NetworkMode,
    hostname: &str,
    host_hosts: Option<&str>,
    extra_hosts: &[(String, String)],
) -> String {
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
    for (name, address) in extra_hosts {
        text.push_str(&format!("{address}\t{name}\n"));
    }
    text
}

/// Name servers docker gives a container with its own network when the
/// host's are all loopback ones it cannot reach.
const FALLBACK_NAME_SERVERS: [&str; 2] = ["8.8.8.8", "8.8.4.4"];

fn is_loopback_name_server(line: &str) -> bool {
    line.trim_start()
        .strip_prefix("nameserver")
        .map(|rest| {
            let addr = rest.trim();
            addr.starts_with("127.") || addr == "::1"
        })
        .unwrap_or(false)
}

fn has_name_server(text: &str) -> bool {
    text.lines()
        .any(|l| l.split_whitespace().next() == Some("nameserver"))
}

/// The host's resolver configuration as a container sees it: its
/// /etc/resolv.conf; for a container with its own network, when that
/// file names only loopback servers (systemd-resolved's stub at
/// 127.0.0.53), the upstream list systemd-resolved keeps in
/// /run/systemd/resolve/resolv.conf, as docker and podman read it. The
/// second file is read only then.
pub fn host_resolv_conf(private_network: bool) -> String {
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let only_loopback = has_name_server(&host)
        && host
            .lines()
            .filter(|l| l.split_whitespace().next() == Some("nameserver"))
            .all(is_loopback_name_server);
    if private_network
        && only_loopback
        && let Ok(upstream) = std::fs::read_to_string("/run/systemd/resolve/resolv.conf")
    {
        return upstream;
    }
    host
}

/// `/etc/resolv.conf` for a container: the host's, minus loopback
/// nameservers when the container has its own network namespace (they would
/// point at the container's own loopback, where nothing listens).
pub fn resolv_conf(mode: &NetworkMode, host_resolv: &str, config: &NetworkConfig) -> String {
    let mut out = String::new();
    // `--dns*` replace the host's lines of that kind, as docker does.
    if !config.dns_search.is_empty() {
        out.push_str(&format!("search {}\n", config.dns_search.join(" ")));
    }
    for server in &config.dns {
        out.push_str(&format!("nameserver {server}\n"));
    }
    if !config.dns_options.is_empty() {
        out.push_str(&format!("options {}\n", config.dns_options.join(" ")));
    }
    for line in host_resolv.lines() {
        let word = line.split_whitespace().next().unwrap_or("");
        let replaced = (word == "search" || word == "domain") && !config.dns_search.is_empty()
            || word == "nameserver" && !config.dns.is_empty()
            || word == "options" && !config.dns_options.is_empty();
        if replaced {
            continue;
        }
        if mode.is_private() && is_loopback_name_server(line) {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    // Nothing reachable left: docker's public fallback, so names resolve.
    if mode.is_private() && !has_name_server(&out) {
        for server in FALLBACK_NAME_SERVERS {
            out.push_str(&format!("nameserver {server}\n"));
        }
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
        let err = "my_net".parse::<NetworkMode>().unwrap_err();
        assert!(err.to_string().contains("\"my_net\" is not supported"));
        assert_eq!(
            "bridge".parse::<NetworkMode>().unwrap(),
            NetworkMode::Bridge
        );
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
        let text = hosts_file(
            &NetworkMode::None,
            "box",
            Some("10.0.0.1 secret\n"),
            &[("db".into(), "10.1.1.1".into())],
        );
        assert!(text.contains("10.1.1.1\tdb\n"));
        assert!(text.contains("127.0.0.1\tlocalhost"));
        assert!(text.contains("127.0.1.1\tbox"));
        assert!(
            !text.contains("secret"),
            "private mode must not copy host entries"
        );
        let host = hosts_file(&NetworkMode::Host, "box", Some("10.0.0.1 myhost"), &[]);
        assert!(host.contains("10.0.0.1 myhost\n") && host.contains("\tbox\n"));
    }

    #[test]
    fn private_mode_drops_loopback_nameservers() {
        let host = "search lan\nnameserver 127.0.0.53\nnameserver 9.9.9.9\n";
        let none = NetworkConfig::default();
        let private = resolv_conf(&NetworkMode::None, host, &none);
        assert_eq!(private, "search lan\nnameserver 9.9.9.9\n");
        assert_eq!(resolv_conf(&NetworkMode::Host, host, &none), host);
        let asked = NetworkConfig {
            dns: vec!["1.1.1.1".into()],
            dns_search: vec!["a.example".into()],
            dns_options: vec!["ndots:2".into()],
            ..NetworkConfig::default()
        };
        assert_eq!(
            resolv_conf(&NetworkMode::Pasta, host, &asked),
            "search a.example\nnameserver 1.1.1.1\noptions ndots:2\n"
        );
    }

    #[test]
    fn only_loopback_servers_become_dockers_fallback() {
        let stub = "nameserver 127.0.0.53\noptions edns0\n";
        let none = NetworkConfig::default();
        assert_eq!(
            resolv_conf(&NetworkMode::Bridge, stub, &none),
            "options edns0\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
        // The host's own stack reaches the stub.
        assert_eq!(resolv_conf(&NetworkMode::Host, stub, &none), stub);
    }
}
