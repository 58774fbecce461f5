//! The IPv4 subnets the current network namespace is directly connected
//! to (`/proc/net/route`, the main table, routes without a gateway: the
//! subnets of its interfaces' addresses): a network's subnet must not
//! overlap one, or its containers could not reach those hosts (podman's
//! rule for `network create`, which reads the interfaces' addresses).
//! Routes through a gateway are left out: a VPN's `0.0.0.0/1` or a broad
//! `10.0.0.0/8` would otherwise refuse every subnet.

use std::net::Ipv4Addr;

use super::subnet::Subnet;

/// `RTF_GATEWAY` of linux/route.h: the route goes through a gateway.
const RTF_GATEWAY: u32 = 0x2;

/// Directly connected subnets. Unreadable means none.
pub fn routed_subnets() -> Vec<Subnet> {
    std::fs::read_to_string("/proc/net/route")
        .map(|text| parse_route_table(&text))
        .unwrap_or_default()
}

/// Parses `/proc/net/route`: destination and mask are the kernel's
/// network-order words printed in host byte order; flags are a number.
fn parse_route_table(text: &str) -> Vec<Subnet> {
    let word = |field: &str| u32::from_str_radix(field, 16).ok().map(u32::to_ne_bytes);
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let flags = u32::from_str_radix(fields.get(3)?, 16).ok()?;
            if flags & RTF_GATEWAY != 0 {
                return None;
            }
            let destination = Ipv4Addr::from(word(fields.get(1)?)?);
            let prefix = u32::from_be_bytes(word(fields.get(7)?)?).count_ones() as u8;
            (prefix > 0).then(|| Subnet::new(destination, prefix))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connected_routes_become_subnets_gateway_routes_do_not() {
        let table = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
            eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
            skiff0\t0000580A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n\
            eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
            tun0\t00000000\t0100080A\t0003\t0\t0\t0\t00000080\t0\t0\t0\n\
            tun0\t0000000A\t0100080A\t0003\t0\t0\t0\t000000FF\t0\t0\t0\n";
        let subnets: Vec<String> = parse_route_table(table)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(subnets, ["10.88.0.0/16", "192.0.2.0/24"]);
    }
}
