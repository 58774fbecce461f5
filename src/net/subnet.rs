//! IPv4 subnets: parsing `10.88.0.0/16`, membership, overlap, and the
//! addresses IPAM may hand out.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An IPv4 network: its first address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Subnet {
    pub network: Ipv4Addr,
    pub prefix: u8,
}

impl Subnet {
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Subnet {
        let mask = Self::mask_of(prefix);
        Subnet {
            network: Ipv4Addr::from(u32::from(addr) & mask),
            prefix,
        }
    }

    fn mask_of(prefix: u8) -> u32 {
        if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(prefix))
        }
    }

    pub fn mask(&self) -> u32 {
        Self::mask_of(self.prefix)
    }

    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        u32::from(addr) & self.mask() == u32::from(self.network)
    }

    pub fn overlaps(&self, other: &Subnet) -> bool {
        let shorter = self.prefix.min(other.prefix);
        let mask = Self::mask_of(shorter);
        u32::from(self.network) & mask == u32::from(other.network) & mask
    }

    /// The broadcast address (the last of the subnet).
    pub fn last(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) | !self.mask())
    }

    /// The first usable address: the default gateway.
    pub fn first_host(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) + 1)
    }

    /// Addresses containers may get: neither the network, the broadcast
    /// nor the gateway; inside `range` when one is given.
    pub fn hosts(
        &self,
        gateway: Ipv4Addr,
        range: Option<&Subnet>,
    ) -> impl Iterator<Item = Ipv4Addr> {
        let (first, last) = match range {
            Some(r) => (u32::from(r.network), u32::from(r.last())),
            None => (u32::from(self.network), u32::from(self.last())),
        };
        let (net, bcast) = (u32::from(self.network), u32::from(self.last()));
        (first..=last)
            .filter(move |a| *a != net && *a != bcast && *a != u32::from(gateway))
            .map(Ipv4Addr::from)
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl FromStr for Subnet {
    type Err = String;
    fn from_str(s: &str) -> Result<Subnet, String> {
        let (addr, prefix) = s
            .split_once('/')
            .ok_or_else(|| format!("\"{s}\" is not a subnet: expected ADDRESS/PREFIX"))?;
        let addr: Ipv4Addr = addr
            .parse()
            .map_err(|_| format!("\"{s}\" is not an IPv4 subnet"))?;
        let prefix: u8 = match prefix.parse() {
            Ok(p) if p <= 32 => p,
            _ => return Err(format!("\"{s}\": the prefix must be 0-32")),
        };
        Ok(Subnet::new(addr, prefix))
    }
}

impl Serialize for Subnet {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Subnet {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_contains_overlap() {
        let a: Subnet = "10.88.1.7/16".parse().unwrap();
        assert_eq!(a.to_string(), "10.88.0.0/16");
        assert!(a.contains("10.88.255.1".parse().unwrap()));
        assert!(!a.contains("10.89.0.1".parse().unwrap()));
        let b: Subnet = "10.88.5.0/24".parse().unwrap();
        let c: Subnet = "10.89.0.0/24".parse().unwrap();
        assert!(a.overlaps(&b) && b.overlaps(&a));
        assert!(!a.overlaps(&c));
        assert!("10.0.0.0".parse::<Subnet>().is_err());
        assert!("10.0.0.0/33".parse::<Subnet>().is_err());
        assert_eq!("10.0.0.5/32".parse::<Subnet>().unwrap().prefix, 32);
        assert!("x/8".parse::<Subnet>().is_err());
    }

    #[test]
    fn hosts_skip_network_gateway_and_broadcast() {
        let s: Subnet = "10.0.0.0/29".parse().unwrap();
        let hosts: Vec<_> = s
            .hosts(s.first_host(), None)
            .map(|a| a.to_string())
            .collect();
        assert_eq!(
            hosts,
            ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"]
        );
        let range: Subnet = "10.0.0.4/30".parse().unwrap();
        let hosts: Vec<_> = s
            .hosts(s.first_host(), Some(&range))
            .map(|a| a.to_string())
            .collect();
        assert_eq!(hosts, ["10.0.0.4", "10.0.0.5", "10.0.0.6"]);
    }
}
