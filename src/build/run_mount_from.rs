//! `RUN --mount=type=bind,from=<stage|image>[,source=PATH][,rw]`: the
//! source path (default `/`) of that stage's result or image is copied
//! into a scratch directory under the store's `tmp/` (planned as `COPY
//! --from` plans it, written as a COPY tar and unpacked as the store's
//! owner), bound at the target (read-only unless `rw`: then the writes go
//! to the scratch copy, which is removed after the step, so they are
//! discarded as BuildKit discards them). The tar writer has one owner
//! (0:0), so the origin's owners are set on the copy afterwards. The
//! scratch is named `mountfrom-<pid>-…`, so the store's sweep of stale
//! `tmp/` entries removes what a build killed outright left.

use std::path::{Path, PathBuf};

use super::copy_plan::{Item, Origin, clean, plan_copy};
use super::copy_tar::{TarOptions, write_copy_tar};
use super::layered::Layered;
use super::run_mount_cache::io_error;
use super::run_mounts::{MountOptions, bind, option, target_of};
use crate::engine::build_support::{as_store_owner, remove_scratch_tree};
use crate::engine::{EngineError, Reporter};
use crate::state::{MountSpec, StorageDirs};

/// The `from=` value of a bind mount, if it has one.
pub fn bind_from(text: &str) -> Option<String> {
    let options = MountOptions::parse(text);
    if option(&options.0, &["type"]).unwrap_or("bind") != "bind" {
        return None;
    }
    option(&options.0, &["from"]).map(str::to_string)
}

/// A planned `from=` bind: where its files come from and where they go.
pub struct BindFrom {
    pub layered: Layered,
    /// What errors call the origin (`stage tools`, `image busybox`).
    pub name: String,
    /// The source, relative to the origin's root (`""`: all of it).
    pub source: String,
    pub target: String,
    pub writable: bool,
}

impl BindFrom {
    /// Checks the options of `text` (a bind with `from=`); `layered` and
    /// `name` are the resolved origin.
    pub fn plan(
        text: &str,
        layered: Layered,
        name: String,
        workdir: &str,
    ) -> Result<BindFrom, String> {
        let options = MountOptions::parse(text);
        let known = [
            "type",
            "from",
            "target",
            "dst",
            "destination",
            "source",
            "src",
            "readonly",
            "ro",
            "rw",
            "readwrite",
        ];
        if let Some((k, _)) = options.0.iter().find(|(k, _)| !known.contains(&k.as_str())) {
            return Err(format!(
                "RUN --mount={text}: option {k} is not supported for type=bind"
            ));
        }
        let target = target_of(&options.0, workdir)
            .ok_or_else(|| format!("RUN --mount={text}: target is required"))?;
        let source = clean(
            option(&options.0, &["source", "src"])
                .unwrap_or("/")
                .trim_start_matches('/'),
        )
        .ok_or_else(|| format!("RUN --mount={text}: source leaves {name}"))?;
        let writable = option(&options.0, &["rw", "readwrite"]).is_some_and(|v| v != "false")
            || option(&options.0, &["readonly", "ro"]) == Some("false");
        Ok(BindFrom {
            layered,
            name,
            source,
            target,
            writable,
        })
    }

