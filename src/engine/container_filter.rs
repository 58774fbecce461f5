//! `skiff ps`'s selection: docker's and podman's filters `status=`,
//! `name=`, `id=`, `label=KEY[=VALUE]`, `ancestor=`, `exited=N` (combined
//! by `matches_all`; the verbs' `--filter` uses them too, through
//! `selection`), the sort orders, `--last`/`--latest`, and the size of a
//! container's writable layer. Parsed before any container is read, so a
//! bad filter is an error even when no container exists.

use std::str::FromStr;

use super::EngineError;
use super::label_filter::LabelFilter;
use super::lookup::list_containers;
use crate::layers::tree_size;
use crate::state::{ContainerRecord, ContainerStatus, ContainerStore, StorageDirs};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerFilter {
    Status(ContainerStatus),
    /// A substring of the name.
    Name(String),
    /// A prefix of the ID.
    Id(String),
    Label(LabelFilter),
    /// An image name, `name:tag`, or an ID prefix.
    Ancestor(String),
    Exited(i32),
}

const STATUSES: [ContainerStatus; 5] = [
    ContainerStatus::Created,
    ContainerStatus::Running,
    ContainerStatus::Paused,
    ContainerStatus::Stopping,
    ContainerStatus::Exited,
];

impl FromStr for ContainerFilter {
    type Err = EngineError;

    fn from_str(filter: &str) -> Result<ContainerFilter, EngineError> {
        let invalid =
            |why: &str| EngineError::Invalid(format!("invalid filter \"{filter}\": {why}"));
        let (key, value) = filter
            .split_once('=')
            .ok_or_else(|| invalid("expected KEY=VALUE"))?;
        Ok(match key {
            "status" => {
                let status = STATUSES.into_iter().find(|s| s.as_str() == value);
                let names: Vec<&str> = STATUSES.iter().map(|s| s.as_str()).collect();
                ContainerFilter::Status(status.ok_or_else(|| {
                    invalid(&format!("status must be one of {}", names.join(", ")))
                })?)
            }
            "name" => ContainerFilter::Name(value.to_string()),
            "id" => ContainerFilter::Id(value.to_string()),
            "label" => ContainerFilter::Label(LabelFilter::parse(value)),
            "ancestor" => ContainerFilter::Ancestor(value.to_string()),
            "exited" => ContainerFilter::Exited(
                value
                    .parse()
                    .map_err(|_| invalid("exited takes a number"))?,
            ),
            _ => return Err(invalid("use status, name, id, label, ancestor or exited")),
        })
    }
}

impl ContainerFilter {
    pub fn matches(&self, record: &ContainerRecord) -> bool {
        match self {
            ContainerFilter::Status(status) => record.status() == *status,
            ContainerFilter::Name(part) => record.name.contains(part.as_str()),
            ContainerFilter::Id(prefix) => record.id.starts_with(prefix.as_str()),
            ContainerFilter::Label(label) => label.matches(&record.config.labels),
            ContainerFilter::Ancestor(image) => {
                record.image == *image
                    || record
                        .image_id
                        .trim_start_matches("sha256:")
                        .starts_with(image.trim_start_matches("sha256:"))
                    || record.image.split(':').next() == Some(image.as_str())
            }
            ContainerFilter::Exited(code) => {
                record.status() == ContainerStatus::Exited && record.state.exit_code == Some(*code)
            }
        }
    }
}

impl ContainerFilter {
    /// The filter's key: filters with the same key are alternatives.
    fn key(&self) -> &'static str {
        match self {
            ContainerFilter::Status(_) => "status",
            ContainerFilter::Name(_) => "name",
            ContainerFilter::Id(_) => "id",
            ContainerFilter::Label(_) => "label",
            ContainerFilter::Ancestor(_) => "ancestor",
            ContainerFilter::Exited(_) => "exited",
        }
    }
}

/// podman's rule for several filters: those with the same key are
/// alternatives (`status=created --filter status=exited` takes both),
/// except `label`, where every one must hold; different keys must all
/// hold. No filters select everything.
pub fn matches_all(filters: &[ContainerFilter], record: &ContainerRecord) -> bool {
    filters.iter().all(|f| {
        f.matches(record)
            || (f.key() != "label"
                && filters
                    .iter()
                    .any(|other| other.key() == f.key() && other.matches(record)))
    })
}

/// `ps --sort`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContainerSort {
    Command,
    /// Newest first, `ps`'s default.
    #[default]
    Created,
    Id,
    Image,
    Names,
    RunningFor,
    Size,
    Status,
}

impl FromStr for ContainerSort {
    type Err = EngineError;

