//! The build: stages in order (only those the target needs), each from
//! its FROM through its instructions, every step either taken from the
//! cache or done and then stored as an intermediate image and recorded
//! in the cache; at the end the target stage's image gets the labels and
//! the names asked for.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::cache::{BuildCache, CacheEntry, step_key};
use super::config::{ImageConfig, scratch_config};
use super::context::{Context, load_context};
use super::context_mask::ContextMasks;
use super::dockerfile::{self, Dockerfile, Instruction, Located};
use super::plan::{needed_stages, stage_named, target_stage};
use super::request::{BuildError, BuildOutcome, BuildReporter, BuildRequest};
use super::scope::{BuildArgs, StageArgs};
use super::stage::StageState;
use crate::engine::build_support::begin_owner_userns;
use crate::engine::image_for_run;
use crate::layers::{Digest, ImageReference, LayerPart, Platform, Store};
use crate::state::StorageDirs;
use crate::timestamp::format_rfc3339_utc;

/// A finished stage, for later `FROM stage` and `COPY --from=stage`.
#[derive(Clone)]
pub struct StageResult {
    pub config: Value,
    pub layers: Vec<LayerPart>,
    pub id: Option<Digest>,
}

pub struct Builder<'a> {
    pub dirs: &'a StorageDirs,
    pub req: &'a BuildRequest,
    pub reporter: &'a dyn BuildReporter,
    pub store: Store,
    pub cache: BuildCache,
    pub ctx: Context,
    pub df: Dockerfile,
    pub args: BuildArgs,
    step_no: usize,
    total: usize,
    pub results: Vec<Option<StageResult>>,
    /// Images made only so a RUN could start (`--layers=false`).
    temp_images: Vec<Digest>,
    /// Seconds since the epoch that new things get (`--timestamp` or now).
    pub now: i64,
    pub created: String,
    /// Orphaned RUN containers of killed builds were looked for.
    pub swept: bool,
    /// The context as `.dockerignore` leaves it, for `RUN --mount=type=bind`.
    pub masks: ContextMasks,
}

/// Builds the image `req` describes.
pub fn build_image(
    dirs: &StorageDirs,
    req: &BuildRequest,
    reporter: &dyn BuildReporter,
) -> Result<BuildOutcome, BuildError> {
    // Names are checked before anything is built.
    let tags = req
        .tags
        .iter()
        .map(|t| ImageReference::parse(t).map(|r| r.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let store = Store::open(&dirs.root)?;
    if req.no_cache {
        // Every step runs: the namespace's setup runs beside the parsing.
        begin_owner_userns(reporter.engine());
    }
    let ctx = load_context(&req.context, &req.dockerfile, store.temp_path("context"))?;
    let df = dockerfile::parse(&ctx.dockerfile_text, &ctx.dockerfile_name)?;
    if df.stages.is_empty() {
        return Err(BuildError::Invalid(format!(
            "{}: no FROM instruction: the Dockerfile builds nothing",
            ctx.dockerfile_name
        )));
    }
    let mut args = BuildArgs::new(&req.build_args, df.directives.escape);
    let globals: Vec<_> = df.global_args.iter().map(|a| a.value.clone()).collect();
    args.declare_global(&globals)
        .map_err(|e| BuildError::Invalid(format!("{}: ARG: {e}", ctx.dockerfile_name)))?;
    let target = target_stage(&df, req.target.as_deref()).map_err(BuildError::Invalid)?;
    let needed = needed_stages(&df, target);
    let total = df
        .stages
        .iter()
        .zip(&needed)
        .filter(|(_, n)| **n)
        .map(|(s, _)| 1 + s.instructions.len())
        .sum();
    let now = req.timestamp.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    });
    let created =
        format_rfc3339_utc(UNIX_EPOCH + std::time::Duration::from_secs(now.max(0) as u64));
    // Held for the whole build: what it stored and has not indexed yet
    // is not garbage to a concurrent prune.
    let _writing = store.lock_for_writing()?;
    let store_tmp = store.root().join("tmp");
    let mut builder = Builder {
        dirs,
        req,
        reporter,
        cache: BuildCache::new(&store),
        store,
        ctx,
        results: vec![None; df.stages.len()],
        df,
        args,
        step_no: 0,
        total,
        temp_images: Vec::new(),
        now,
        created,
        swept: false,
        masks: ContextMasks::new(&store_tmp),
    };
    let result = builder.run(&needed, target, &tags);
    builder.drop_temp_images(result.as_ref().ok().map(|o| &o.image_id));
    let outcome = result?;
    let unused = builder.args.unconsumed();
    if !unused.is_empty() {
        reporter.engine().warning(&format!(
            "one or more build-args [{}] were not consumed",
            unused.join(" ")
        ));
    }
    Ok(outcome)
}

