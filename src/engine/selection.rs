//! Which containers a verb acts on: the names the user gave, the IDs in
//! `--cidfile` files, `--all`, `--latest`, or `--filter`. `rm`, `stop`,
//! `kill`, `start`, `restart`, `pause` and `unpause` all choose their
//! containers here, with podman's rules for which of those go together
//! (its `CheckAllLatestAndIDFile`), so a compose front-end and the CLI
//! agree on what `stop --filter label=x` means.

use std::path::PathBuf;

use super::EngineError;
use super::container_filter::{ContainerFilter, matches_all};
use super::lookup::list_containers;
use crate::state::{ContainerRecord, ContainerStatus, StorageDirs};

/// What the user said about which containers to act on.
#[derive(Debug, Clone, Default)]
pub struct ContainerSelection {
    /// Names or ID prefixes, in the order given.
    pub names: Vec<String>,
    /// Files holding a container ID on their first line (`run --cidfile`).
    pub cidfiles: Vec<PathBuf>,
    /// `--all`: every container the verb's [`AllScope`] takes.
    pub all: bool,
    /// `--latest`: the most recently created container.
    pub latest: bool,
    /// `--filter`: every container these select (`ps --filter`'s rules).
    pub filters: Vec<ContainerFilter>,
    /// `--ignore`: a cidfile that does not exist selects nothing.
    pub ignore_missing: bool,
    /// `restart --running`: every running container, whatever else chose
    /// (podman's reading; the other choices are still checked).
    pub running: bool,
}

/// Which containers `--all` means for a verb.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllScope {
    /// Every container (`rm`, `restart`).
    Every,
    /// Running, paused or stopping ones (`stop`, `kill`).
    Active,
    /// Created or exited ones (`start`).
    Inactive,
    /// Running ones (`pause`, `restart --running`).
    Running,
    /// Paused ones (`unpause`).
    Paused,
}

impl AllScope {
    fn takes(self, record: &ContainerRecord) -> bool {
        let status = record.status();
        match self {
            AllScope::Every => true,
            AllScope::Active => status.is_active(),
            AllScope::Inactive => !status.is_active(),
            AllScope::Running => status == ContainerStatus::Running,
            AllScope::Paused => status == ContainerStatus::Paused,
        }
    }
}

/// One container a verb is to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// What to look the container up by, and what the verb prints when
    /// done: the name as given, the ID read from a cidfile, or the full
    /// ID of a container `--all`, `--latest` or `--filter` chose.
    pub name: String,
    /// The cidfile the ID came from (`rm` removes it with the container).
    pub cidfile: Option<PathBuf>,
}

impl Target {
    fn of(name: impl Into<String>) -> Target {
        Target {
            name: name.into(),
            cidfile: None,
        }
    }
}

impl ContainerSelection {
    /// Refuses combinations podman refuses, with its words, before any
    /// container is touched.
    pub fn validate(&self) -> Result<(), EngineError> {
        let refuse = |text: &str| Err(EngineError::Invalid(text.to_string()));
        let has_names = !self.names.is_empty();
        let has_cidfiles = !self.cidfiles.is_empty();
        if !self.filters.is_empty() {
            // podman lets --filter narrow --all or --latest but not names.
            return if has_names {
                refuse("--filter takes no arguments")
            } else {
                Ok(())
            };
        }
        if has_cidfiles && (self.all || self.latest) {
            return refuse("--all, --latest, and --cidfile cannot be used together");
        }
        if self.all && self.latest {
            return refuse("--all and --latest cannot be used together");
        }
        if has_names && self.all {
            return refuse("no arguments are needed with --all");
        }
        if has_names && self.latest {
            return refuse("--latest and containers cannot be used together");
        }
        if has_names && has_cidfiles {
            return refuse("no arguments are needed with --latest or --cidfile");
        }
        if !has_names && !has_cidfiles && !self.all && !self.latest {
            return refuse("you must provide at least one name or id");
        }
        Ok(())
    }

    /// `start`'s rules on top of [`validate`](Self::validate), podman's:
    /// one container at most to attach to, and `--sig-proxy` only when
    /// attaching. Returns whether signals are proxied (by default, when
    /// attaching).
    pub fn validate_start(
        &self,
        attach: bool,
        sig_proxy: Option<bool>,
    ) -> Result<bool, EngineError> {
        self.validate()?;
        let refuse = |text: &str| Err(EngineError::Invalid(text.to_string()));
        if attach && self.all {
            return refuse("you cannot start and attach all containers at once");
        }
        if attach && self.names.len() > 1 {
            return refuse("you cannot start and attach multiple containers at once");
        }
        let sig_proxy = sig_proxy.unwrap_or(attach);
        if sig_proxy && !attach {
            return refuse("you cannot use sig-proxy without --attach: invalid argument");
        }
        Ok(sig_proxy)
    }