    fn from_str(text: &str) -> Result<ContainerSort, EngineError> {
        Ok(match text {
            "command" => ContainerSort::Command,
            "created" => ContainerSort::Created,
            "id" => ContainerSort::Id,
            "image" => ContainerSort::Image,
            "names" => ContainerSort::Names,
            "runningfor" => ContainerSort::RunningFor,
            "size" => ContainerSort::Size,
            "status" => ContainerSort::Status,
            other => {
                return Err(EngineError::Invalid(format!(
                    "invalid sort field \"{other}\": use command, created, id, image, names, runningfor, size or status"
                )));
            }
        })
    }
}

/// Which containers `ps` shows, and in what order.
#[derive(Debug, Clone, Default)]
pub struct ContainerQuery {
    /// Stopped and created ones too (`-a`; implied by a limit).
    pub all: bool,
    /// The newest N only (`--last N`, `--latest`).
    pub limit: Option<usize>,
    pub filters: Vec<ContainerFilter>,
    pub sort: ContainerSort,
}

/// The containers `query` selects, refreshed and sorted.
pub fn select_containers(
    dirs: &StorageDirs,
    query: &ContainerQuery,
) -> Result<Vec<ContainerRecord>, EngineError> {
    let show_all = query.all || query.limit.is_some();
    let mut kept: Vec<ContainerRecord> = list_containers(dirs)?
        .into_iter()
        .filter(|r| show_all || r.status().is_active())
        .filter(|r| matches_all(&query.filters, r))
        .collect();
    if let Some(n) = query.limit {
        kept.truncate(n);
    }
    match query.sort {
        ContainerSort::Created => {}
        ContainerSort::Id => kept.sort_by(|a, b| a.id.cmp(&b.id)),
        ContainerSort::Image => kept.sort_by(|a, b| a.image.cmp(&b.image)),
        ContainerSort::Names => kept.sort_by(|a, b| a.name.cmp(&b.name)),
        ContainerSort::Command => kept.sort_by(|a, b| a.config.args.cmp(&b.config.args)),
        ContainerSort::Status => kept.sort_by_key(|r| r.status().as_str()),
        ContainerSort::RunningFor => {
            kept.sort_by(|a, b| b.state.started_at.cmp(&a.state.started_at))
        }
        ContainerSort::Size => kept.sort_by_key(|r| writable_layer_size(dirs, &r.id)),
    }
    Ok(kept)
}

/// Bytes in the container's writable layer (`ps --size`).
pub fn writable_layer_size(dirs: &StorageDirs, id: &str) -> u64 {
    tree_size(&ContainerStore::new(dirs).paths(id).dir.join("upper"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{ContainerConfig, ContainerState};

    fn record(name: &str, status: ContainerStatus, exit_code: Option<i32>) -> ContainerRecord {
        let mut config = ContainerConfig::default();
        config.labels.insert("tier".into(), "web".into());
        ContainerRecord {
            id: format!("abc{name}"),
            name: name.into(),
            image: "busybox:latest".into(),
            image_id: "sha256:1234abcd".into(),
            created: String::new(),
            config,
            state: ContainerState {
                status: Some(status),
                exit_code,
                ..ContainerState::default()
            },
        }
    }

    #[test]
    fn filters_match_as_docker_does() {
        let web = record("web1", ContainerStatus::Exited, Some(3));
        let yes = [
            "status=exited",
            "name=eb",
            "id=abcweb",
            "label=tier",
            "label=tier=web",
            "ancestor=busybox",
            "ancestor=busybox:latest",
            "ancestor=1234",
            "exited=3",
        ];
        for f in yes {
            assert!(f.parse::<ContainerFilter>().unwrap().matches(&web), "{f}");
        }
        let no = [
            "status=running",
            "name=db",
            "label=tier=db",
            "ancestor=alpine",
            "exited=0",
        ];
        for f in no {
            assert!(!f.parse::<ContainerFilter>().unwrap().matches(&web), "{f}");
        }
    }

    #[test]
    fn same_key_filters_are_alternatives_except_labels() {
        let web = record("web1", ContainerStatus::Exited, Some(3));
        let holds = |filters: &[&str]| {
            let parsed: Vec<ContainerFilter> = filters.iter().map(|f| f.parse().unwrap()).collect();
            matches_all(&parsed, &web)
        };
        assert!(holds(&[]));
        assert!(holds(&["status=running", "status=exited"]));
        assert!(holds(&["name=db", "name=web", "exited=3"]));
        assert!(!holds(&["status=running", "status=created"]));
        assert!(!holds(&["status=exited", "name=db"]));
        assert!(holds(&["label=tier", "label=tier=web"]));
        assert!(!holds(&["label=tier=web", "label=tier=db"]));
    }

    #[test]
    fn bad_filters_and_sorts_are_refused_by_name() {
        for bad in ["status=sleeping", "exited=x", "colour=red", "nokey"] {
            let err = bad.parse::<ContainerFilter>().unwrap_err().to_string();
            assert!(err.contains(bad), "{err}");
        }
        let err = "age".parse::<ContainerSort>().unwrap_err().to_string();
        assert!(err.contains("\"age\""), "{err}");
    }
}
