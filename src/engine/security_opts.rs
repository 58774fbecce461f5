//! `--security-opt seccomp=…` and `no-new-privileges`: the seccomp
//! profile and no_new_privs, checked and typed once (part of
//! `ContainerOptions::from_request`); `mask=`/`unmask=` belong to
//! `security_options`, and an unknown key is refused by both alike.

use std::path::Path;

use super::EngineError;
use crate::sandbox::seccomp::profile::{DEFAULT_PROFILE, Profile, running_kernel};

/// Which seccomp filter a container gets.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum SeccompChoice {
    /// docker's default profile.
    #[default]
    Default,
    /// `seccomp=unconfined`: no filter.
    Unconfined,
    /// `seccomp=FILE`, parsed when the option was checked.
    Profile(Profile),
}

/// The security options of one container.
#[derive(Debug, Clone, PartialEq)]
pub struct SeccompOptions {
    /// The values as given, for inspect's `.HostConfig.SecurityOpt`.
    pub given: Vec<String>,
    pub seccomp: SeccompChoice,
    /// skiff sets no_new_privs unless `no-new-privileges=false` (podman
    /// and docker default to off; see DESIGN.md).
    pub no_new_privileges: bool,
}

impl Default for SeccompOptions {
    fn default() -> SeccompOptions {
        SeccompOptions {
            given: Vec::new(),
            seccomp: SeccompChoice::Default,
            no_new_privileges: true,
        }
    }
}

impl SeccompOptions {
    /// Checks every `--security-opt` value; reads and parses a profile
    /// file, so a bad one fails before anything is created.
    pub fn parse(values: &[String]) -> Result<SeccompOptions, EngineError> {
        let mut opts = SeccompOptions {
            given: values.to_vec(),
            ..SeccompOptions::default()
        };
        for value in values {
            // docker also accepts `key:value` (its old syntax).
            let (key, arg) = match value.split_once(['=', ':']) {
                Some((k, v)) => (k, Some(v)),
                None => (value.as_str(), None),
            };
            match (key, arg) {
                ("seccomp", Some("unconfined")) => opts.seccomp = SeccompChoice::Unconfined,
                ("seccomp", Some(path)) if !path.is_empty() => {
                    opts.seccomp = SeccompChoice::Profile(read_profile(Path::new(path))?);
                }
                ("no-new-privileges", None | Some("true")) => opts.no_new_privileges = true,
                ("no-new-privileges", Some("false")) => opts.no_new_privileges = false,
                ("mask" | "unmask", _) => {}
                _ => return Err(unknown_security_opt(value)),
            }
        }
        Ok(opts)
    }

    /// The profile to plan with; `None` for no filter.
    pub fn seccomp_profile(&self) -> Option<Profile> {
        match &self.seccomp {
            SeccompChoice::Unconfined => None,
            SeccompChoice::Profile(p) => Some(p.clone()),
            SeccompChoice::Default => Some(
                Profile::parse(DEFAULT_PROFILE.as_bytes(), running_kernel())
                    .expect("the built-in seccomp profile parses"),
            ),
        }
    }
}

/// The one error for a `--security-opt` no part of skiff knows.
pub fn unknown_security_opt(value: &str) -> EngineError {
    EngineError::Invalid(format!(
        "invalid --security-opt \"{value}\": supported are seccomp=unconfined, seccomp=PROFILE.json, no-new-privileges[=true|false], mask=PATHS and unmask=PATHS|ALL"
    ))
}

fn read_profile(path: &Path) -> Result<Profile, EngineError> {
    let bad = |problem: String| {
        EngineError::Invalid(format!("seccomp profile {}: {problem}", path.display()))
    };
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    Profile::parse(&bytes, running_kernel()).map_err(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(values: &[&str]) -> Result<SeccompOptions, EngineError> {
        SeccompOptions::parse(&values.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn defaults_and_switches() {
        let d = parse(&[]).unwrap();
        assert_eq!(d.seccomp, SeccompChoice::Default);
        assert!(d.no_new_privileges);
        let o = parse(&["seccomp=unconfined", "no-new-privileges=false"]).unwrap();
        assert_eq!(o.seccomp, SeccompChoice::Unconfined);
        assert!(!o.no_new_privileges);
        assert_eq!(o.given, ["seccomp=unconfined", "no-new-privileges=false"]);
        assert!(parse(&["no-new-privileges"]).unwrap().no_new_privileges);
        assert!(
            parse(&["no-new-privileges:true"])
                .unwrap()
                .no_new_privileges
        );
    }

    #[test]
    fn bad_values_are_one_line_errors() {
        for bad in [
            "seccomp",
            "seccomp=",
            "no-new-privileges=maybe",
            "apparmor=x",
        ] {
            let e = parse(&[bad]).unwrap_err().to_string();
            assert!(e.contains(bad) && !e.contains('\n'), "{e}");
        }
        let e = parse(&["seccomp=/nonexistent/p.json"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/p.json"), "{e}");
    }

    #[test]
    fn profile_file_is_parsed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.json");
        std::fs::write(&path, "{\"defaultAction\": 3}").unwrap();
        let e = parse(&[&format!("seccomp={}", path.display())])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&path.display().to_string()) && !e.contains('\n'),
            "{e}"
        );
        std::fs::write(&path, r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#).unwrap();
        let ok = parse(&[&format!("seccomp={}", path.display())]).unwrap();
        assert!(matches!(ok.seccomp, SeccompChoice::Profile(_)));
    }
}
