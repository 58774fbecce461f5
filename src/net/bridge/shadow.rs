//! A port published on every address and the same port published on one
//! address live in two maps (`ports_any`, `ports_ip`), so neither map
//! refuses the other's element, and the `hostports` chain would let the
//! one-address element silently shadow the other. Checked before attach
//! makes anything: costs one `nft -j list map` per map concerned, only
//! for endpoints that publish ports.

use serde_json::Value;

use super::{BridgeError, PortForward, rules};

/// The first of `forwards` whose `proto . port` is held in the other map,
/// by another endpoint than `chain`, or by another of `forwards`.
pub(super) fn shadowed<'a>(
    chain: &str,
    forwards: &'a [PortForward],
) -> Result<Option<&'a PortForward>, BridgeError> {
    let mut listed: [Option<Vec<Value>>; 2] = [None, None];
    for forward in forwards {
        let specific = rules::host_ip(forward).is_some();
        let clash_within = forwards.iter().any(|other| {
            rules::host_ip(other).is_some() != specific
                && other.protocol == forward.protocol
                && other.host_port == forward.host_port
        });
        if clash_within {
            return Ok(Some(forward));
        }
        // The other map: every-address ports for a one-address forward.
        let (slot, map) = if specific {
            (0, "ports_any")
        } else {
            (1, "ports_ip")
        };
        if listed[slot].is_none() {
            listed[slot] = Some(super::nft::list_map_elements(map)?);
        }
        let elements = listed[slot].as_deref().unwrap_or_default();
        if elements
            .iter()
            .any(|element| holds(element, chain, forward))
        {
            return Ok(Some(forward));
        }
    }
    Ok(None)
}

/// Whether a `[key, verdict]` element keys `forward`'s protocol and port
/// and jumps to another chain than `chain`. The key is a concatenation
/// ending in protocol and port (`[addr,] proto, port`).
fn holds(element: &Value, chain: &str, forward: &PortForward) -> bool {
    let Some([key, verdict]) = element.as_array().map(Vec::as_slice) else {
        return false;
    };
    let Some(parts) = key["concat"].as_array() else {
        return false;
    };
    let [.., protocol, port] = parts.as_slice() else {
        return false;
    };
    protocol.as_str() == Some(&forward.protocol.to_string())
        && port.as_u64() == Some(u64::from(forward.host_port))
        && verdict["jump"]["target"].as_str() != Some(chain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::bridge::Protocol;

    fn forward(port: u16) -> PortForward {
        PortForward {
            host_ip: None,
            host_port: port,
            container_port: 80,
            protocol: Protocol::Tcp,
        }
    }

    #[test]
    fn an_element_holds_its_protocol_and_port_unless_it_is_the_callers() {
        let element: Value = serde_json::from_str(
            r#"[{"concat": ["127.0.0.1", "tcp", 8080]}, {"jump": {"target": "c-a-eth0"}}]"#,
        )
        .unwrap();
        assert!(holds(&element, "c-b-eth0", &forward(8080)));
        assert!(!holds(&element, "c-a-eth0", &forward(8080)));
        assert!(!holds(&element, "c-b-eth0", &forward(8081)));
        let udp = PortForward {
            protocol: Protocol::Udp,
            ..forward(8080)
        };
        assert!(!holds(&element, "c-b-eth0", &udp));
    }
}
