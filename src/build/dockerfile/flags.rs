//! An instruction's `--flags`: each instruction names the flags it
//! knows and their kind; anything else is refused with the flag and the
//! instruction named (BuildKit's BFlags, with its messages).

/// What a known flag holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `--name=value`, at most once.
    Str,
    /// `--name=value`, any number of times.
    List,
    /// `--name`, `--name=true|false`.
    Bool,
}

/// The parsed flags of one instruction.
#[derive(Debug, Default)]
pub(crate) struct Flags {
    values: Vec<(String, Option<String>)>,
}

impl Flags {
    /// Checks `words` (as `split::extract_flags` returns them, without
    /// quotes) against what `instruction` accepts.
    pub fn parse(
        instruction: &str,
        words: &[String],
        known: &[(&str, Kind)],
    ) -> Result<Flags, String> {
        let mut flags = Flags::default();
        for word in words {
            let body = word.trim_start_matches('-');
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            let Some(&(_, kind)) = known.iter().find(|(k, _)| *k == name) else {
                return Err(format!("unknown flag: --{name} for {instruction}"));
            };
            match kind {
                Kind::Str | Kind::List if value.is_none() => {
                    return Err(format!("missing a value on flag: --{name}"));
                }
                Kind::Str if flags.values.iter().any(|(n, _)| n == name) => {
                    return Err(format!("duplicate flag specified: --{name}"));
                }
                Kind::Bool
                    if value.as_deref().is_some_and(|v| {
                        !matches!(v.to_ascii_lowercase().as_str(), "true" | "false")
                    }) =>
                {
                    return Err(format!(
                        "expecting boolean value for flag --{name}, not: {}",
                        value.unwrap_or_default()
                    ));
                }
                _ => {}
            }
            flags.values.push((name.to_string(), value));
        }
        Ok(flags)
    }

    /// The value of a `Str` flag; `--from=` (empty) is unset, as BuildKit
    /// treats an empty value.
    pub fn string(&self, name: &str) -> Option<String> {
        self.values
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    }

    /// Every value of a `List` flag, in order.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.values
            .iter()
            .filter(|(n, _)| n == name)
            .filter_map(|(_, v)| v.clone())
            .collect()
    }

    /// A `Bool` flag: the last occurrence wins.
    pub fn bool(&self, name: &str) -> bool {
        self.values
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .is_some_and(|(_, v)| v.as_deref().is_none_or(|v| v.eq_ignore_ascii_case("true")))
    }
}
