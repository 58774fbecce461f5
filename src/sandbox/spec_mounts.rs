//! The user's mounts (`-v`, `--mount`, `--tmpfs`, a build's RUN mounts)
//! as OCI mounts of the spec: binds with skiff's own options for init,
//! tmpfs, and overlays over a host directory (`:O`, a build's filtered
//! context).

use std::path::Path;

use oci_spec::runtime::Mount;

use super::spec::{CHOWN_OPTION, COPY_UP_OPTION, MountRequest, PlanError, mount};
use super::user::ResolvedUser;

pub(super) fn user_mounts(
    requests: &[MountRequest],
    user: &ResolvedUser,
    scratch_dir: &Path,
) -> Result<Vec<Mount>, PlanError> {
    requests
        .iter()
        .enumerate()
        .map(|(index, req)| match req {
            MountRequest::Bind {
                source,
                destination,
                read_only,
                copy_up,
                chown,
            } => {
                check_destination(destination)?;
                let mut opts = vec!["rbind".to_string()];
                if *read_only {
                    opts.push("ro".into());
                }
                if *copy_up {
                    opts.push(COPY_UP_OPTION.into());
                }
                if *chown {
                    opts.push(format!("{CHOWN_OPTION}={}:{}", user.uid, user.gid));
                }
                let opts: Vec<&str> = opts.iter().map(String::as_str).collect();
                mount(destination, "bind", &source.to_string_lossy(), &opts)
            }
            MountRequest::Tmpfs {
                destination,
                options,
            } => {
                check_destination(destination)?;
                let mut opts: Vec<&str> = vec!["nosuid", "nodev"];
                opts.extend(options.iter().map(String::as_str));
                mount(destination, "tmpfs", "tmpfs", &opts)
            }
            MountRequest::Overlay {
                lower,
                mask,
                destination,
                read_only,
            } => {
                check_destination(destination)?;
                let scratch = scratch_dir.join(index.to_string());
                let lowers: Vec<String> = mask
                    .iter()
                    .chain(std::iter::once(lower))
                    .map(|dir| escape_overlay_path(dir))
                    .collect();
                let mut opts = vec![
                    format!("lowerdir={}", lowers.join(":")),
                    format!("upperdir={}", scratch.join("upper").display()),
                    format!("workdir={}", scratch.join("work").display()),
                    // One store format for root and rootless, as for the
                    // root filesystem's overlay.
                    "userxattr".to_string(),
                ];
                if *read_only {
                    opts.push("ro".into());
                }
                let opts: Vec<&str> = opts.iter().map(String::as_str).collect();
                mount(destination, "overlay", "overlay", &opts)
            }
        })
        .collect()
}

/// A path in overlay's `lowerdir=`: overlayfs reads `\` as an escape,
/// so `,` (between options) and `:` (between layers) stay in the path.
fn escape_overlay_path(dir: &Path) -> String {
    let mut out = String::new();
    for c in dir.to_string_lossy().chars() {
        if matches!(c, '\\' | ',' | ':') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

pub(super) fn check_destination(dest: &str) -> Result<(), PlanError> {
    if dest.starts_with('/') {
        Ok(())
    } else {
        Err(PlanError::RelativeDestination(dest.to_string()))
    }
}
