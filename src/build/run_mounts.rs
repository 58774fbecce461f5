//! `RUN --mount=…` as mounts of the step's container: `type=cache` a
//! directory kept under the store (`build-mounts/cache/<id>`, shared by
//! id between builds), `type=bind` a read-only view of the context (or a
//! part of it: resolved inside the context, its content digest part of
//! the step's cache key), `type=tmpfs`, and `type=secret` a build secret
//! (`--secret id=…,src=FILE`) mounted read-only at `/run/secrets/<id>`.
//! A mount's destination is a mount point of the container, so what is
//! below it never enters the step's layer (the upper-dir walk leaves
//! mount points out).

use std::fs;
use std::path::PathBuf;

use super::context::Context;
use super::context_mask::ContextMasks;
use super::copy_plan::{Origin, clean, content_digest, plan_copy};
use super::layered::Layered;
pub use super::run_mount_cache::CacheMount;
use crate::layers::Digest;
use crate::state::{MountKind, MountSpec};

/// What the step's container gets besides its image.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RunMounts {
    /// Bind mounts, typed: host paths never pass through `--mount` text
    /// (a `,` in one would split it).
    pub mounts: Vec<MountSpec>,
    /// `--tmpfs` values.
    pub tmpfs: Vec<String>,
    /// Cache directories of `sharing=locked` mounts, whose lock files
    /// the step holds (exclusive flock) while it runs.
    pub locks: Vec<PathBuf>,
    /// Cache directories of `sharing=shared` mounts: their lock files
    /// are held shared while the step runs, when free (never waited for),
    /// so a `sharing=private` step sees the cache in use.
    pub shared: Vec<PathBuf>,
    /// What the step's cache key needs of the mounts (bind sources'
    /// content digests).
    pub keys: Vec<String>,
    /// Cache mounts with an owner or mode, or `sharing=private`: made
    /// when the step runs (`run_mount_cache.rs`).
    pub caches: Vec<CacheMount>,
}

/// A secret the build was given (`--secret id=ID,src=FILE`).
#[derive(Debug, Clone)]
pub struct BuildSecret {
    pub id: String,
    pub source: PathBuf,
}

/// Where the build's mounts come from.
pub struct MountSources<'a> {
    pub context: Option<&'a Context>,
    pub secrets: &'a [BuildSecret],
    /// `<store>/build-mounts/cache`.
    pub cache_root: PathBuf,
    /// WORKDIR, for relative targets.
    pub workdir: &'a str,
    /// The context as `.dockerignore` leaves it, for binds.
    pub masks: &'a ContextMasks,
}

pub(super) fn target_of(options: &[(String, String)], workdir: &str) -> Option<String> {
    let raw = options
        .iter()
        .find(|(k, _)| matches!(k.as_str(), "target" | "dst" | "destination"))
        .map(|(_, v)| v.clone())?;
    let joined = if raw.starts_with('/') {
        raw
    } else {
        format!("{workdir}/{raw}")
    };
    Some(format!("/{}", clean(&joined)?))
}

pub(super) fn option<'o>(options: &'o [(String, String)], names: &[&str]) -> Option<&'o str> {
    options
        .iter()
        .find(|(k, _)| names.contains(&k.as_str()))
        .map(|(_, v)| v.as_str())
}

/// A `--mount=` value's `key=value` options (keys lowercased; a bare
/// key is `true`).
pub(super) struct MountOptions(pub Vec<(String, String)>);

impl MountOptions {
    pub(super) fn parse(text: &str) -> MountOptions {
        MountOptions(
            text.split(',')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, "true"));
                    (k.to_ascii_lowercase(), v.to_string())
                })
                .collect(),
        )
    }
}

/// A bind mount of host path `source` at `target` (absolute, cleaned).
pub fn bind(source: PathBuf, target: String, read_only: bool) -> MountSpec {
    MountSpec {
        kind: MountKind::Bind { source },
        destination: target,
        read_only,
        propagation: None,
        chown: false,
        copy_up: true,
        overlay: false,
        overlay_mask: None,
        mode: if read_only {
            "ro".into()
        } else {
            String::new()
        },
    }
}

