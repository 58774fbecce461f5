//! ENTRYPOINT and CMD as docker combines them into a container's command
//! line: one derivation, used by the planner and by `create` for inspect.

use super::spec::{ImageDefaults, PlanError};

/// The two halves of a container's command line, as `inspect` shows
/// them (`Config.Entrypoint`, `Config.Cmd`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
}

impl CommandLine {
    /// ENTRYPOINT and CMD as docker combines them: `--entrypoint` replaces
    /// the image's ENTRYPOINT and drops its CMD; arguments replace CMD.
    pub fn new(image: &ImageDefaults, entrypoint: Option<&str>, command: &[String]) -> CommandLine {
        let (entrypoint, default_cmd): (Vec<String>, &[String]) = match entrypoint {
            Some("") => (Vec::new(), &[]),
            Some(e) => (vec![e.to_string()], &[]),
            None => (image.entrypoint.clone(), &image.cmd),
        };
        let cmd = if command.is_empty() {
            default_cmd
        } else {
            command
        };
        CommandLine {
            entrypoint,
            cmd: cmd.to_vec(),
        }
    }

    /// The process's arguments; an error when both halves are empty.
    pub fn args(&self) -> Result<Vec<String>, PlanError> {
        let args: Vec<String> = self.entrypoint.iter().chain(&self.cmd).cloned().collect();
        if args.is_empty() {
            return Err(PlanError::NoCommand);
        }
        Ok(args)
    }
}
