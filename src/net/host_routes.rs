//! The IPv4 subnets the current network namespace already routes
//! (`/proc/net/route`, the main table): a network's subnet must not
//! overlap one, or its containers could not reach those hosts (podman's
//! rule for `network create`).

use std::net::Ipv4Addr;

use super::subnet::Subnet;

/// Routed subnets, the default route left out. Unreadable means none.
pub fn routed_subnets() -> Vec<Subnet> {
    std::fs::read_to_string("/proc/net/route")
        .map(|text| parse_route_table(&text))
        .unwrap_or_default()
}

/// Parses `/proc/net/route`: destination and mask are the kernel's
/// network-order words printed in host byte order.
fn parse_route_table(text: &str) -> Vec<Subnet> {
    let word = |field: &str| u32::from_str_radix(field, 16).ok().map(u32::to_ne_bytes);
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
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
    fn routes_become_subnets_without_the_default_route() {
        let table = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
            eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
            skiff0\t0000580A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n\
            eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        let subnets: Vec<String> = parse_route_table(table)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(subnets, ["10.88.0.0/16", "192.0.2.0/24"]);
    }
}
