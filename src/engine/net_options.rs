//! The network flags of `run`/`create`: parsed into a `NetworkMode` and a
//! `NetworkConfig` before anything exists (`parse_net_request`), then
//! completed at create against the store and the image
//! (`resolve_at_create`: networks exist, `-P` ports, free host ports).

use std::net::{Ipv4Addr, TcpListener, UdpSocket};

use super::EngineError;
use crate::net::ports::{check_distinct_host_ports, parse_exposed, parse_publish};
use crate::net::{
    DEFAULT_NETWORK, NetworkConfig, NetworkMode, NetworkRequestEntry, PortMapping, Protocol,
};
use crate::state::{NetworkStore, StorageDirs};

/// The network flags as spelled.
#[derive(Debug, Clone, Default)]
pub struct NetRequest {
    /// `--network` values; empty: the default.
    pub networks: Vec<String>,
    pub publish: Vec<String>,
    pub publish_all: bool,
    pub expose: Vec<String>,
    pub aliases: Vec<String>,
    pub ip: Option<String>,
    pub mac: Option<String>,
    pub add_hosts: Vec<String>,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
}

fn invalid(text: String) -> EngineError {
    EngineError::Invalid(text)
}

/// The network a container gets without `--network`:
/// `$SKIFF_DEFAULT_NETWORK` when set (podman's containers.conf `netns`),
/// else the default bridge network, root and rootless alike (rootless in
/// the shared rootless network namespace), so containers reach each other
/// by address; `--network pasta` gives a rootless container a pasta of
/// its own instead. A rootless container with an ID mapping of its own
/// (`--userns keep-id|auto|nomap`, `--uidmap`) cannot enter the shared
/// namespace's user namespace: its default is pasta, podman's rootless
/// default.
fn default_network(own_mapping: bool) -> String {
    match std::env::var("SKIFF_DEFAULT_NETWORK") {
        Ok(name) if !name.is_empty() => name,
        _ if own_mapping && !nix::unistd::geteuid().is_root() => "pasta".into(),
        _ => "bridge".into(),
    }
}

fn parse_mac(text: &str) -> Result<String, EngineError> {
    let parts: Vec<&str> = text.split(':').collect();
    let ok = parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()));
    let first = u8::from_str_radix(parts.first().copied().unwrap_or("01"), 16).unwrap_or(1);
    if !ok || first & 1 == 1 {
        return Err(invalid(format!(
            "invalid --mac-address \"{text}\": expected a unicast MAC such as 92:d0:c6:0a:29:33"
        )));
    }
    Ok(text.to_ascii_lowercase())
}

/// `--add-host NAME:IP` (podman also takes `NAME=IP`).
fn parse_add_host(text: &str) -> Result<(String, String), EngineError> {
    let (name, ip) = text
        .split_once('=')
        .or_else(|| text.split_once(':'))
        .ok_or_else(|| invalid(format!("invalid --add-host \"{text}\": expected HOST:IP")))?;
    let valid_ip = ip == "host-gateway" || ip.parse::<std::net::IpAddr>().is_ok();
    if name.is_empty() || !valid_ip || ip == "host-gateway" {
        return Err(invalid(format!(
            "invalid --add-host \"{text}\": expected HOST:IP with an IP address"
        )));
    }
    Ok((name.to_string(), ip.to_string()))
}

