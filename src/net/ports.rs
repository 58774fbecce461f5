//! Published ports: docker's `-p` forms parsed into one mapping per port
//! (ranges expanded), and how `ps`, `port` and `inspect` print them.

use std::fmt;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::NetError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        })
    }
}

/// One published port. `host_port` 0 means "any free port": create
/// replaces it with the port it found free, so a record never holds 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PortMapping {
    /// `None`: every address (0.0.0.0).
    #[serde(default)]
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: Protocol,
}

impl PortMapping {
    /// `0.0.0.0:8080->80/tcp`, podman's PORTS column.
    pub fn describe(&self) -> String {
        format!(
            "{}:{}->{}/{}",
            self.host_ip_text(),
            self.host_port,
            self.container_port,
            self.protocol
        )
    }

    pub fn host_ip_text(&self) -> String {
        self.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED).to_string()
    }

    /// podman's PORTS column for all of a container's mappings: runs of
    /// consecutive ports (host and container both counting up, same
    /// address and protocol) as one range, `0.0.0.0:8000-8001->80-81/tcp`.
    pub fn describe_all(ports: &[PortMapping]) -> String {
        let mut runs: Vec<(PortMapping, u16)> = Vec::new();
        for port in ports {
            match runs.last_mut() {
                Some((first, len))
                    if first.host_ip == port.host_ip
                        && first.protocol == port.protocol
                        && u32::from(first.host_port) + u32::from(*len)
                            == u32::from(port.host_port)
                        && u32::from(first.container_port) + u32::from(*len)
                            == u32::from(port.container_port) =>
                {
                    *len += 1;
                }
                _ => runs.push((*port, 1)),
            }
        }
        runs.iter()
            .map(|(first, len)| {
                if *len == 1 {
                    first.describe()
                } else {
                    format!(
                        "{}:{}-{}->{}-{}/{}",
                        first.host_ip_text(),
                        first.host_port,
                        first.host_port + len - 1,
                        first.container_port,
                        first.container_port + len - 1,
                        first.protocol
                    )
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `80/tcp`, the key docker's inspect uses.
    pub fn container_key(&self) -> String {
        format!("{}/{}", self.container_port, self.protocol)
    }
}

fn invalid(spec: &str, why: &str) -> NetError {
    NetError::InvalidPort {
        spec: spec.to_string(),
        why: why.to_string(),
    }
}

/// `N` or `N-M` → the inclusive range; ports are 1-65535.
fn port_range(spec: &str, text: &str) -> Result<(u16, u16), NetError> {
    let one = |t: &str| match t.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(invalid(spec, &format!("\"{t}\" is not a port (1-65535)"))),
    };
    match text.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (one(a)?, one(b)?);
            if b < a {
                return Err(invalid(
                    spec,
                    &format!("range \"{text}\" ends before it starts"),
                ));
            }
            Ok((a, b))
        }
        None => one(text).map(|p| (p, p)),
    }
}

/// `-p [[IP:][HOST_PORT]:]CONTAINER_PORT[/tcp|udp]`, ranges as `N-M`.
/// A missing host port is 0 (any free port).
pub fn parse_publish(spec: &str) -> Result<Vec<PortMapping>, NetError> {
    let (addr, protocol) = match spec.rsplit_once('/') {
        Some((addr, "tcp")) => (addr, Protocol::Tcp),
        Some((addr, "udp")) => (addr, Protocol::Udp),
        Some((_, other)) => {
            return Err(invalid(
                spec,
                &format!("unknown protocol \"{other}\" (tcp or udp)"),
            ));
        }
        None => (spec, Protocol::Tcp),
    };
    let parts: Vec<&str> = addr.split(':').collect();
    let (ip, host, container) = match parts.as_slice() {
        [c] => (None, "", *c),
        [h, c] => (None, *h, *c),
        [ip, h, c] => (Some(*ip), *h, *c),
        _ => {
            return Err(invalid(
                spec,
                "expected [[IP:][HOST_PORT]:]CONTAINER_PORT[/PROTOCOL]",
            ));
        }
    };
    let host_ip = match ip {
        None | Some("") => None,
        Some(text) => Some(
            text.parse::<Ipv4Addr>()
                .map_err(|_| invalid(spec, &format!("\"{text}\" is not an IPv4 address")))?,
        )
        .filter(|ip| !ip.is_unspecified()),
    };
    let (c_first, c_last) = port_range(spec, container)?;
    let count = c_last - c_first;
    let host_first = if host.is_empty() {
        None
    } else {
        let (h_first, h_last) = port_range(spec, host)?;
        // docker: a host range for one container port picks one of it;
        // skiff takes its first port. Otherwise the lengths must agree.
        if h_last - h_first != count && !(count == 0 && h_first != h_last) {
            return Err(invalid(
                spec,
                "the host and container port ranges differ in length",
            ));
        }
        Some(h_first)
    };
    Ok((0..=count)
        .map(|i| PortMapping {
            host_ip,
            host_port: host_first.map_or(0, |h| h + i),
            container_port: c_first + i,
            protocol,
        })
        .collect())
}

