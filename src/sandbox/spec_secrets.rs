//! `--secret` in the planned spec: each secret named (not its value) in
//! an annotation, and a `mount` secret's per-run file bound read-only at
//! its target, given to its owner by init (`skiff.chown`).

use std::collections::HashMap;
use std::path::PathBuf;

use oci_spec::runtime::Mount;

use super::{CHOWN_OPTION, PlanError, RunPlan, check_destination, maps_container_id, mount};

/// The annotation prefix: `io.skiff.secret.N` for the Nth `--secret`.
pub const SECRET_ANNOTATION: &str = "io.skiff.secret";

/// One `--secret` of a container as the plan sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedSecret {
    pub name: String,
    pub id: String,
    /// `Some(file)`: a per-run file (under the runroot) bound at `target`;
    /// `None`: an environment variable named `target`, set at start.
    pub source: Option<PathBuf>,
    pub target: String,
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
}

pub(super) fn secret_annotations(secrets: &[PlannedSecret]) -> HashMap<String, String> {
    secrets
        .iter()
        .enumerate()
        .map(|(index, s)| {
            let kind = if s.source.is_some() { "mount" } else { "env" };
            (
                format!("{SECRET_ANNOTATION}.{index}"),
                format!(
                    "name={},id={},type={kind},target={},uid={},gid={},mode={:04o}",
                    s.name, s.id, s.target, s.uid, s.gid, s.mode
                ),
            )
        })
        .collect()
}

pub(super) fn secret_mounts(plan: &RunPlan) -> Result<Vec<Mount>, PlanError> {
    plan.secrets
        .iter()
        .filter_map(|s| s.source.as_ref().map(|source| (s, source)))
        .map(|(s, source)| {
            check_destination(&s.target)?;
            // Init's chown would fail at every start: refuse at create.
            if let Some((uids, gids)) = &plan.id_mappings
                && !(maps_container_id(uids, s.uid) && maps_container_id(gids, s.gid))
            {
                return Err(PlanError::UnmappedSecretOwner {
                    destination: s.target.clone(),
                    uid: s.uid,
                    gid: s.gid,
                });
            }
            let chown = format!("{CHOWN_OPTION}={}:{}", s.uid, s.gid);
            let opts = ["rbind", "ro", "nosuid", "nodev", "noexec", chown.as_str()];
            mount(&s.target, "bind", &source.to_string_lossy(), &opts)
        })
        .collect()
}
