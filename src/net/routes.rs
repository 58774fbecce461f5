//! `network create --route DESTINATION,GATEWAY[,METRIC]` (podman's
//! flag): a static route every member of the network gets on its
//! interface there.

use std::fmt;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::subnet::Subnet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRoute {
    pub destination: Subnet,
    pub gateway: Ipv4Addr,
    #[serde(default)]
    pub metric: Option<u32>,
}

impl NetworkRoute {
    /// Parses podman's form; the gateway must be a host address of
    /// `subnet` (the members reach it directly).
    pub fn parse(text: &str, subnet: &Subnet) -> Result<NetworkRoute, String> {
        let bad = |why: &str| format!("invalid --route \"{text}\": {why}");
        let parts: Vec<&str> = text.split(',').collect();
        let (destination, gateway, metric) = match parts.as_slice() {
            [d, g] => (*d, *g, None),
            [d, g, m] => (*d, *g, Some(*m)),
            _ => return Err(bad("expected DESTINATION,GATEWAY[,METRIC]")),
        };
        let destination: Subnet = destination
            .parse()
            .map_err(|_| bad("the destination is not an IPv4 subnet in CIDR form"))?;
        let gateway: Ipv4Addr = gateway
            .parse()
            .map_err(|_| bad("the gateway is not an IPv4 address"))?;
        if !subnet.contains(gateway) || gateway == subnet.network || gateway == subnet.last() {
            return Err(bad(&format!(
                "the gateway is not a host address of the network's subnet {subnet}"
            )));
        }
        let metric = metric
            .map(|m| {
                m.parse::<u32>()
                    .map_err(|_| bad("the metric is not a number"))
            })
            .transpose()?;
        Ok(NetworkRoute {
            destination,
            gateway,
            metric,
        })
    }
}

impl fmt::Display for NetworkRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},{}", self.destination, self.gateway)?;
        if let Some(metric) = self.metric {
            write!(f, ",{metric}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_parse_as_podman_writes_them() {
        let subnet: Subnet = "10.89.0.0/24".parse().unwrap();
        let route = NetworkRoute::parse("10.1.0.0/16,10.89.0.254,100", &subnet).unwrap();
        assert_eq!(route.to_string(), "10.1.0.0/16,10.89.0.254,100");
        assert_eq!(
            NetworkRoute::parse("192.0.2.0/24,10.89.0.9", &subnet)
                .unwrap()
                .metric,
            None
        );
        for bad in [
            "10.1.0.0/16",
            "10.1.0.0/16,10.90.0.1",
            "10.1.0.0/16,10.89.0.255",
            "nonsense,10.89.0.9",
            "10.1.0.0/16,10.89.0.9,x",
        ] {
            assert!(NetworkRoute::parse(bad, &subnet).is_err(), "{bad}");
        }
    }
}
