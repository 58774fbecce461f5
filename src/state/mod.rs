//! Container records, the name index, locks, container logs and where
//! skiff keeps its files.

mod containers;
mod dirs;
pub mod liveness;
pub mod log;
pub mod names;
mod networks;
mod record;
mod secrets;
mod volumes;

use std::path::PathBuf;

pub use containers::{ContainerLock, ContainerStore};
pub use dirs::StorageDirs;
pub use liveness::ProcessIdentity;
pub use networks::{
    DEFAULT_NETWORK_ID, Lease, NetworkRecord, NetworkStore, NetworksLock, is_valid_network_name,
    pick_address,
};
pub use record::{
    ContainerConfig, ContainerPaths, ContainerRecord, ContainerState, ContainerStatus,
    HealthConfig, HealthProbe, HealthState, HealthStatus, MountKind, MountSpec, RestartPolicy,
    RunExit, SecurityRecord, UsernsRecord,
};
pub use secrets::{
    MAX_SECRET_SIZE, SecretKind, SecretRecord, SecretStore, SecretUse, SecretsLock,
    is_valid_secret_name, new_secret_id,
};
pub use volumes::{VolumeRecord, VolumeStore, VolumesLock, is_valid_volume_name};

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(
        "the container name \"{name}\" is already in use by {id}. You have to remove that container to be able to reuse that name: that name is already in use"
    )]
    NameInUse { name: String, id: String },
    #[error("invalid container name \"{name}\": names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*")]
    InvalidName { name: String },
    #[error("no container with name or ID \"{name}\" found: no such container")]
    NoSuchContainer { name: String },
    #[error("more than one result for container \"{name}\": the prefix matches {count} containers")]
    AmbiguousContainer { name: String, count: usize },
    #[error(
        "invalid restart policy \"{policy}\": use no, always, on-failure[:N] or unless-stopped"
    )]
    InvalidRestartPolicy { policy: String },
    #[error("no volume with name \"{name}\" found: no such volume")]
    NoSuchVolume { name: String },
    #[error("invalid volume name \"{name}\": names must match [a-zA-Z0-9][a-zA-Z0-9_.-]+")]
    InvalidVolumeName { name: String },
    #[error("volume {name}: its record cannot be used: {source}")]
    MalformedVolume {
        name: String,
        source: serde_json::Error,
    },
    #[error("unable to find network with name or ID {name}: network not found")]
    NoSuchNetwork { name: String },
    #[error("network {name}: its record cannot be used: {source}")]
    MalformedNetwork {
        name: String,
        source: serde_json::Error,
    },
    #[error("no secret with name or id \"{name}\": no such secret")]
    NoSuchSecret { name: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("container {id}: its record {path} cannot be used: {source}")]
    Malformed {
        id: String,
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// A fresh 64-hex-character container ID from the kernel's random pool.
pub fn new_container_id() -> String {
    let mut bytes = [0u8; 32];
    let mut filled = 0;
    while filled < bytes.len() {
        // SAFETY: the pointer and length describe the unfilled tail of `bytes`.
        let n = unsafe {
            libc::getrandom(bytes[filled..].as_mut_ptr().cast(), bytes.len() - filled, 0)
        };
        if n > 0 {
            filled += n as usize;
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_64_hex_and_differ() {
        let a = super::new_container_id();
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, super::new_container_id());
    }
}