/// Plans one `--mount=` value (already substituted).
pub fn plan_mount(
    text: &str,
    sources: &MountSources<'_>,
    out: &mut RunMounts,
) -> Result<(), String> {
    let options = MountOptions::parse(text).0;
    let kind = option(&options, &["type"]).unwrap_or("bind");
    let known: &[&str] = match kind {
        "cache" => &[
            "type",
            "target",
            "dst",
            "destination",
            "id",
            "sharing",
            "readonly",
            "ro",
            "uid",
            "gid",
            "mode",
        ],
        "bind" => &[
            "type",
            "target",
            "dst",
            "destination",
            "source",
            "src",
            "readonly",
            "ro",
            "rw",
            "readwrite",
        ],
        "tmpfs" => &["type", "target", "dst", "destination", "size"],
        "secret" => &["type", "target", "dst", "destination", "id", "required"],
        other => {
            return Err(format!(
                "RUN --mount type={other} is not supported (cache, bind, tmpfs, secret are)"
            ));
        }
    };
    if let Some((k, _)) = options.iter().find(|(k, _)| !known.contains(&k.as_str())) {
        return Err(format!(
            "RUN --mount={text}: option {k} is not supported for type={kind}"
        ));
    }
    let read_only = option(&options, &["readonly", "ro"]).is_some_and(|v| v != "false");
    match kind {
        "cache" => {
            let target = target_of(&options, sources.workdir)
                .ok_or_else(|| format!("RUN --mount={text}: target is required"))?;
            let id = option(&options, &["id"]).unwrap_or(&target);
            let dir = sources
                .cache_root
                .join(Digest::of_bytes(id.as_bytes()).hex());
            let number = |name: &str, radix: u32| -> Result<Option<u32>, String> {
                option(&options, &[name])
                    .map(|v| u32::from_str_radix(v, radix))
                    .transpose()
                    .map_err(|_| format!("RUN --mount={text}: {name} is not a number"))
            };
            let owner = (number("uid", 10)?, number("gid", 10)?);
            let mode = number("mode", 8)?;
            if mode.is_some_and(|m| m > 0o7777) {
                return Err(format!("RUN --mount={text}: mode is not a file mode"));
            }
            let private = match option(&options, &["sharing"]).unwrap_or("shared") {
                "shared" => {
                    out.shared.push(dir.clone());
                    false
                }
                // One step at a time uses the directory.
                "locked" => {
                    out.locks.push(dir.clone());
                    false
                }
                "private" => true,
                other => {
                    return Err(format!(
                        "RUN --mount={text}: sharing={other} is not supported (shared, locked, private are)"
                    ));
                }
            };
            if private || owner != (None, None) || mode.is_some() {
                out.caches.push(CacheMount {
                    dir,
                    private,
                    target,
                    read_only,
                    uid: owner.0.unwrap_or(0),
                    gid: owner.1.unwrap_or(0),
                    mode: mode.unwrap_or(0o755),
                });
                return Ok(());
            }
            fs::create_dir_all(&dir)
                .map_err(|e| format!("creating the cache mount {}: {e}", dir.display()))?;
            out.mounts.push(bind(dir, target, read_only));
        }
        "bind" => {
            let target = target_of(&options, sources.workdir)
                .ok_or_else(|| format!("RUN --mount={text}: target is required"))?;
            // BuildKit's binds are read-only unless `rw`; the writes of a
            // writable one are the step's own and go with it.
            let writable = option(&options, &["rw", "readwrite"]).is_some_and(|v| v != "false")
                || option(&options, &["readonly", "ro"]) == Some("false");
            let context = sources
                .context
                .filter(|c| c.fs_root.is_some())
                .ok_or_else(|| format!("RUN --mount={text}: no build context to bind"))?;
            let root = context.fs_root.as_ref().expect("filtered above");
            let rel = clean(
                option(&options, &["source", "src"])
                    .unwrap_or(".")
                    .trim_start_matches('/'),
            )
            .ok_or_else(|| format!("RUN --mount={text}: source leaves the build context"))?;
            let missing = || format!("RUN --mount={text}: {rel:?} is not in the build context");
            // Symlinks on the way resolved: the rules see the path the
            // files were sent under.
            let (source, real) = root.resolve(&rel).map_err(|_| missing())?;
            let is_dir = fs::metadata(&source).map_err(|_| missing())?.is_dir();
            // What `.dockerignore` excludes was never sent (BuildKit).
            if context.is_excluded(&real) && !(is_dir && context.rules.may_include_below(&real)) {
                return Err(missing());
            }
            out.keys
                .push(format!("bind {rel:?} {}", bind_digest(context, &rel)));
            let mask = if is_dir {
                sources.masks.mask_for(context, root, &real).map_err(|e| {
                    format!("RUN --mount={text}: reading {rel:?} in the build context: {e}")
                })?
            } else {
                None
            };
            if !is_dir && writable {
                return Err(format!(
                    "RUN --mount={text}: a writable bind of a single file is not supported (bind its directory)"
                ));
            }
            let mut mount = bind(source, target, !writable);
            // Excluded entries hidden, writes kept from the context: an
            // overlay (`context_mask.rs`), never a writable bind.
            if mask.is_some() || writable {
                mount.overlay = true;
                mount.overlay_mask = mask;
            }
            out.mounts.push(mount);
        }
        "tmpfs" => {
            let target = target_of(&options, sources.workdir)
                .ok_or_else(|| format!("RUN --mount={text}: target is required"))?;
            match option(&options, &["size"]) {
                Some(size) => out.tmpfs.push(format!("{target}:size={size}")),
                None => out.tmpfs.push(target),
            }
        }
        _ => {
            let id = option(&options, &["id"])
                .map(str::to_string)
                .or_else(|| {
                    target_of(&options, sources.workdir)
                        .and_then(|t| t.rsplit('/').next().map(str::to_string))
                })
                .ok_or_else(|| format!("RUN --mount={text}: id is required"))?;
            let target = match target_of(&options, sources.workdir) {
                Some(target) => target,
                None => clean(&format!("run/secrets/{id}"))
                    .map(|t| format!("/{t}"))
                    .ok_or_else(|| format!("RUN --mount={text}: id {id:?} leaves /"))?,
            };
            let required = option(&options, &["required"]).is_some_and(|v| v != "false");
            match sources.secrets.iter().find(|s| s.id == id) {
                Some(secret) => out.mounts.push(bind(secret.source.clone(), target, true)),
                None if required => {
                    return Err(format!(
                        "RUN --mount={text}: secret {id} was not given (--secret id={id},src=FILE)"
                    ));
                }
                None => {}
            }
        }
    }
    Ok(())
}