impl Builder<'_> {
    fn run(
        &mut self,
        needed: &[bool],
        target: usize,
        tags: &[String],
    ) -> Result<BuildOutcome, BuildError> {
        for (i, needed) in needed.iter().enumerate() {
            if !needed {
                continue;
            }
            let state = self.build_stage(i)?;
            self.results[i] = Some(StageResult {
                config: state.config,
                layers: state.layers,
                id: state.id,
            });
        }
        let result = self.results[target]
            .clone()
            .expect("the target stage was built");
        let mut config = result.config;
        if !self.req.labels.is_empty() {
            ImageConfig(&mut config).add_labels(&self.req.labels);
        }
        if self.req.oci_format {
            // podman's words for what the OCI config cannot hold.
            for (key, instruction) in [
                ("Healthcheck", "HEALTHCHECK"),
                ("Shell", "SHELL"),
                ("OnBuild", "ONBUILD"),
            ] {
                if ImageConfig(&mut config).container().remove(key).is_some() {
                    self.reporter.engine().warning(&format!(
                        "{instruction} is not supported for OCI image format and will be ignored. Must use `docker` format"
                    ));
                }
            }
        }
        // podman's COMMIT line names the first tag as the user wrote it.
        match self.req.tags.first() {
            Some(tag) => self.reporter.progress(&format!("COMMIT {tag}")),
            None => self.reporter.progress("COMMIT"),
        }
        let id = self
            .store
            .put_built_image(&config, &result.layers, tags, false)?;
        self.reporter.progress(&format!("--> {}", &id.hex()[..12]));
        for tag in tags {
            self.reporter
                .progress(&format!("Successfully tagged {tag}"));
        }
        Ok(BuildOutcome {
            image_id: id,
            tags: tags.to_vec(),
        })
    }

    /// Removes the images made only to start RUN steps (not the result).
    fn drop_temp_images(&mut self, keep: Option<&Digest>) {
        for id in std::mem::take(&mut self.temp_images) {
            if Some(&id) != keep {
                let _ = self.store.remove_image(&id.to_string(), true, &|_| None);
            }
        }
    }

    pub fn step_error(&self, at: &Located<Instruction>, message: impl Into<String>) -> BuildError {
        BuildError::Step {
            step: at.text.clone(),
            message: message.into(),
        }
    }

    fn announce(&mut self, text: &str) {
        self.step_no += 1;
        self.reporter
            .progress(&format!("STEP {}/{}: {text}", self.step_no, self.total));
    }

    fn build_stage(&mut self, i: usize) -> Result<StageState, BuildError> {
        let stage = self.df.stages[i].clone();
        self.announce(&stage.from_text);
        let from_error = |message: String| BuildError::Step {
            step: stage.from_text.clone(),
            message,
        };
        if let Some(platform) = &stage.platform {
            let platform = self
                .args
                .expand_global(platform)
                .map_err(|e| from_error(e.to_string()))?;
            let host = Platform::host();
            let wanted = Platform::parse(Some(&platform), None, None, None)?;
            if wanted.os != host.os || wanted.architecture != host.architecture {
                return Err(from_error(format!(
                    "platform {platform} is not this machine's ({}/{}): cross-platform builds are not supported",
                    host.os, host.architecture
                )));
            }
        }
        let base = self
            .args
            .expand_global(&stage.base)
            .map_err(|e| from_error(e.to_string()))?;
        let mut state = if base.eq_ignore_ascii_case("scratch") {
            StageState {
                config: scratch_config(),
                layers: Vec::new(),
                id: None,
                indexed: false,
                args: StageArgs::default(),
                cmd_set: false,
            }
        } else if let Some(j) = stage_named(&self.df, &base, i) {
            let result = self.results[j]
                .clone()
                .ok_or_else(|| from_error(format!("stage {base} was not built")))?;
            StageState {
                config: result.config,
                layers: result.layers,
                indexed: result.id.is_some(),
                id: result.id,
                args: StageArgs::default(),
                cmd_set: false,
            }
        } else {
            let image = image_for_run(
                self.dirs,
                &self.store,
                &base,
                self.req.pull,
                &self.req.pull_options,
                self.reporter.engine(),
            )
            .map_err(|e| from_error(e.to_string()))?;
            let parts = self.store.image_parts(&image.id.to_string())?;
            StageState {
                config: parts.config,
                layers: parts.layers,
                id: Some(parts.id),
                indexed: true,
                args: StageArgs::default(),
                cmd_set: false,
            }
        };
        let triggers = state.config().take_onbuild();
        if !triggers.is_empty() {
            // The image without its triggers is the step's parent.
            state.id = None;
            state.indexed = false;
        }
        for trigger in triggers {
            let text = format!("FROM scratch\n{trigger}\n");
            let parsed = dockerfile::parse(&text, "ONBUILD").map_err(|e| {
                from_error(format!(
                    "ONBUILD trigger {trigger:?} of the base image: {e}"
                ))
            })?;
            let Some(instruction) = parsed.stages.first().and_then(|s| s.instructions.first())
            else {
                continue;
            };
            self.reporter.progress(&format!("--> ONBUILD {trigger}"));
            self.instruction(&mut state, instruction)?;
        }
        for instruction in &stage.instructions {
            self.announce(&instruction.text);
            self.instruction(&mut state, instruction)?;
        }
        Ok(state)
    }

    /// The cache key's parent: the current image, or the stage's base
    /// when it is `scratch` (or a base whose ONBUILD triggers ran).
    fn parent_key(&self, state: &StageState) -> Option<String> {
        if !self.req.layers {
            return None;
        }
        Some(state.parent_key().unwrap_or_else(|| {
            format!(
                "scratch+{}",
                Digest::of_bytes(state.config.to_string().as_bytes())
            )
        }))
    }

    /// One step through the cache: `work` runs only on a miss and returns
    /// the history text and the layer it made, if any.
    pub fn cached_step(
        &mut self,
        state: &mut StageState,
        at: &Located<Instruction>,
        content: Option<&str>,
        visible_args: &[String],
        work: impl FnOnce(&mut Self, &mut StageState) -> Result<(String, Option<LayerPart>), BuildError>,
    ) -> Result<(), BuildError> {
        let key = self.parent_key(state).map(|parent| {
            step_key(
                &parent,
                &format!("{:?}", at.value),
                visible_args,
                content,
                self.req.timestamp,
            )
        });
        if let Some(key) = &key
            && !self.req.no_cache
            && let Some(hit) = self.cache.get(key, &self.store)
        {
            self.reporter
                .progress(&format!("--> Using cache {}", hit.image_id.hex()));
            self.reporter
                .progress(&format!("--> {}", &hit.image_id.hex()[..12]));
            state.config = hit.config;
            state.layers = hit.layers;
            state.id = Some(hit.image_id);
            state.indexed = false;
            return Ok(());
        }
        // A miss: store work (rootless, in the held user namespace) is
        // near; its setup may run beside this step's own work.
        begin_owner_userns(self.reporter.engine());
        let (created_by, layer) = work(self, state)?;
        if let Some(layer) = &layer {
            state.layers.push(layer.clone());
        }
        let created = self.created.clone();
        state
            .config()
            .record_step(&created, &created_by, layer.as_ref());
        match key {
            Some(key) => {
                let id = self
                    .store
                    .put_built_image(&state.config, &state.layers, &[], true)?;
                let entry = CacheEntry {
                    image_id: id.clone(),
                    config: state.config.clone(),
                    layers: state.layers.clone(),
                };
                self.cache
                    .put(&key, &entry)
                    .map_err(BuildError::io("writing the build cache"))?;
                self.reporter.progress(&format!("--> {}", &id.hex()[..12]));
                state.id = Some(id);
                state.indexed = true;
            }
            None => {
                state.id = None;
                state.indexed = false;
            }
        }
        Ok(())
    }

    /// Makes sure the current state is an image in the index (a RUN
    /// container starts from it).
    pub fn ensure_indexed(&mut self, state: &mut StageState) -> Result<Digest, BuildError> {
        if state.indexed
            && let Some(id) = &state.id
        {
            return Ok(id.clone());
        }
        let keep = !self.req.layers;
        let id = self
            .store
            .put_built_image(&state.config, &state.layers, &[], true)?;
        if keep && state.id.as_ref() != Some(&id) {
            self.temp_images.push(id.clone());
        }
        state.id = Some(id.clone());
        state.indexed = true;
        Ok(id)
    }

    /// The stage's env for expansion.
    pub fn expand(
        &self,
        state: &mut StageState,
        at: &Located<Instruction>,
        raw: &str,
    ) -> Result<String, BuildError> {
        let env = state.env();
        state
            .args
            .expand(raw, self.df.directives.escape, &env)
            .map_err(|e| self.step_error(at, e.to_string()))
    }
}
