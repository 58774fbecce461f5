//! Leftovers of runs that ended without detaching (a monitor killed with
//! SIGKILL): found by what the kernel holds, not by a state file. A veth
//! carries its container's id in its alias; a port chain in its name.

use serde_json::Value;

use super::netlink;
use super::network::open;
use super::{BridgeError, endpoint_alias_owner, nft, rules};

/// Removes every endpoint (veth pair, published ports) of a container
/// `is_stale` names (one whose run is over). Networks are left: they are
/// the caller's to remove.
pub fn cleanup_stale(is_stale: &dyn Fn(&str) -> bool) -> Result<(), BridgeError> {
    let mut rtnl = open()?;
    let links = rtnl.links().map_err(|source| BridgeError::Netlink {
        what: "list network interfaces".to_string(),
        source,
    })?;
    let stale: Vec<_> = links
        .iter()
        .filter(|link| {
            link.alias
                .as_deref()
                .and_then(endpoint_alias_owner)
                .is_some_and(is_stale)
        })
        .map(|link| netlink::delete_link(&link.name))
        .collect();
    for request in stale {
        // One at a time: a pair whose other end went meanwhile is gone.
        match rtnl.run(vec![request]) {
            Ok(()) => {}
            Err(step) if step.source.raw_os_error() == Some(libc::ENODEV) => {}
            Err(step) => return Err(BridgeError::netlink(step)),
        }
    }
    let Some(table) = nft::list_table()? else {
        return Ok(());
    };
    let batch = removal_batch(&table, |container, _| is_stale(container));
    if batch.is_empty() {
        return Ok(());
    }
    nft::apply(
        "remove published ports of containers no longer running",
        &batch,
    )
}

/// Removes the port chains (and the elements jumping to them) of one
/// container, of one interface of it when given.
pub(super) fn remove_endpoint_rules(
    container_id: &str,
    interface: Option<&str>,
) -> Result<(), BridgeError> {
    let Some(table) = nft::list_table()? else {
        return Ok(());
    };
    let batch = removal_batch(&table, |container, chain_interface| {
        container == container_id && interface.is_none_or(|name| name == chain_interface)
    });
    if batch.is_empty() {
        return Ok(());
    }
    nft::apply(
        &format!("remove the published ports of container {container_id}"),
        &batch,
    )
}

/// The deletes for every endpoint chain `doomed(container, interface)`
/// selects: first the map elements jumping to them, then the chains.
pub(super) fn removal_batch(table: &Value, doomed: impl Fn(&str, &str) -> bool) -> String {
    let objects = table
        .get("nftables")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let chains: Vec<&str> = objects
        .iter()
        .filter_map(|object| object.get("chain")?.get("name")?.as_str())
        .filter(|name| {
            rules::parse_endpoint_chain(name)
                .is_some_and(|(container, interface)| doomed(container, interface))
        })
        .collect();
    let mut batch = String::new();
    for object in objects {
        let Some(map) = object.get("map") else {
            continue;
        };
        let Some(name) = map.get("name").and_then(Value::as_str) else {
            continue;
        };
        for element in map
            .get("elem")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let Some([key, verdict]) = element
                .as_array()
                .map(Vec::as_slice)
                .and_then(|pair| <&[Value; 2]>::try_from(pair).ok())
            else {
                continue;
            };
            let target = verdict
                .get("jump")
                .or_else(|| verdict.get("goto"))
                .and_then(|jump| jump.get("target"))
                .and_then(Value::as_str);
            if target.is_some_and(|target| chains.contains(&target))
                && let Some(key) = key_text(key)
            {
                batch.push_str(&rules::remove_element(name, &key));
            }
        }
    }
    for chain in chains {
        batch.push_str(&rules::remove_chain(chain));
    }
    batch
}

/// An element key of nft's JSON back as nft text: `tcp . 8080`,
/// `127.0.0.1 . tcp . 8080`.
fn key_text(key: &Value) -> Option<String> {
    let part = |value: &Value| match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    };
    match key.get("concat") {
        Some(Value::Array(parts)) => parts
            .iter()
            .map(part)
            .collect::<Option<Vec<_>>>()
            .map(|parts| parts.join(" . ")),
        _ => part(key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `nft -j list table inet skiff` says (nft 1.0.6), trimmed to
    /// the objects cleanup reads.
    const TABLE: &str = r#"{"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
        {"table": {"family": "inet", "name": "skiff", "handle": 1}},
        {"chain": {"family": "inet", "table": "skiff", "name": "forward", "handle": 1, "type": "filter", "hook": "forward", "prio": 0, "policy": "accept"}},
        {"chain": {"family": "inet", "table": "skiff", "name": "n-abc-nat", "handle": 7}},
        {"chain": {"family": "inet", "table": "skiff", "name": "c-dead-eth0", "handle": 8}},
        {"chain": {"family": "inet", "table": "skiff", "name": "c-live-eth0", "handle": 9}},
        {"map": {"family": "inet", "name": "ports_any", "table": "skiff", "type": ["inet_proto", "inet_service"], "handle": 11, "map": "verdict",
          "elem": [[{"concat": ["tcp", 8080]}, {"jump": {"target": "c-dead-eth0"}}], [{"concat": ["udp", 53]}, {"jump": {"target": "c-live-eth0"}}]]}},
        {"map": {"family": "inet", "name": "ports_ip", "table": "skiff", "type": ["ipv4_addr", "inet_proto", "inet_service"], "handle": 12, "map": "verdict",
          "elem": [[{"concat": ["127.0.0.1", "tcp", 8081]}, {"jump": {"target": "c-dead-eth0"}}]]}},
        {"map": {"family": "inet", "name": "from_subnet", "table": "skiff", "type": "ipv4_addr", "handle": 13, "map": "verdict", "flags": ["interval"],
          "elem": [[{"prefix": {"addr": "10.88.0.0", "len": 16}}, {"jump": {"target": "n-abc-nat"}}]]}}
    ]}"#;

    #[test]
    fn cleanup_deletes_the_elements_then_the_chains_of_dead_endpoints_only() {
        let table: Value = serde_json::from_str(TABLE).unwrap();
        let batch = removal_batch(&table, |container, _| container != "live");
        assert_eq!(
            batch.lines().collect::<Vec<_>>(),
            [
                "delete element inet skiff ports_any { tcp . 8080 }",
                "delete element inet skiff ports_ip { 127.0.0.1 . tcp . 8081 }",
                "add chain inet skiff c-dead-eth0",
                "flush chain inet skiff c-dead-eth0",
                "delete chain inet skiff c-dead-eth0",
            ]
        );
        assert_eq!(removal_batch(&table, |_, _| false), "");
    }
}
