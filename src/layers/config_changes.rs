//! docker's `--change` for `import` and `commit`: Dockerfile instructions
//! that edit an image config (`CMD`, `ENTRYPOINT`, `ENV`, `EXPOSE`,
//! `LABEL`, `ONBUILD`, `STOPSIGNAL`, `USER`, `VOLUME`, `WORKDIR`), applied
//! to the config's JSON in docker's spelling (`config.Cmd`, …).

use serde_json::{Map, Value, json};

use super::{LayerError, invalid};

const SUPPORTED: &str =
    "CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR";

/// Applies each change to `config` (a whole image config document).
pub fn apply_changes(config: &mut Value, changes: &[String]) -> Result<(), LayerError> {
    for change in changes {
        apply_change(config, change)?;
    }
    Ok(())
}

/// Checks `changes` without a config to apply them to, so a command can
/// refuse bad input before it reads a tarball or writes anything.
pub fn validate_changes(changes: &[String]) -> Result<(), LayerError> {
    apply_changes(&mut json!({}), changes)
}

fn apply_change(config: &mut Value, change: &str) -> Result<(), LayerError> {
    let bad = |problem: String| invalid(format!("--change {change:?}"), problem);
    let text = change.trim();
    // `CMD ["sh"]`, or podman's `CMD=["sh"]`: the instruction ends at the
    // first blank or `=`.
    let (instruction, rest) = match text.find(|c: char| c.is_whitespace() || c == '=') {
        Some(i) => (&text[..i], text[i + 1..].trim()),
        None => (text, ""),
    };
    let instruction = instruction.to_ascii_uppercase();
    if rest.is_empty() {
        return Err(bad(format!("{instruction} needs an argument")));
    }
    if !config.is_object() {
        *config = json!({});
    }
    let root = config.as_object_mut().expect("made an object");
    let inner = root.entry("config").or_insert_with(|| json!({}));
    if !inner.is_object() {
        *inner = json!({});
    }
    let inner = inner.as_object_mut().expect("made an object");
    match instruction.as_str() {
        "CMD" => {
            inner.insert("Cmd".into(), json!(command_form(rest)));
        }
        "ENTRYPOINT" => {
            inner.insert("Entrypoint".into(), json!(command_form(rest)));
        }
        "ENV" => {
            for (key, value) in key_values(rest).map_err(bad)? {
                let env = array_of(inner, "Env");
                let prefix = format!("{key}=");
                env.retain(|e| !e.as_str().is_some_and(|s| s.starts_with(&prefix)));
                env.push(json!(format!("{key}={value}")));
            }
        }
        "LABEL" => {
            for (key, value) in key_values(rest).map_err(bad)? {
                object_of(inner, "Labels").insert(key, json!(value));
            }
        }
        "EXPOSE" => {
            for port in rest.split_whitespace() {
                let (number, protocol) = port.split_once('/').unwrap_or((port, "tcp"));
                if number.parse::<u16>().is_err() || !["tcp", "udp", "sctp"].contains(&protocol) {
                    return Err(bad(format!("invalid port {port:?}")));
                }
                object_of(inner, "ExposedPorts").insert(format!("{number}/{protocol}"), json!({}));
            }
        }
        "VOLUME" => {
            let paths = match serde_json::from_str::<Vec<String>>(rest) {
                Ok(paths) => paths,
                Err(_) => rest.split_whitespace().map(str::to_string).collect(),
            };
            for path in paths {
                object_of(inner, "Volumes").insert(path, json!({}));
            }
        }
        "ONBUILD" => array_of(inner, "OnBuild").push(json!(rest)),
        "USER" => {
            inner.insert("User".into(), json!(rest));
        }
        "STOPSIGNAL" => {
            inner.insert("StopSignal".into(), json!(rest));
        }
        "WORKDIR" => {
            let dir = if rest.starts_with('/') {
                rest.to_string()
            } else {
                let base = inner
                    .get("WorkingDir")
                    .and_then(Value::as_str)
                    .unwrap_or("/");
                format!("{}/{rest}", base.trim_end_matches('/'))
            };
            inner.insert("WorkingDir".into(), json!(dir));
        }
        other => {
            return Err(bad(format!(
                "unknown instruction {other} (supported: {SUPPORTED})"
            )));
        }
    }
    Ok(())
}

