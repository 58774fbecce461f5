//! A run's side of networking: addresses, links and hosts files.

use crate::state::NetworkRecord;

/// Removes the network's bridge and rules, if any exist (best effort).
pub fn remove_network_links(_network: &NetworkRecord) {}