/// Checks the flags; the first bad one is the error.
/// `own_mapping`: the container asked for an ID mapping of its own.
pub fn parse_net_request(
    req: &NetRequest,
    own_mapping: bool,
) -> Result<(NetworkMode, NetworkConfig), EngineError> {
    let given = if req.networks.is_empty() {
        vec![default_network(own_mapping)]
    } else {
        req.networks.clone()
    };
    let mut mode = None;
    let mut names = Vec::new();
    for text in given.iter().flat_map(|t| t.split(',')) {
        match text.parse::<NetworkMode>() {
            Ok(NetworkMode::Bridge) => names.push(DEFAULT_NETWORK.to_string()),
            Ok(other) => {
                if mode.is_some() || given.len() > 1 {
                    return Err(invalid(format!(
                        "--network {text} cannot be combined with other networks"
                    )));
                }
                mode = Some(other);
            }
            Err(_) if text.starts_with("ns:") || text.starts_with("slirp4netns") => {
                return Err(invalid(format!(
                    "network mode \"{text}\" is not supported: use --network none, host, bridge, pasta, NETWORK, container:NAME or ns:/PATH"
                )));
            }
            Err(_) if crate::state::is_valid_network_name(text) => names.push(text.to_string()),
            Err(e) => return Err(e.into()),
        }
    }
    let mode = mode.unwrap_or(NetworkMode::Bridge);
    if let Some(path) = mode.path() {
        if !nix::unistd::geteuid().is_root() {
            // Its owner is another user namespace than the container's.
            return Err(invalid(format!(
                "--network ns:{path}: entering an existing network namespace needs root"
            )));
        }
        if std::fs::metadata(path).is_err() {
            return Err(invalid(format!(
                "--network ns:{path}: no such network namespace file"
            )));
        }
    }
    let mut config = NetworkConfig::default();
    let bridge = mode == NetworkMode::Bridge;
    let own_stack = bridge || mode == NetworkMode::Pasta;
    for (flag, given) in [
        ("--network-alias", !req.aliases.is_empty()),
        ("--ip", req.ip.is_some()),
        ("--mac-address", req.mac.is_some()),
    ] {
        if given && !bridge {
            return Err(invalid(format!(
                "{flag} needs a bridge network (not --network {mode})"
            )));
        }
    }
    for alias in &req.aliases {
        check_alias(alias)?;
    }
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            return Err(invalid(format!("network {name} is given twice")));
        }
        // Per-network flags apply to the first network, as podman does.
        let first = i == 0;
        config.networks.push(NetworkRequestEntry {
            name: name.clone(),
            aliases: if first {
                req.aliases.clone()
            } else {
                Vec::new()
            },
            ip: match (&req.ip, first) {
                (Some(text), true) => Some(text.parse::<Ipv4Addr>().map_err(|_| {
                    invalid(format!("invalid --ip \"{text}\": not an IPv4 address"))
                })?),
                _ => None,
            },
            mac: match (&req.mac, first) {
                (Some(text), true) => Some(parse_mac(text)?),
                _ => None,
            },
        });
    }
    for spec in &req.publish {
        config.ports.extend(parse_publish(spec)?);
    }
    if (!config.ports.is_empty() || req.publish_all) && !own_stack {
        return Err(invalid(format!(
            "published ports need a network of the container's own (not --network {mode})"
        )));
    }
    check_distinct_host_ports(&config.ports)?;
    for spec in &req.expose {
        config.exposed.extend(parse_exposed(spec)?);
    }
    config.extra_hosts = req
        .add_hosts
        .iter()
        .map(|h| parse_add_host(h))
        .collect::<Result<_, _>>()?;
    for dns in &req.dns {
        dns.parse::<std::net::IpAddr>()
            .map_err(|_| invalid(format!("invalid --dns \"{dns}\": not an IP address")))?;
    }
    config.dns = req.dns.clone();
    config.dns_search = req.dns_search.clone();
    config.dns_options = req.dns_options.clone();
    Ok((mode, config))
}

/// A host port is free when it can be bound now (the kernel's answer;
/// another program may still take it before the container starts).
fn port_is_free(ip: Ipv4Addr, port: u16, protocol: Protocol) -> bool {
    match protocol {
        Protocol::Tcp => TcpListener::bind((ip, port)).is_ok(),
        Protocol::Udp => UdpSocket::bind((ip, port)).is_ok(),
    }
}

/// A free port chosen by the kernel.
fn any_free_port(ip: Ipv4Addr, protocol: Protocol) -> Result<u16, EngineError> {
    let port = match protocol {
        Protocol::Tcp => TcpListener::bind((ip, 0)).and_then(|l| l.local_addr()),
        Protocol::Udp => UdpSocket::bind((ip, 0)).and_then(|s| s.local_addr()),
    };
    port.map(|a| a.port()).map_err(EngineError::io(format!(
        "finding a free {protocol} port on {ip}"
    )))
}