    /// Copies the source into a new scratch directory below `tmp` and
    /// gives its bind; the scratch goes when the returned guard drops.
    pub fn materialize(
        &self,
        dirs: &StorageDirs,
        reporter: &dyn Reporter,
        tmp: &Path,
    ) -> Result<(Scratch, MountSpec), EngineError> {
        let scratch = Scratch(tmp.join(format!(
            "mountfrom-{}-{}",
            std::process::id(),
            crate::state::new_container_id()
        )));
        std::fs::create_dir(&scratch.0)
            .map_err(io_error(format!("creating {}", scratch.0.display())))?;
        let source = if self.source.is_empty() {
            "/".to_string()
        } else {
            format!("/{}", self.source)
        };
        let dir = scratch.0.clone();
        as_store_owner(dirs, reporter, |_store| {
            let items = plan_copy(
                &Origin::Image(&self.layered, &self.name),
                std::slice::from_ref(&source),
                "/m",
                &Layered::default(),
                false,
            )
            .map_err(EngineError::Invalid)?;
            let tar_path = dir.join("m.tar");
            let mut tar = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&tar_path)
                .map_err(io_error("creating the mount's tar"))?;
            let _ = std::fs::remove_file(&tar_path);
            let options = TarOptions {
                owner: (0, 0),
                chmod: None,
                clamp: None,
                now: 0,
            };
            write_copy_tar(&items, &Layered::default(), &options, &mut tar)
                .map_err(|e| EngineError::Invalid(format!("copying {source}: {e}")))?;
            use std::io::{Seek, SeekFrom};
            tar.seek(SeekFrom::Start(0))
                .map_err(io_error("rewinding the mount's tar"))?;
            crate::layers::unpack_layer(&mut tar, &dir, "of the mount", None)
                .map_err(|e| EngineError::Invalid(e.to_string()))?;
            self.restore_owners(&items, &dir);
            Ok(())
        })?;
        let mount = bind(scratch.0.join("m"), self.target.clone(), !self.writable);
        Ok((scratch, mount))
    }
}

impl BindFrom {
    /// Gives the copy's entries (written 0:0 by the tar) the owners they
    /// have in the origin, read from its layers (in the store owner's
    /// namespace, where they show the image's IDs). Best effort: an entry
    /// whose owner cannot be set stays 0:0.
    fn restore_owners(&self, items: &[Item], dir: &Path) {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let base = self.layered.resolve(&self.source, false);
        let origin = |rest: &str| match (base.is_empty(), rest.is_empty()) {
            (_, true) => base.clone(),
            (true, false) => rest.to_string(),
            (false, false) => format!("{base}/{rest}"),
        };
        let top = std::iter::once("m");
        for dest in top.chain(items.iter().map(|i| i.dest.as_str())) {
            let rest = dest
                .strip_prefix('m')
                .unwrap_or(dest)
                .trim_start_matches('/');
            let Some((_, meta)) = self.layered.lookup(&origin(rest)) else {
                continue;
            };
            let path = dir.join(dest);
            if std::os::unix::fs::lchown(&path, Some(meta.uid()), Some(meta.gid())).is_err() {
                continue;
            }
            // chown drops set-user/group-ID bits: put them back.
            if !meta.file_type().is_symlink() && meta.mode() & 0o6000 != 0 {
                let mode = std::fs::Permissions::from_mode(meta.mode() & 0o7777);
                let _ = std::fs::set_permissions(&path, mode);
            }
        }
    }
}

/// A scratch directory of the build, removed on drop (a build killed
/// outright leaves it in `tmp/`, which the store's cleanup clears).
pub struct Scratch(pub PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = remove_scratch_tree(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_of_a_bind_from() {
        assert_eq!(
            bind_from("type=bind,from=tools,target=/t").as_deref(),
            Some("tools")
        );
        assert_eq!(bind_from("from=0,target=/t").as_deref(), Some("0"));
        assert_eq!(bind_from("type=cache,from=x,target=/t"), None);
        assert_eq!(bind_from("type=bind,source=a,target=/t"), None);
        let plan = |text: &str| BindFrom::plan(text, Layered::default(), "stage t".into(), "/w");
        let p = plan("type=bind,from=t,source=/out/../bin,target=x,rw").unwrap();
        assert_eq!((p.source.as_str(), p.target.as_str()), ("bin", "/w/x"));
        assert!(p.writable);
        let p = plan("type=bind,from=t,target=/x").unwrap();
        assert_eq!(p.source, "");
        assert!(!p.writable);
        for bad in [
            "type=bind,from=t",
            "type=bind,from=t,target=/x,source=../..",
            "type=bind,from=t,target=/x,uid=1",
        ] {
            assert!(plan(bad).is_err(), "{bad}");
        }
    }
}