/// `--expose PORT[-PORT][/PROTO]` and an image's `ExposedPorts` key.
pub fn parse_exposed(spec: &str) -> Result<Vec<(u16, Protocol)>, NetError> {
    let (ports, protocol) = match spec.rsplit_once('/') {
        Some((p, "tcp")) => (p, Protocol::Tcp),
        Some((p, "udp")) => (p, Protocol::Udp),
        Some((_, other)) => {
            return Err(invalid(
                spec,
                &format!("unknown protocol \"{other}\" (tcp or udp)"),
            ));
        }
        None => (spec, Protocol::Tcp),
    };
    let (first, last) = port_range(spec, ports)?;
    Ok((first..=last).map(|p| (p, protocol)).collect())
}

/// Two mappings of one host address, port and protocol cannot both bind.
pub fn check_distinct_host_ports(ports: &[PortMapping]) -> Result<(), NetError> {
    for (i, a) in ports.iter().enumerate() {
        for b in &ports[..i] {
            let same_ip = a.host_ip.is_none() || b.host_ip.is_none() || a.host_ip == b.host_ip;
            if a.host_port != 0 && a.host_port == b.host_port && a.protocol == b.protocol && same_ip
            {
                return Err(NetError::InvalidPort {
                    spec: a.describe(),
                    why: format!("host port {} is published twice", a.host_port),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(host_ip: Option<[u8; 4]>, host: u16, ctr: u16, protocol: Protocol) -> PortMapping {
        PortMapping {
            host_ip: host_ip.map(Ipv4Addr::from),
            host_port: host,
            container_port: ctr,
            protocol,
        }
    }

    #[test]
    fn docker_forms_parse() {
        use Protocol::*;
        assert_eq!(
            parse_publish("8080:80").unwrap(),
            [one(None, 8080, 80, Tcp)]
        );
        assert_eq!(
            parse_publish("127.0.0.1:8080:80").unwrap(),
            [one(Some([127, 0, 0, 1]), 8080, 80, Tcp)]
        );
        assert_eq!(
            parse_publish("8080:80/udp").unwrap(),
            [one(None, 8080, 80, Udp)]
        );
        assert_eq!(parse_publish("80").unwrap(), [one(None, 0, 80, Tcp)]);
        assert_eq!(
            parse_publish("127.0.0.1::80").unwrap(),
            [one(Some([127, 0, 0, 1]), 0, 80, Tcp)]
        );
        assert_eq!(
            parse_publish("0.0.0.0:81:80").unwrap(),
            [one(None, 81, 80, Tcp)]
        );
        assert_eq!(
            parse_publish("8000-8001:80-81").unwrap(),
            [one(None, 8000, 80, Tcp), one(None, 8001, 81, Tcp)]
        );
        assert_eq!(
            parse_publish("80-81").unwrap(),
            [one(None, 0, 80, Tcp), one(None, 0, 81, Tcp)]
        );
    }

    #[test]
    fn bad_specs_are_refused_naming_the_spec() {
        for bad in [
            "x:80",
            "8080:0",
            "8080:70000",
            "8080:80/sctp",
            "1.2.3:80:80",
            "1:2:3:4",
            "8000-8002:80-81",
            "81-80",
            "",
        ] {
            let err = parse_publish(bad).unwrap_err().to_string();
            assert!(err.contains(&format!("\"{bad}\"")), "{bad}: {err}");
        }
    }

    #[test]
    fn twice_the_same_host_port_is_refused() {
        let mut ports = parse_publish("8080:80").unwrap();
        ports.extend(parse_publish("127.0.0.1:8080:81").unwrap());
        assert!(check_distinct_host_ports(&ports).is_err());
        let mut ports = parse_publish("8080:80").unwrap();
        ports.extend(parse_publish("8080:80/udp").unwrap());
        assert!(check_distinct_host_ports(&ports).is_ok());
    }

    #[test]
    fn described_as_podman_does() {
        let p = parse_publish("127.0.0.1:8080:80/udp").unwrap()[0];
        assert_eq!(p.describe(), "127.0.0.1:8080->80/udp");
        assert_eq!(
            parse_publish("8080:80").unwrap()[0].describe(),
            "0.0.0.0:8080->80/tcp"
        );
        assert_eq!(
            parse_exposed("80-81/udp").unwrap(),
            [(80, Protocol::Udp), (81, Protocol::Udp)]
        );
    }

    #[test]
    fn consecutive_ports_show_as_one_range() {
        let ports = parse_publish("8000-8002:80-82").unwrap();
        let mut all = ports.clone();
        all.extend(parse_publish("127.0.0.1:9000:90/udp").unwrap());
        all.extend(parse_publish("8005:85").unwrap());
        assert_eq!(
            PortMapping::describe_all(&all),
            "0.0.0.0:8000-8002->80-82/tcp, 127.0.0.1:9000->90/udp, 0.0.0.0:8005->85/tcp"
        );
    }
}
