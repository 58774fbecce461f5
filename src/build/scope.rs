//! ARG and ENV as a step sees them. Build args (`--build-arg`) count only
//! where an ARG declares them (in the stage, or before the first FROM for
//! FROM lines); a stage sees a global ARG only after redeclaring it. ENV
//! wins over an ARG of the same name. The predefined proxy args are
//! usable without a declaration and, as docker, stay out of history.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use super::dockerfile::ArgDecl;
use super::words::{WordError, expand_word};

/// docker's predefined ARGs.
pub const PROXY_ARGS: [&str; 10] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// The build args of a whole build and which of them were used.
pub struct BuildArgs {
    given: BTreeMap<String, String>,
    consumed: RefCell<BTreeSet<String>>,
    /// Global ARGs (before the first FROM), values resolved.
    global: BTreeMap<String, Option<String>>,
    escape: char,
}

impl BuildArgs {
    pub fn new(given: &[(String, String)], escape: char) -> BuildArgs {
        BuildArgs {
            given: given.iter().cloned().collect(),
            consumed: RefCell::new(BTreeSet::new()),
            global: BTreeMap::new(),
            escape,
        }
    }

    fn take(&self, name: &str) -> Option<String> {
        let value = self.given.get(name).cloned();
        if value.is_some() {
            self.consumed.borrow_mut().insert(name.to_string());
        }
        value
    }

    /// Declares the ARGs before the first FROM.
    pub fn declare_global(&mut self, decls: &[ArgDecl]) -> Result<(), WordError> {
        for decl in decls {
            let value = match self.take(&decl.name) {
                Some(v) => Some(v),
                None => match &decl.default {
                    Some(raw) => {
                        let global = &self.global;
                        Some(expand_word(raw, self.escape, &|n: &str| {
                            global.get(n).cloned().flatten()
                        })?)
                    }
                    None => None,
                },
            };
            self.global.insert(decl.name.clone(), value);
        }
        Ok(())
    }

    /// Expands a FROM line's word with the global ARGs.
    pub fn expand_global(&self, raw: &str) -> Result<String, WordError> {
        expand_word(raw, self.escape, &|n: &str| {
            self.global.get(n).cloned().flatten()
        })
    }

    /// The build args no ARG declared: docker's warning.
    pub fn unconsumed(&self) -> Vec<String> {
        let consumed = self.consumed.borrow();
        self.given
            .keys()
            .filter(|k| !consumed.contains(*k) && !PROXY_ARGS.contains(&k.as_str()))
            .cloned()
            .collect()
    }
}

/// The ARGs a stage declared so far, with their values.
#[derive(Debug, Clone, Default)]
pub struct StageArgs {
    values: BTreeMap<String, Option<String>>,
}

impl StageArgs {
    /// `ARG NAME[=default]` in a stage: a build arg wins, then a global
    /// ARG of that name (bare `ARG NAME`), then the default.
    pub fn declare(
        &mut self,
        decl: &ArgDecl,
        args: &BuildArgs,
        env: &[String],
    ) -> Result<(), WordError> {
        let value = match args.take(&decl.name) {
            Some(v) => Some(v),
            None => match &decl.default {
                Some(raw) => Some(self.expand(raw, args.escape, env)?),
                None => args.global.get(&decl.name).cloned().flatten(),
            },
        };
        self.values.insert(decl.name.clone(), value);
        Ok(())
    }

    /// The value of a variable for substitution: ENV first, then ARG,
    /// then a proxy build arg.
    fn lookup(&self, name: &str, env: &[String], args: Option<&BuildArgs>) -> Option<String> {
        env_value(env, name)
            .or_else(|| self.values.get(name).cloned().flatten())
            .or_else(|| {
                let args = args?;
                PROXY_ARGS
                    .contains(&name)
                    .then(|| args.take(name))
                    .flatten()
            })
    }

    pub fn expand(&self, raw: &str, escape: char, env: &[String]) -> Result<String, WordError> {
        expand_word(raw, escape, &|n: &str| self.lookup(n, env, None))
    }

    /// `$NAME` and `${NAME}` replaced in a heredoc body (`COPY <<EOF`):
    /// no quote removal, so the text stays as written otherwise; an
    /// unset variable is empty.
    pub fn substitute_text(&self, text: &str, env: &[String]) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
            let (name, consumed) = if let Some(inner) = after.strip_prefix('{') {
                match inner.find('}') {
                    Some(end) if inner[..end].chars().all(is_name) && end > 0 => {
                        (&inner[..end], end + 2)
                    }
                    _ => ("", 0),
                }
            } else {
                let end = after.find(|c: char| !is_name(c)).unwrap_or(after.len());
                (&after[..end], end)
            };
            if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
                out.push('$');
                rest = after;
                continue;
            }
            out.push_str(&self.lookup(name, env, None).unwrap_or_default());
            rest = &after[consumed..];
        }
        out.push_str(rest);
        out
    }

    /// `NAME=value` of the ARGs with a value that ENV does not shadow:
    /// what a RUN step gets in its environment beyond the image's, and
    /// what its cache key and history entry name. Proxy build args join
    /// the environment only (`with_proxies`).
    pub fn run_env(&self, env: &[String], args: &BuildArgs, with_proxies: bool) -> Vec<String> {
        let mut out: Vec<String> = self
            .values
            .iter()
            .filter(|(k, _)| env_value(env, k).is_none())
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
            .collect();
        if with_proxies {
            for name in PROXY_ARGS {
                if !self.values.contains_key(name)
                    && let Some(v) = args.take(name)
                {
                    out.push(format!("{name}={v}"));
                }
            }
        }
        out
    }
}

/// The value of `name` in a `KEY=VALUE` list (the last one wins).
pub fn env_value(env: &[String], name: &str) -> Option<String> {
    env.iter().rev().find_map(|e| {
        let (k, v) = e.split_once('=').unwrap_or((e, ""));
        (k == name).then(|| v.to_string())
    })
}

/// Sets `name` in a `KEY=VALUE` list, in place when present.
pub fn set_env(env: &mut Vec<String>, name: &str, value: &str) {
    let entry = format!("{name}={value}");
    match env
        .iter_mut()
        .find(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) == name)
    {
        Some(existing) => *existing = entry,
        None => env.push(entry),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heredoc_bodies_substitute_plain_variables_only() {
        let args = StageArgs::default();
        let env = vec!["A=1".to_string(), "B_2=two".to_string()];
        assert_eq!(
            args.substitute_text("$A ${B_2} '$A' $ ${x y} $9 ${UNSET}.", &env),
            "1 two '1' $ ${x y} $9 ."
        );
    }

    #[test]
    fn env_list_updates_in_place() {
        let mut env = vec!["PATH=/bin".to_string(), "A=1".to_string()];
        set_env(&mut env, "A", "2");
        set_env(&mut env, "B", "x=y");
        assert_eq!(env, ["PATH=/bin", "A=2", "B=x=y"]);
        assert_eq!(env_value(&env, "B").as_deref(), Some("x=y"));
        assert_eq!(env_value(&env, "C"), None);
    }
}
