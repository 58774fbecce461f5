//! Each instruction's effect on the stage: metadata instructions change
//! the config only (their history entries are `empty_layer`), WORKDIR
//! makes a layer only when it creates the directory, RUN and COPY/ADD
//! make layers (`run_step`, `copy_step`). Values are substituted where
//! docker substitutes them.

use serde_json::{Value, json};

use super::config::{go_quoted_list, nop};
use super::copy_plan::{Item, ItemKind, clean};
use super::copy_step::FromSource;
use super::copy_tar::{TarOptions, write_copy_tar};
use super::dockerfile::{Command, HealthcheckInstruction, Instruction, Located};
use super::executor::Builder;
use super::request::BuildError;
use super::run_mount_cache::{Hold, lock_cache};
use super::run_mount_from::{BindFrom, bind_from};
use super::run_mounts::{MountSources, RunMounts, bind, plan_mount};
use super::run_step::{RunStep, run_step, sweep_orphaned_containers};
use super::scope::set_env;
use super::stage::StageState;
use crate::engine::build_support::as_store_owner;
use crate::engine::signals::parse_signal;
use crate::engine::{EngineError, NetworkMode};
use crate::timestamp::parse_go_duration;

/// The diff ID of a layer tar with no entries (1024 zero bytes).
const EMPTY_LAYER_DIFF_ID: &str =
    "5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef";

/// A metadata instruction's change of the config, given whether CMD was
/// set in the stage; returns the history text.
type ConfigChange = Box<dyn FnOnce(&mut StageState, bool) -> String>;

/// A heredoc script as an executable file, removed when dropped.
struct ScriptFile(std::path::PathBuf);

impl ScriptFile {
    fn write(dir: &std::path::Path, body: &str) -> std::io::Result<ScriptFile> {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(format!(
            "script-{}-{}",
            std::process::id(),
            crate::state::new_container_id()
        ));
        let file = ScriptFile(path);
        std::fs::write(&file.0, body)?;
        std::fs::set_permissions(&file.0, std::fs::Permissions::from_mode(0o755))?;
        Ok(file)
    }
}

impl Drop for ScriptFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The argv of a shell- or exec-form command.
pub fn argv(command: &Command, shell: &[String]) -> Vec<String> {
    match command {
        Command::Exec(args) => args.clone(),
        Command::Shell(text) => shell.iter().cloned().chain([text.clone()]).collect(),
    }
}

fn duration_ns(raw: &Option<String>, flag: &str) -> Result<u64, String> {
    match raw {
        None => Ok(0),
        Some(text) => parse_go_duration(text)
            .map(|d| d.as_nanos() as u64)
            .ok_or_else(|| {
                format!("invalid --{flag} \"{text}\": expected a duration such as 30s or 1m30s")
            }),
    }
}

/// docker's `config.Healthcheck` (zero values left out).
fn healthcheck(h: &Option<HealthcheckInstruction>) -> Result<Value, String> {
    let Some(h) = h else {
        return Ok(json!({"Test": ["NONE"]}));
    };
    let test: Vec<String> = match &h.test {
        Command::Shell(text) => vec!["CMD-SHELL".into(), text.clone()],
        Command::Exec(args) => std::iter::once("CMD".to_string())
            .chain(args.clone())
            .collect(),
    };
    let mut out = json!({"Test": test});
    for (key, raw, flag) in [
        ("Interval", &h.interval, "interval"),
        ("Timeout", &h.timeout, "timeout"),
        ("StartPeriod", &h.start_period, "start-period"),
        ("StartInterval", &h.start_interval, "start-interval"),
    ] {
        let ns = duration_ns(raw, flag)?;
        if ns > 0 {
            out[key] = json!(ns);
        }
    }
    if let Some(retries) = &h.retries {
        let n: u32 = retries
            .parse()
            .map_err(|_| format!("invalid --retries \"{retries}\": expected a number"))?;
        if n > 0 {
            out["Retries"] = json!(n);
        }
    }
    Ok(out)
}

