//! The network part of a container's `inspect` document, in docker's and
//! podman's shape: `.NetworkSettings` (ports, networks, addresses),
//! `.HostConfig.PortBindings` and the DNS and hosts flags,
//! `.Config.ExposedPorts`.

use serde_json::{Map, Value, json};

use crate::net::NetworkMode;
use crate::state::ContainerRecord;

/// Adds the network fields to `document` (`container_json`'s).
pub fn add_network_json(document: &mut Value, record: &ContainerRecord) {
    let net = &record.config.net;
    let mut ports = Map::new();
    let mut bindings = Map::new();
    for (port, protocol) in &net.exposed {
        ports.insert(format!("{port}/{protocol}"), Value::Null);
    }
    for mapping in &net.ports {
        let key = mapping.container_key();
        let host_port = mapping.host_port.to_string();
        let entry = ports.entry(key.clone()).or_insert(json!([]));
        if entry.is_null() {
            *entry = json!([]);
        }
        if let Value::Array(list) = entry {
            list.push(json!({"HostIp": mapping.host_ip_text(), "HostPort": host_port}));
        }
        let binding = bindings.entry(key).or_insert(json!([]));
        if let Value::Array(list) = binding {
            list.push(json!({
                "HostIp": mapping.host_ip.map(|ip| ip.to_string()).unwrap_or_default(),
                "HostPort": host_port,
            }));
        }
    }
    let running = record.status().is_active();
    let mut networks = Map::new();
    if record.config.network == NetworkMode::Bridge {
        for entry in &net.networks {
            let attached = record
                .state
                .attachments
                .iter()
                .find(|a| a.network == entry.name && running);
            let mut aliases = vec![record.short_id().to_string()];
            aliases.extend(entry.aliases.iter().cloned());
            networks.insert(
                entry.name.clone(),
                json!({
                    "NetworkID": attached.map(|a| a.network_id.clone()).unwrap_or_else(|| entry.name.clone()),
                    "IPAddress": attached.map(|a| a.address.to_string()).unwrap_or_default(),
                    "IPPrefixLen": attached.map(|a| a.prefix).unwrap_or(0),
                    "Gateway": attached.map(|a| a.gateway.to_string()).unwrap_or_default(),
                    "MacAddress": attached.map(|a| a.mac.clone()).or_else(|| entry.mac.clone()).unwrap_or_default(),
                    "Aliases": aliases,
                    "DNSNames": null,
                }),
            );
        }
    }
    let first = record.state.attachments.first().filter(|_| running);
    let settings = json!({
        "Ports": ports,
        "Networks": networks,
        "IPAddress": first.map(|a| a.address.to_string()).unwrap_or_default(),
        "IPPrefixLen": first.map(|a| a.prefix).unwrap_or(0),
        "Gateway": first.map(|a| a.gateway.to_string()).unwrap_or_default(),
        "MacAddress": first.map(|a| a.mac.clone()).unwrap_or_default(),
        "SandboxKey": if running && record.config.network.is_private() {
            record.state.pid.map(|p| format!("/proc/{}/ns/net", p.pid)).unwrap_or_default()
        } else {
            String::new()
        },
    });
    let extra_hosts: Vec<String> = net
        .extra_hosts
        .iter()
        .map(|(name, ip)| format!("{name}:{ip}"))
        .collect();
    if let Value::Object(map) = document {
        map.insert("NetworkSettings".into(), settings);
        if let Some(Value::Object(host)) = map.get_mut("HostConfig") {
            host.insert("PortBindings".into(), Value::Object(bindings));
            host.insert("PublishAllPorts".into(), json!(net.publish_all));
            host.insert("Dns".into(), json!(net.dns));
            host.insert("DnsSearch".into(), json!(net.dns_search));
            host.insert("DnsOptions".into(), json!(net.dns_options));
            host.insert("ExtraHosts".into(), json!(extra_hosts));
        }
        if let Some(Value::Object(config)) = map.get_mut("Config") {
            let exposed: Map<String, Value> = net
                .exposed
                .iter()
                .map(|(p, proto)| (format!("{p}/{proto}"), json!({})))
                .collect();
            config.insert("ExposedPorts".into(), Value::Object(exposed));
        }
    }
}