/// The exec form (`["a", "b"]`) as given; the shell form wrapped in
/// `/bin/sh -c`.
fn command_form(rest: &str) -> Vec<String> {
    match serde_json::from_str::<Vec<String>>(rest) {
        Ok(args) => args,
        Err(_) => vec!["/bin/sh".into(), "-c".into(), rest.into()],
    }
}

/// `KEY=VALUE KEY2="a b"` pairs, or the legacy `KEY some value` form.
fn key_values(rest: &str) -> Result<Vec<(String, String)>, String> {
    let words = split_words(rest)?;
    if !words[0].contains('=') {
        let (key, value) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        return Ok(vec![(key.to_string(), value.trim().to_string())]);
    }
    words
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(format!("{w:?} is not KEY=VALUE")),
        })
        .collect()
}

/// Splits on white space outside double quotes, removing the quotes.
fn split_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let (mut quoted, mut in_word) = (false, false);
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            '\\' if quoted => {
                if let Some(next) = chars.next() {
                    word.push(next);
                }
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if quoted {
        return Err("unterminated quote".to_string());
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

fn array_of<'a>(object: &'a mut Map<String, Value>, key: &str) -> &'a mut Vec<Value> {
    let value = object.entry(key).or_insert_with(|| json!([]));
    if !value.is_array() {
        *value = json!([]);
    }
    value.as_array_mut().expect("made an array")
}

fn object_of<'a>(object: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let value = object.entry(key).or_insert_with(|| json!({}));
    if !value.is_object() {
        *value = json!({});
    }
    value.as_object_mut().expect("made an object")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changed(changes: &[&str]) -> Result<Value, LayerError> {
        let mut config = json!({"config": {"Env": ["PATH=/bin", "A=old"], "WorkingDir": "/srv"}});
        let changes: Vec<String> = changes.iter().map(|s| s.to_string()).collect();
        apply_changes(&mut config, &changes)?;
        Ok(config["config"].clone())
    }

    #[test]
    fn instructions_edit_the_config_like_docker() {
        let c = changed(&[
            r#"CMD ["echo", "hi"]"#,
            "ENTRYPOINT /entry.sh --flag",
            r#"ENV A=new B="two words""#,
            "ENV LEGACY some value",
            "LABEL tier=web",
            "EXPOSE 80 53/udp",
            "VOLUME /data /logs",
            "USER 1000:1000",
            "WORKDIR app",
            "STOPSIGNAL SIGINT",
            "onbuild RUN true",
        ])
        .unwrap();
        assert_eq!(c["Cmd"], json!(["echo", "hi"]));
        assert_eq!(
            c["Entrypoint"],
            json!(["/bin/sh", "-c", "/entry.sh --flag"])
        );
        assert_eq!(
            c["Env"],
            json!(["PATH=/bin", "A=new", "B=two words", "LEGACY=some value"])
        );
        assert_eq!(c["Labels"], json!({"tier": "web"}));
        assert_eq!(c["ExposedPorts"], json!({"80/tcp": {}, "53/udp": {}}));
        assert_eq!(c["Volumes"], json!({"/data": {}, "/logs": {}}));
        assert_eq!(c["User"], "1000:1000");
        assert_eq!(c["WorkingDir"], "/srv/app");
        assert_eq!(c["StopSignal"], "SIGINT");
        assert_eq!(c["OnBuild"], json!(["RUN true"]));
    }

    #[test]
    fn podman_equals_form_is_accepted() {
        let c = changed(&["CMD=/bin/sh", "ENV=A=b", "USER=nobody"]).unwrap();
        assert_eq!(c["Cmd"], json!(["/bin/sh", "-c", "/bin/sh"]));
        assert_eq!(c["Env"], json!(["PATH=/bin", "A=b"]));
        assert_eq!(c["User"], "nobody");
    }

    #[test]
    fn bad_changes_are_named() {
        let err = changed(&["RUN make"]).unwrap_err().to_string();
        assert!(
            err.starts_with("--change \"RUN make\": unknown instruction RUN"),
            "{err}"
        );
        assert!(
            changed(&["CMD"])
                .unwrap_err()
                .to_string()
                .contains("CMD needs an argument")
        );
        assert!(changed(&["EXPOSE 99999"]).is_err());
        assert!(changed(&[r#"ENV A="open"#]).is_err());
    }
}