/// The content digest of a bound context path (as COPY's sources are
/// hashed), so a change of what the step sees is a cache miss.
fn bind_digest(context: &Context, rel: &str) -> String {
    let source = if rel.is_empty() { "." } else { rel };
    plan_copy(
        &Origin::Context(context),
        &[source.to_string()],
        "/mnt/",
        &Layered::default(),
        false,
    )
    .map_err(|e| e.to_string())
    .and_then(|items| content_digest(&items).map_err(|e| e.to_string()))
    .unwrap_or_else(|e| format!("unreadable: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::context::load_context;
    use crate::build::request::{ContextSource, DockerfileSource};

    #[test]
    fn each_type_becomes_a_mount() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("go.sum"), "x").unwrap();
        fs::write(tmp.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        let context = load_context(
            &ContextSource::Dir(tmp.path().into()),
            &DockerfileSource::Default,
            tmp.path().join("unused"),
        )
        .unwrap();
        let secret = tmp.path().join("s");
        let secrets = [BuildSecret {
            id: "tok".into(),
            source: secret.clone(),
        }];
        let sources = MountSources {
            context: Some(&context),
            secrets: &secrets,
            cache_root: tmp.path().join("cache"),
            workdir: "/src",
            masks: &ContextMasks::new(tmp.path()),
        };
        let mut out = RunMounts::default();
        for text in [
            "type=cache,target=/root/.cache",
            "type=bind,source=go.sum,target=go.sum",
            "type=tmpfs,target=/scratch,size=10m",
            "type=secret,id=tok",
            "type=secret,id=absent",
        ] {
            plan_mount(text, &sources, &mut out).unwrap();
        }
        let cache = tmp
            .path()
            .join("cache")
            .join(Digest::of_bytes(b"/root/.cache").hex());
        assert!(cache.is_dir());
        assert_eq!(
            out.mounts,
            [
                bind(cache.clone(), "/root/.cache".into(), false),
                bind(tmp.path().join("go.sum"), "/src/go.sum".into(), true),
                bind(secret.clone(), "/run/secrets/tok".into(), true),
            ]
        );
        assert_eq!(out.tmpfs, ["/scratch:size=10m"]);
        plan_mount("type=cache,target=/l,sharing=locked", &sources, &mut out).unwrap();
        assert_eq!(
            out.locks,
            [tmp.path().join("cache").join(Digest::of_bytes(b"/l").hex())]
        );
        plan_mount(
            "type=cache,target=/o,id=o,uid=1000,mode=0700",
            &sources,
            &mut out,
        )
        .unwrap();
        plan_mount("type=cache,target=/p,sharing=private", &sources, &mut out).unwrap();
        let owned = tmp.path().join("cache").join(Digest::of_bytes(b"o").hex());
        assert!(!owned.exists(), "made when the step runs");
        assert_eq!(
            out.caches,
            [
                CacheMount {
                    dir: owned,
                    private: false,
                    target: "/o".into(),
                    read_only: false,
                    uid: 1000,
                    gid: 0,
                    mode: 0o700,
                },
                CacheMount {
                    dir: tmp.path().join("cache").join(Digest::of_bytes(b"/p").hex()),
                    private: true,
                    target: "/p".into(),
                    read_only: false,
                    uid: 0,
                    gid: 0,
                    mode: 0o755,
                },
            ]
        );
        for bad in [
            "type=ssh",
            "type=bind,source=../x,target=/x",
            "type=bind,source=go.sum,target=/x,rw",
            "type=secret,id=absent,required",
            "type=cache",
            "type=cache,target=/x,sharing=unshared",
            "type=cache,target=/x,uid=x",
            "type=cache,target=/x,mode=0999",
            "type=secret,id=tok,mode=0400",
        ] {
            assert!(plan_mount(bad, &sources, &mut out).is_err(), "{bad}");
        }
    }
}
