//! Container records, the name index and where skiff keeps its files.

mod container;
mod dirs;

pub use container::{ContainerRecord, ContainerStatus, StateError, new_container_id};
pub use dirs::StorageDirs;