impl Builder<'_> {
    pub fn instruction(
        &mut self,
        state: &mut StageState,
        at: &Located<Instruction>,
    ) -> Result<(), BuildError> {
        let escape = self.df.directives.escape;
        let env = state.env();
        let visible = state.args.run_env(&env, &self.args, false);
        match &at.value {
            Instruction::Arg(decls) => {
                // Declared whether or not the step comes from the cache.
                let mut parts = Vec::new();
                for decl in decls {
                    state
                        .args
                        .declare(decl, &self.args, &env)
                        .map_err(|e| self.step_error(at, e.to_string()))?;
                    parts.push(match &decl.default {
                        Some(d) => format!("{}={d}", decl.name),
                        None => decl.name.clone(),
                    });
                }
                let visible = state.args.run_env(&env, &self.args, false);
                let text = nop(&format!("ARG {}", parts.join(" ")));
                self.cached_step(state, at, None, &visible, |_, _| Ok((text, None)))
            }
            Instruction::Run(run) => self.run_instruction(state, at, run, &visible),
            Instruction::Copy(c) => self.copy_instruction(state, at, c, false, &visible),
            Instruction::Add(c) => self.copy_instruction(state, at, c, true, &visible),
            Instruction::Workdir(raw) => {
                let dir = self.expand(state, at, raw)?;
                let current = state.config().workdir();
                let joined = if dir.starts_with('/') {
                    dir.clone()
                } else {
                    format!("{current}/{dir}")
                };
                let rel = clean(&joined).unwrap_or_default();
                let path = format!("/{rel}");
                self.cached_step(state, at, None, &visible, |b, state| {
                    state.config().set("WorkingDir", json!(path));
                    let layered = state.layered(&b.store);
                    if rel.is_empty() || layered.is_dir(&rel) {
                        return Ok((nop(&format!("WORKDIR {path}")), None));
                    }
                    let item = Item {
                        dest: rel.clone(),
                        kind: ItemKind::Dir,
                        mode: 0o755,
                        mtime: b.now,
                    };
                    let options = TarOptions {
                        owner: (0, 0),
                        chmod: None,
                        clamp: b.req.timestamp,
                        now: b.now,
                    };
                    let layer = as_store_owner(b.dirs, b.reporter.engine(), |store| {
                        let mut tar = Vec::new();
                        write_copy_tar(&[item], &layered, &options, &mut tar)
                            .map_err(|e| EngineError::Invalid(format!("WORKDIR layer: {e}")))?;
                        Ok(store.store_layer_tar(&mut &tar[..], "WORKDIR layer")?)
                    })?;
                    Ok((nop(&format!("WORKDIR {path}")), Some(layer)))
                })
            }
            other => {
                if matches!(other, Instruction::Cmd(_)) {
                    state.cmd_set = true;
                }
                let cmd_set = state.cmd_set;
                // Everything is substituted before the config changes, so
                // `ENV a=1 b=$a` sees the old `a`, as docker.
                let change = self.metadata(state, at, escape)?;
                self.cached_step(state, at, None, &visible, move |_, state| {
                    let created_by = change(state, cmd_set);
                    Ok((created_by, None))
                })
            }
        }
    }

    /// A metadata instruction, substituted now, applied by the returned
    /// closure (on a cache miss).
    fn metadata(
        &self,
        state: &mut StageState,
        at: &Located<Instruction>,
        escape: char,
    ) -> Result<ConfigChange, BuildError> {
        let env = state.env();
        let shell = state.config().shell();
        let expand = |raw: &str| {
            state
                .args
                .expand(raw, escape, &env)
                .map_err(|e| self.step_error(at, e.to_string()))
        };
        Ok(match &at.value {
            Instruction::Cmd(command) => {
                let args = argv(command, &shell);
                Box::new(move |s, _| {
                    s.config().set("Cmd", json!(args));
                    nop(&format!("CMD {}", go_quoted_list(&args)))
                })
            }
            Instruction::Entrypoint(command) => {
                let args = argv(command, &shell);
                Box::new(move |s, cmd_set| {
                    s.config().set("Entrypoint", json!(args));
                    if !cmd_set {
                        s.config().container().remove("Cmd");
                    }
                    nop(&format!("ENTRYPOINT {}", go_quoted_list(&args)))
                })
            }
            Instruction::Shell(args) => {
                let args = args.clone();
                Box::new(move |s, _| {
                    s.config().set("Shell", json!(args));
                    nop(&format!("SHELL {}", go_quoted_list(&args)))
                })
            }
            Instruction::Env(pairs) => {
                let mut values = Vec::new();
                for (k, raw) in pairs {
                    values.push((k.clone(), expand(raw)?));
                }
                Box::new(move |s, _| {
                    let mut env = s.env();
                    for (k, v) in &values {
                        set_env(&mut env, k, v);
                    }
                    s.config().set_env(env);
                    let text: Vec<String> =
                        values.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    nop(&format!("ENV {}", text.join(" ")))
                })
            }
            Instruction::Label(pairs) => {
                let mut values = Vec::new();
                for (k, raw) in pairs {
                    values.push((expand(k)?, expand(raw)?));
                }
                Box::new(move |s, _| {
                    s.config().add_labels(&values);
                    let text: Vec<String> =
                        values.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    nop(&format!("LABEL {}", text.join(" ")))
                })
            }
            Instruction::Expose(words) => {
                let mut ports = Vec::new();
                for raw in words {
                    let word = expand(raw)?;
                    ports.extend(
                        super::config::exposed_ports(&word).ok_or_else(|| {
                            self.step_error(at, format!("invalid port \"{word}\""))
                        })?,
                    );
                }
                Box::new(move |s, _| {
                    s.config().add_to_set("ExposedPorts", &ports);
                    nop(&format!("EXPOSE {}", ports.join(" ")))
                })
            }
            Instruction::User(raw) => {
                let user = expand(raw)?;
                Box::new(move |s, _| {
                    s.config().set("User", json!(user));
                    nop(&format!("USER {user}"))
                })
            }
            Instruction::Volume(raws) => {
                let mut paths = Vec::new();
                for raw in raws {
                    let path = expand(raw)?;
                    if path.is_empty() {
                        return Err(
                            self.step_error(at, "VOLUME specified can not be an empty string")
                        );
                    }
                    paths.push(path);
                }
                Box::new(move |s, _| {
                    s.config().add_to_set("Volumes", &paths);
                    nop(&format!("VOLUME [{}]", paths.join(" ")))
                })
            }
            Instruction::StopSignal(raw) => {
                let signal = expand(raw)?;
                parse_signal(&signal).map_err(|e| self.step_error(at, e.to_string()))?;
                Box::new(move |s, _| {
                    s.config().set("StopSignal", json!(signal));
                    nop(&format!("STOPSIGNAL {signal}"))
                })
            }
            Instruction::Healthcheck(h) => {
                let value = healthcheck(h).map_err(|e| self.step_error(at, e))?;
                let text = at.text.clone();
                Box::new(move |s, _| {
                    s.config().set("Healthcheck", value);
                    nop(&text)
                })
            }
            Instruction::Onbuild { trigger, .. } => {
                let trigger = trigger.clone();
                Box::new(move |s, _| {
                    s.config().push_onbuild(&trigger);
                    nop(&format!("ONBUILD {trigger}"))
                })
            }
            Instruction::Maintainer(raw) => {
                let name = expand(raw)?;
                Box::new(move |s, _| {
                    s.config
                        .as_object_mut()
                        .map(|o| o.insert("author".into(), json!(name)));
                    nop(&format!("MAINTAINER {name}"))
                })
            }
            Instruction::Arg(_)
            | Instruction::Run(_)
            | Instruction::Copy(_)
            | Instruction::Add(_)
            | Instruction::Workdir(_) => unreachable!("handled by `instruction`"),
        })
    }

    fn run_instruction(
        &mut self,
        state: &mut StageState,
        at: &Located<Instruction>,
        run: &super::dockerfile::RunInstruction,
        visible: &[String],
    ) -> Result<(), BuildError> {
        if let Some(security) = &run.security
            && security != "sandbox"
        {
            return Err(self.step_error(at, format!("RUN --security={security} is not supported")));
        }
        let network = match run.network.as_deref() {
            None | Some("default") => self.req.network.clone(),
            Some("none") => NetworkMode::None,
            Some("host") => NetworkMode::Host,
            Some(other) => {
                return Err(self.step_error(
                    at,
                    format!("RUN --network={other}: use none, host or default"),
                ));
            }
        };
        let shell = state.config().shell();
        // `RUN <<EOF`: a script with a `#!` line runs as a file (mounted
        // read-only at /dev/pipes/<name>, as BuildKit), any other goes to
        // the shell as its command.
        let mut script_file = None;
        let argv = match run.scripts.first() {
            Some(script) if script.body.starts_with("#!") => {
                let file = ScriptFile::write(&self.store.root().join("tmp"), &script.body)
                    .map_err(|e| self.step_error(at, format!("writing the heredoc script: {e}")))?;
                let target = format!("/dev/pipes/{}", script.name);
                let argv = vec![target.clone()];
                script_file = Some((file, target));
                argv
            }
            Some(script) => shell.iter().cloned().chain([script.body.clone()]).collect(),
            None => argv(&run.command, &shell),
        };
        let created_by = if visible.is_empty() {
            argv.join(" ")
        } else {
            format!(
                "|{} {} {}",
                visible.len(),
                visible.join(" "),
                argv.join(" ")
            )
        };
        let workdir = state.config().workdir();
        let mut mounts = RunMounts::default();
        let mut from_binds = Vec::new();
        for raw in &run.mounts {
            let text = self.expand(state, at, raw)?;
            if let Some(from) = bind_from(&text) {
                let FromSource::Image { layered, key, name } =
                    self.copy_origin(state, at, &Some(from))?
                else {
                    unreachable!("a from= origin is a stage or an image")
                };
                let planned = BindFrom::plan(&text, layered, name, &workdir)
                    .map_err(|e| self.step_error(at, e))?;
                // The origin's ID and the path: what the step sees.
                mounts.keys.push(format!("from {key} {:?}", planned.source));
                from_binds.push(planned);
                continue;
            }
            let sources = MountSources {
                context: Some(&self.ctx),
                secrets: &self.req.secrets,
                cache_root: self.store.root().join("build-mounts/cache"),
                workdir: &workdir,
                masks: &self.masks,
            };
            plan_mount(&text, &sources, &mut mounts).map_err(|e| self.step_error(at, e))?;
        }
        if let Some((file, target)) = &script_file {
            mounts
                .mounts
                .push(bind(file.0.clone(), target.clone(), true));
        }
        let text = at.text.clone();
        let with_proxies = {
            let env = state.env();
            state.args.run_env(&env, &self.args, true)
        };
        // The network a step ran with is part of what it produced.
        let mut content = format!("network {network:?}");
        if !mounts.keys.is_empty() {
            content.push_str(&format!(" mounts {:?}", mounts.keys));
        }
        self.cached_step(state, at, Some(&content), visible, move |b, state| {
            if !b.swept {
                b.swept = true;
                sweep_orphaned_containers(b.dirs);
            }
            let image = b.ensure_indexed(state)?;
            // `from=` copies and private caches: removed after the step
            // whatever happens (the guards drop on every way out).
            let tmp = b.store.root().join("tmp");
            let mut scratches = Vec::new();
            let mut extra = Vec::new();
            for planned in &from_binds {
                let (scratch, mount) = planned
                    .materialize(b.dirs, b.reporter.engine(), &tmp)
                    .map_err(|e| {
                        EngineError::Invalid(format!("building at STEP \"{text}\": {e}"))
                    })?;
                scratches.push(scratch);
                extra.push(mount);
            }
            // Cache locks: held until the step is done, one per cache (a
            // second flock of ours on the same file would wait for us).
            let mut held = Vec::new();
            let mut locked_dirs = std::collections::HashSet::new();
            // The waiting ones first, in one order for every build (by
            // path), and before any private cache's try: a step never
            // waits while holding a lock another waiting step may want.
            let mut waiting: Vec<(&std::path::PathBuf, Hold)> = mounts
                .locks
                .iter()
                .map(|dir| (dir, Hold::Exclusive))
                .chain(mounts.shared.iter().map(|dir| (dir, Hold::Shared)))
                .collect();
            waiting.sort_by(|a, b| a.0.cmp(b.0));
            for (dir, hold) in waiting {
                if locked_dirs.insert(dir.clone()) {
                    held.extend(lock_cache(dir, hold)?);
                }
            }
            for cache in &mounts.caches {
                let (scratch, lock, mount) = cache.prepare(b.dirs, b.reporter.engine(), &tmp)?;
                scratches.extend(scratch);
                if let Some(lock) = lock {
                    locked_dirs.insert(cache.dir.clone());
                    held.push(lock);
                }
                extra.push(mount);
            }
            let mut step = RunStep {
                text,
                image,
                argv,
                env: with_proxies,
                user: state.config().user(),
                workdir: state.config().workdir(),
                network,
                stdout_to_stderr: b.req.run_output_to_stderr,
                clamp: b.req.timestamp,
                mounts,
            };
            step.mounts.mounts.extend(extra);
            let layer = run_step(b.dirs, &step, b.reporter.engine())?;
            drop(held);
            drop(script_file);
            drop(scratches);
            // A RUN that changed nothing adds no layer (BuildKit's rule):
            // the same empty layer twice in one image would be the same
            // overlay lower directory twice, which the kernel refuses.
            if layer.diff_id.hex() == EMPTY_LAYER_DIFF_ID {
                return Ok((created_by, None));
            }
            Ok((created_by, Some(layer)))
        })
    }
}
