//! COPY and ADD as steps: sources from the context (hashed for the cache
//! key in this process) or from another stage or image (`--from`, read
//! as the store's owner, where their files' owners are the image's);
//! the layer written as a tar and stored through the import path.

use super::copy_plan::{Item, ItemKind, Origin, clean, content_digest, plan_copy};
use super::copy_tar::{TarOptions, write_copy_tar};
use super::dockerfile::{CopyInstruction, Instruction, Located};
use super::download::download;
use super::executor::Builder;
use super::in_root::FileSource;
use super::layered::Layered;
use super::plan::stage_named;
use super::request::BuildError;
use super::stage::StageState;
use crate::engine::build_support::{as_store_owner, resolve_owner};
use crate::engine::{EngineError, image_for_run};
use crate::layers::Digest;

/// Where `--from` points.
pub(super) enum FromSource {
    Context,
    /// Another image's layers, and what identifies their content.
    Image {
        layered: Layered,
        key: String,
        /// What errors call it (`stage base`, `image busybox`).
        name: String,
    },
}

impl Builder<'_> {
    pub(super) fn copy_origin(
        &mut self,
        state: &mut StageState,
        at: &Located<Instruction>,
        from: &Option<String>,
    ) -> Result<FromSource, BuildError> {
        let Some(raw) = from else {
            return Ok(FromSource::Context);
        };
        let name = self.expand(state, at, raw)?;
        let current = self
            .df
            .stages
            .iter()
            .position(|s| s.instructions.iter().any(|i| std::ptr::eq(i, at)))
            .unwrap_or(self.df.stages.len());
        let (layers, key, shown) = if let Some(j) = stage_named(&self.df, &name, current) {
            let result = self.results[j]
                .clone()
                .ok_or_else(|| self.step_error(at, format!("stage {name} was not built")))?;
            let key = match &result.id {
                Some(id) => id.to_string(),
                None => Digest::of_bytes(format!("{:?}", result.layers).as_bytes()).to_string(),
            };
            (result.layers, key, format!("stage {name}"))
        } else {
            let image = image_for_run(
                self.dirs,
                &self.store,
                &name,
                self.req.pull,
                &self.req.pull_options,
                self.reporter.engine(),
            )
            .map_err(|e| self.step_error(at, e.to_string()))?;
            let parts = self.store.image_parts(&image.id.to_string())?;
            (parts.layers, parts.id.to_string(), format!("image {name}"))
        };
        let layered = Layered {
            dirs: layers
                .iter()
                .map(|l| self.store.layer_dir(&l.diff_id))
                .collect(),
        };
        Ok(FromSource::Image {
            layered,
            key,
            name: shown,
        })
    }

    pub(super) fn copy_instruction(
        &mut self,
        state: &mut StageState,
        at: &Located<Instruction>,
        copy: &CopyInstruction,
        is_add: bool,
        visible: &[String],
    ) -> Result<(), BuildError> {
        let verb = if is_add { "ADD" } else { "COPY" };
        if copy.parents || !copy.exclude.is_empty() || copy.keep_git_dir {
            return Err(self.step_error(
                at,
                format!("{verb} --parents, --exclude and --keep-git-dir are not supported"),
            ));
        }
        let mut sources = Vec::new();
        let mut urls = Vec::new();
        for raw in &copy.sources {
            let source = self.expand(state, at, raw)?;
            if is_add && (source.starts_with("http://") || source.starts_with("https://")) {
                if source.ends_with(".git") {
                    return Err(self.step_error(
                        at,
                        format!("ADD of a git repository ({source}) is not supported"),
                    ));
                }
                urls.push(source);
                continue;
            }
            if source.starts_with("git@") {
                return Err(self.step_error(
                    at,
                    format!("ADD of a git repository ({source}) is not supported"),
                ));
            }
            sources.push(source);
        }
        let raw_dest = self.expand(state, at, &copy.dest)?;
        let workdir = state.config().workdir();
        let dest = if raw_dest.starts_with('/') {
            raw_dest.clone()
        } else {
            // Relative to WORKDIR; a trailing slash still means a directory.
            format!("{workdir}/{raw_dest}")
        };
        if clean(&dest).is_none() {
            return Err(self.step_error(
                at,
                format!("destination {raw_dest:?} leaves the image root"),
            ));
        }
        let image = state.layered(&self.store);
        let owner = match &copy.chown {
            None => (0, 0),
            Some(raw) => {
                let spec = self.expand(state, at, raw)?;
                resolve_owner(
                    &spec,
                    image.read_text("etc/passwd").as_deref(),
                    image.read_text("etc/group").as_deref(),
                )
                .map_err(|e| self.step_error(at, format!("--chown={spec}: {e}")))?
            }
        };
        let chmod = match &copy.chmod {
            None => None,
            Some(raw) => {
                let text = self.expand(state, at, raw)?;
                Some(
                    u32::from_str_radix(&text, 8)
                        .ok()
                        .filter(|m| *m <= 0o7777)
                        .ok_or_else(|| {
                            self.step_error(
                                at,
                                format!("invalid --chmod={text}: expected an octal mode"),
                            )
                        })?,
                )
            }
        };
        let checksum = match &copy.checksum {
            None => None,
            Some(raw) => {
                let text = self.expand(state, at, raw)?;
                if urls.is_empty() || !sources.is_empty() || urls.len() > 1 {
                    return Err(self.step_error(at, "--checksum needs exactly one source, a URL"));
                }
                Some(
                    Digest::parse(&text)
                        .map_err(|e| self.step_error(at, format!("--checksum: {e}")))?,
                )
            }
        };
        if (!urls.is_empty() || !copy.inline_files.is_empty()) && copy.from.is_some() {
            return Err(
                self.step_error(at, format!("{verb} --from takes neither URLs nor heredocs"))
            );
        }
        // Downloaded now, every build: the content is the cache key.
        let several = urls.len() + sources.len() > 1;
        let mut url_items = Vec::new();
        let into_dir = dest.ends_with('/')
            || clean(&dest).is_some_and(|rel| rel.is_empty() || image.is_dir(&rel));
        if several && !into_dir {
            return Err(self.step_error(
                at,
                "when using ADD with more than one source, the destination must be a directory and end with a /",
            ));
        }
        // `COPY <<EOF DEST`: files made from the heredocs' bodies.
        let several = urls.len() + sources.len() + copy.inline_files.len() > 1;
        if several && !into_dir {
            return Err(self.step_error(
                at,
                format!("when using {verb} with more than one source, the destination must be a directory and end with a /"),
            ));
        }
        let env = state.env();
        for doc in &copy.inline_files {
            let body = if doc.expand {
                state.args.substitute_text(&doc.body, &env)
            } else {
                doc.body.clone()
            };
            let rel = clean(&dest).unwrap_or_default();
            url_items.push(Item {
                dest: if into_dir {
                    format!("{rel}/{}", doc.name)
                        .trim_start_matches('/')
                        .to_string()
                } else {
                    rel
                },
                kind: ItemKind::Data(body.into_bytes()),
                mode: 0o644,
                mtime: self.now,
            });
        }
        let mut downloads = Vec::new();
        for url in &urls {
            let got = download(url, &self.store.root().join("tmp"), checksum.as_ref())
                .map_err(|e| self.step_error(at, e))?;
            let rel = clean(&dest).unwrap_or_default();
            url_items.push(Item {
                dest: if into_dir {
                    format!("{rel}/{}", got.name)
                        .trim_start_matches('/')
                        .to_string()
                } else {
                    rel
                },
                kind: ItemKind::File(FileSource::Host(got.path.clone())),
                mode: 0o600,
                mtime: got.modified.unwrap_or(self.now),
            });
            downloads.push(got);
        }
        let source = self.copy_origin(state, at, &copy.from)?;
        // Context sources are planned and hashed here: their digest is
        // part of the cache key. Another image's are read as the store's
        // owner on a miss; its ID is their key.
        let (planned, content) = match &source {
            FromSource::Context => {
                let mut items = if sources.is_empty() {
                    Vec::new()
                } else {
                    // With URLs beside them, local sources go into the
                    // destination directory too.
                    let dest = if several && !dest.ends_with('/') {
                        format!("{dest}/")
                    } else {
                        dest.clone()
                    };
                    plan_copy(&Origin::Context(&self.ctx), &sources, &dest, &image, is_add)
                        .map_err(|e| self.step_error(at, e))?
                };
                items.append(&mut url_items);
                let digest = content_digest(&items)
                    .map_err(|e| self.step_error(at, format!("reading the sources: {e}")))?;
                (
                    Some(items),
                    format!("context {digest} owner {owner:?} chmod {chmod:?}"),
                )
            }
            FromSource::Image { key, .. } => (
                None,
                format!("from {key} {sources:?} {dest} owner {owner:?} chmod {chmod:?}"),
            ),
        };
        let options = TarOptions {
            owner,
            chmod,
            clamp: self.req.timestamp,
            now: self.now,
        };
        // docker's history names the kind of source and the destination.
        let kind = match &planned {
            _ if sources.len() > 1 => "multi",
            Some(items)
                if items.len() > 1 || items.iter().any(|i| matches!(i.kind, ItemKind::Dir)) =>
            {
                "dir"
            }
            _ => "file",
        };
        let shown_dest = match clean(&dest) {
            Some(rel) if dest.ends_with('/') && !rel.is_empty() => format!("/{rel}/"),
            Some(rel) => format!("/{rel}"),
            None => dest.clone(),
        };
        let text = at.text.clone();
        self.cached_step(state, at, Some(&content), visible, move |b, _state| {
            // The downloaded files live until their layer is written.
            let _downloads = downloads;
            let layer = as_store_owner(b.dirs, b.reporter.engine(), |store| {
                let items: Vec<Item> = match (&planned, &source) {
                    (Some(items), _) => items.clone(),
                    (None, FromSource::Image { layered, name, .. }) => plan_copy(
                        &Origin::Image(layered, name),
                        &sources,
                        &dest,
                        &image,
                        is_add,
                    )
                    .map_err(|e| {
                        EngineError::Invalid(format!("building at STEP \"{text}\": {e}"))
                    })?,
                    (None, FromSource::Context) => unreachable!("context sources are planned"),
                };
                let mut tar = tempfile_in(store.root())?;
                write_copy_tar(&items, &image, &options, &mut tar).map_err(|e| {
                    EngineError::Invalid(format!("building at STEP \"{text}\": {e}"))
                })?;
                use std::io::{Seek, SeekFrom};
                tar.seek(SeekFrom::Start(0))
                    .map_err(|e| EngineError::Invalid(e.to_string()))?;
                let label = format!("layer of {verb}");
                Ok(store.store_layer_tar(&mut tar, &label)?)
            })?;
            let created_by = format!(
                "/bin/sh -c #(nop) {verb} {kind}:{} in {shown_dest} ",
                layer.diff_id.hex()
            );
            Ok((created_by, Some(layer)))
        })
    }
}

/// An unlinked temp file beside the store (it may be large).
fn tempfile_in(root: &std::path::Path) -> Result<std::fs::File, EngineError> {
    crate::engine::temp_file_in(&root.join("tmp"))
}