/// Completes the request at create: the networks exist (by name as
/// stored), `-P` publishes the exposed ports, random host ports are
/// chosen, and every host port is free now.
pub fn resolve_at_create(
    dirs: &StorageDirs,
    mode: &NetworkMode,
    config: &mut NetworkConfig,
    image_exposed: &[String],
    publish_all: bool,
) -> Result<(), EngineError> {
    if *mode == NetworkMode::Bridge {
        let store = NetworkStore::new(dirs);
        for entry in &mut config.networks {
            let network = store.load(&entry.name)?;
            if let Some(ip) = entry.ip
                && (!network.subnet.contains(ip) || ip == network.gateway)
            {
                return Err(invalid(format!(
                    "--ip {ip} is not a container address of network {} ({})",
                    network.name, network.subnet
                )));
            }
            entry.name = network.name;
        }
    }
    for key in image_exposed {
        for port in parse_exposed(key)? {
            if !config.exposed.contains(&port) {
                config.exposed.push(port);
            }
        }
    }
    config.publish_all = publish_all;
    if publish_all {
        for (port, protocol) in config.exposed.clone() {
            let published = config
                .ports
                .iter()
                .any(|p| p.container_port == port && p.protocol == protocol);
            if !published {
                config.ports.push(PortMapping {
                    host_ip: None,
                    host_port: 0,
                    container_port: port,
                    protocol,
                });
            }
        }
    }
    for mapping in &mut config.ports {
        let ip = mapping.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED);
        if mapping.host_port == 0 {
            mapping.host_port = any_free_port(ip, mapping.protocol)?;
        } else if !port_is_free(ip, mapping.host_port, mapping.protocol) {
            return Err(invalid(format!(
                "cannot publish {}: host port {} ({}) is already in use",
                mapping.describe(),
                mapping.host_port,
                mapping.protocol
            )));
        }
    }
    check_distinct_host_ports(&config.ports)?;
    Ok(())
}

/// `--network-alias` / `network connect --alias`: a name peers' hosts
/// files can hold.
pub fn check_alias(alias: &str) -> Result<(), EngineError> {
    if crate::net::hosts::is_valid_host_name(alias) {
        Ok(())
    } else {
        Err(invalid(format!(
            "invalid network alias \"{}\": use letters, digits, '-', '_' and '.'",
            alias.escape_debug()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(req: NetRequest) -> Result<(NetworkMode, NetworkConfig), EngineError> {
        parse_net_request(&req, false)
    }

    #[test]
    fn names_and_modes() {
        let (mode, config) = parse(NetRequest {
            networks: vec!["bridge".into()],
            ..NetRequest::default()
        })
        .unwrap();
        assert_eq!(mode, NetworkMode::Bridge);
        assert_eq!(config.networks[0].name, "podman");
        let (mode, config) = parse(NetRequest {
            networks: vec!["a".into(), "b".into()],
            aliases: vec!["db".into()],
            ..NetRequest::default()
        })
        .unwrap();
        assert_eq!(mode, NetworkMode::Bridge);
        assert_eq!(config.networks.len(), 2);
        assert_eq!(config.networks[0].aliases, ["db"]);
        assert!(config.networks[1].aliases.is_empty());
        let (mode, _) = parse(NetRequest {
            networks: vec!["none".into()],
            ..NetRequest::default()
        })
        .unwrap();
        assert_eq!(mode, NetworkMode::None);
    }

    #[test]
    fn bad_combinations_are_refused() {
        for (req, subject) in [
            (
                NetRequest {
                    networks: vec!["none".into()],
                    publish: vec!["80".into()],
                    ..NetRequest::default()
                },
                "published ports",
            ),
            (
                NetRequest {
                    networks: vec!["host".into(), "a".into()],
                    ..NetRequest::default()
                },
                "cannot be combined",
            ),
            (
                NetRequest {
                    networks: vec!["a".into()],
                    mac: Some("01:00:00:00:00:00".into()),
                    ..NetRequest::default()
                },
                "--mac-address",
            ),
            (
                NetRequest {
                    networks: vec!["a".into()],
                    ip: Some("10.1".into()),
                    ..NetRequest::default()
                },
                "--ip",
            ),
            (
                NetRequest {
                    networks: vec!["pasta".into()],
                    aliases: vec!["x".into()],
                    ..NetRequest::default()
                },
                "--network-alias",
            ),
            (
                NetRequest {
                    networks: vec!["none".into()],
                    add_hosts: vec!["nocolon".into()],
                    ..NetRequest::default()
                },
                "--add-host",
            ),
            (
                NetRequest {
                    networks: vec!["ns:x".into()],
                    ..NetRequest::default()
                },
                "ns:x",
            ),
        ] {
            let err = parse(req).unwrap_err().to_string();
            assert!(err.contains(subject), "{subject}: {err}");
        }
    }
}