    /// The containers selected, in the order the user gave them (names,
    /// then cidfiles), newest first for `--all`, `--latest` and
    /// `--filter`. Names are not looked up here: a missing one is the
    /// verb's error for that name, as in podman, so the others still run.
    pub fn resolve(&self, dirs: &StorageDirs, scope: AllScope) -> Result<Vec<Target>, EngineError> {
        self.validate()?;
        if self.running {
            return Ok(list_containers(dirs)?
                .into_iter()
                .filter(|r| AllScope::Running.takes(r))
                .map(|r| Target::of(r.id))
                .collect());
        }
        if !self.filters.is_empty() {
            return Ok(list_containers(dirs)?
                .into_iter()
                .filter(|r| matches_all(&self.filters, r))
                .filter(|r| !self.all || scope.takes(r))
                .take(if self.latest { 1 } else { usize::MAX })
                .map(|r| Target::of(r.id))
                .collect());
        }
        if self.all {
            return Ok(list_containers(dirs)?
                .into_iter()
                .filter(|r| scope.takes(r))
                .map(|r| Target::of(r.id))
                .collect());
        }
        if self.latest {
            return Ok(list_containers(dirs)?
                .into_iter()
                .next()
                .map(|r| Target::of(r.id))
                .into_iter()
                .collect());
        }
        let mut targets: Vec<Target> = self.names.iter().map(Target::of).collect();
        for path in &self.cidfiles {
            match read_cidfile(path) {
                Ok(id) => targets.push(Target {
                    name: id,
                    cidfile: Some(path.clone()),
                }),
                Err(e) if self.ignore_missing && e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(EngineError::Invalid(format!(
                        "reading CIDFile: open {}: {}",
                        path.display(),
                        io_error_text(&e)
                    )));
                }
            }
        }
        Ok(targets)
    }
}

/// The container ID in a cidfile: its first line (podman's reading).
fn read_cidfile(path: &std::path::Path) -> std::io::Result<String> {
    let text = std::fs::read_to_string(path)?;
    Ok(text.lines().next().unwrap_or_default().trim().to_string())
}

/// An I/O error as Go prints it: `no such file or directory`, without
/// Rust's `(os error 2)`.
fn io_error_text(error: &std::io::Error) -> String {
    match error.raw_os_error() {
        Some(errno) => nix::errno::Errno::from_raw(errno).desc().to_lowercase(),
        None => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selection() -> ContainerSelection {
        ContainerSelection::default()
    }

    #[test]
    fn podmans_conflicting_combinations_are_refused_in_its_words() {
        let names = || vec!["web".to_string()];
        let cidfiles = || vec![PathBuf::from("/tmp/cid")];
        let filters = || vec!["label=x".parse().unwrap()];
        let cases = [
            (
                ContainerSelection {
                    names: names(),
                    filters: filters(),
                    ..selection()
                },
                "--filter takes no arguments",
            ),
            (
                ContainerSelection {
                    cidfiles: cidfiles(),
                    all: true,
                    ..selection()
                },
                "--all, --latest, and --cidfile cannot be used together",
            ),
            (
                ContainerSelection {
                    all: true,
                    latest: true,
                    ..selection()
                },
                "--all and --latest cannot be used together",
            ),
            (
                ContainerSelection {
                    names: names(),
                    all: true,
                    ..selection()
                },
                "no arguments are needed with --all",
            ),
            (
                ContainerSelection {
                    names: names(),
                    latest: true,
                    ..selection()
                },
                "--latest and containers cannot be used together",
            ),
            (
                ContainerSelection {
                    names: names(),
                    cidfiles: cidfiles(),
                    ..selection()
                },
                "no arguments are needed with --latest or --cidfile",
            ),
            (selection(), "you must provide at least one name or id"),
        ];
        for (sel, text) in cases {
            assert_eq!(sel.validate().unwrap_err().to_string(), text, "{sel:?}");
        }
    }

    #[test]
    fn each_way_of_choosing_alone_is_accepted() {
        let ok = [
            ContainerSelection {
                names: vec!["a".into(), "b".into()],
                ..selection()
            },
            ContainerSelection {
                cidfiles: vec![PathBuf::from("/x"), PathBuf::from("/y")],
                ..selection()
            },
            ContainerSelection {
                all: true,
                ..selection()
            },
            ContainerSelection {
                latest: true,
                ..selection()
            },
            ContainerSelection {
                filters: vec!["status=running".parse().unwrap()],
                all: true,
                ..selection()
            },
        ];
        for sel in ok {
            assert!(sel.validate().is_ok(), "{sel:?}");
        }
    }

    #[test]
    fn start_attaches_to_one_container_and_proxies_signals_only_then() {
        let one = ContainerSelection {
            names: vec!["a".into()],
            ..selection()
        };
        assert!(one.validate_start(true, None).unwrap());
        assert!(!one.validate_start(true, Some(false)).unwrap());
        assert!(!one.validate_start(false, None).unwrap());
        assert!(!one.validate_start(false, Some(false)).unwrap());
        let err = one.validate_start(false, Some(true)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "you cannot use sig-proxy without --attach: invalid argument"
        );
        let two = ContainerSelection {
            names: vec!["a".into(), "b".into()],
            ..selection()
        };
        assert!(two.validate_start(true, None).is_err());
        let all = ContainerSelection {
            all: true,
            ..selection()
        };
        assert!(all.validate_start(true, None).is_err());
        assert!(all.validate_start(false, None).is_ok());
    }

    #[test]
    fn a_cidfile_gives_its_first_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cid");
        std::fs::write(&path, "abc123\nrest\n").unwrap();
        assert_eq!(read_cidfile(&path).unwrap(), "abc123");
    }
}
