//! The image config as a build edits it: docker's JSON (`config.Env`,
//! `config.Cmd`, …, `history`, `rootfs.diff_ids`) kept as a
//! `serde_json::Value`, so fields oci-spec does not model (Healthcheck,
//! OnBuild, Shell) are written in docker's spelling. The metadata
//! instructions change only this; `history` gets docker's classic
//! `created_by` text.

use serde_json::{Map, Value, json};

use crate::layers::LayerPart;

/// docker's default SHELL.
pub fn default_shell() -> Vec<String> {
    vec!["/bin/sh".to_string(), "-c".to_string()]
}

/// The config of `FROM scratch`.
pub fn scratch_config() -> Value {
    json!({
        "architecture": crate::layers::Platform::host().architecture,
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": []},
        "history": [],
    })
}

/// Go's `%q` of a string list (`["sh" "-c" "x"]`), as docker's history
/// shows CMD and ENTRYPOINT.
pub fn go_quoted_list(items: &[String]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|s| serde_json::to_string(s).unwrap_or_default())
        .collect();
    format!("[{}]", quoted.join(" "))
}

/// A metadata step's `created_by` in docker's classic form.
pub fn nop(text: &str) -> String {
    format!("/bin/sh -c #(nop)  {text}")
}

/// Typed access to the parts of the config a build changes.
pub struct ImageConfig<'a>(pub &'a mut Value);

impl ImageConfig<'_> {
    /// `config` (the container defaults), created when missing.
    pub fn container(&mut self) -> &mut Map<String, Value> {
        let root = self
            .0
            .as_object_mut()
            .expect("an image config is an object");
        let entry = root.entry("config").or_insert_with(|| json!({}));
        if !entry.is_object() {
            *entry = json!({});
        }
        entry.as_object_mut().expect("just made an object")
    }

    fn strings(&mut self, key: &str) -> Option<Vec<String>> {
        let value = self.container().get(key)?;
        let list = value.as_array()?;
        Some(
            list.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
        )
    }

    pub fn env(&mut self) -> Vec<String> {
        self.strings("Env").unwrap_or_default()
    }

    pub fn set_env(&mut self, env: Vec<String>) {
        self.container().insert("Env".into(), json!(env));
    }

    pub fn shell(&mut self) -> Vec<String> {
        self.strings("Shell")
            .filter(|s| !s.is_empty())
            .unwrap_or_else(default_shell)
    }

    pub fn workdir(&mut self) -> String {
        match self.container().get("WorkingDir").and_then(Value::as_str) {
            Some(dir) if !dir.is_empty() => dir.to_string(),
            _ => "/".to_string(),
        }
    }

    pub fn user(&mut self) -> String {
        self.container()
            .get("User")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    }

    pub fn set(&mut self, key: &str, value: Value) {
        self.container().insert(key.into(), value);
    }

    /// Adds keys to a set-valued field (`ExposedPorts`, `Volumes`).
    pub fn add_to_set(&mut self, key: &str, items: &[String]) {
        let entry = self.container().entry(key).or_insert_with(|| json!({}));
        if !entry.is_object() {
            *entry = json!({});
        }
        let set = entry.as_object_mut().expect("just made an object");
        for item in items {
            set.insert(item.clone(), json!({}));
        }
    }

    pub fn add_labels(&mut self, labels: &[(String, String)]) {
        let entry = self
            .container()
            .entry("Labels")
            .or_insert_with(|| json!({}));
        if !entry.is_object() {
            *entry = json!({});
        }
        let map = entry.as_object_mut().expect("just made an object");
        for (k, v) in labels {
            map.insert(k.clone(), json!(v));
        }
    }

    /// The base image's ONBUILD triggers, which a child build runs and
    /// does not inherit.
    pub fn take_onbuild(&mut self) -> Vec<String> {
        let triggers = self.strings("OnBuild").unwrap_or_default();
        self.container().remove("OnBuild");
        triggers
    }

    pub fn push_onbuild(&mut self, trigger: &str) {
        let entry = self
            .container()
            .entry("OnBuild")
            .or_insert_with(|| json!([]));
        if !entry.is_array() {
            *entry = json!([]);
        }
        entry
            .as_array_mut()
            .expect("just made an array")
            .push(json!(trigger));
    }

    /// A history entry; `layer` when the step made one (its diff ID is
    /// appended to `rootfs.diff_ids`).
    pub fn record_step(&mut self, created: &str, created_by: &str, layer: Option<&LayerPart>) {
        let mut entry = json!({"created": created, "created_by": created_by});
        match layer {
            Some(layer) => {
                let root = self
                    .0
                    .as_object_mut()
                    .expect("an image config is an object");
                let rootfs = root
                    .entry("rootfs")
                    .or_insert_with(|| json!({"type": "layers", "diff_ids": []}));
                if !rootfs["diff_ids"].is_array() {
                    rootfs["diff_ids"] = json!([]);
                }
                rootfs["diff_ids"]
                    .as_array_mut()
                    .expect("just made an array")
                    .push(json!(layer.diff_id.to_string()));
            }
            None => entry["empty_layer"] = json!(true),
        }
        let root = self
            .0
            .as_object_mut()
            .expect("an image config is an object");
        let history = root.entry("history").or_insert_with(|| json!([]));
        if !history.is_array() {
            *history = json!([]);
        }
        history
            .as_array_mut()
            .expect("just made an array")
            .push(entry);
        root.insert("created".into(), json!(created));
    }
}

/// `EXPOSE` values as docker stores them: `80` → `80/tcp`, a range
/// `8000-8002/udp` → each port; `None` for a malformed one.
pub fn exposed_ports(word: &str) -> Option<Vec<String>> {
    let (ports, proto) = match word.split_once('/') {
        Some((p, proto)) => (p, proto.to_ascii_lowercase()),
        None => (word, "tcp".to_string()),
    };
    if !["tcp", "udp", "sctp"].contains(&proto.as_str()) {
        return None;
    }
    let (first, last) = match ports.split_once('-') {
        Some((a, b)) => (a.parse::<u16>().ok()?, b.parse::<u16>().ok()?),
        None => {
            let p = ports.parse::<u16>().ok()?;
            (p, p)
        }
    };
    if first > last {
        return None;
    }
    Some((first..=last).map(|p| format!("{p}/{proto}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_as_docker_stores_them() {
        assert_eq!(exposed_ports("80").unwrap(), ["80/tcp"]);
        assert_eq!(exposed_ports("53/UDP").unwrap(), ["53/udp"]);
        assert_eq!(
            exposed_ports("8000-8002").unwrap(),
            ["8000/tcp", "8001/tcp", "8002/tcp"]
        );
        assert!(exposed_ports("http").is_none());
        assert!(exposed_ports("80/xyz").is_none());
    }

    #[test]
    fn steps_go_to_history_and_layers_to_rootfs() {
        let mut value = scratch_config();
        let mut config = ImageConfig(&mut value);
        config.record_step("2020-01-01T00:00:00Z", &nop("CMD [\"sh\"]"), None);
        let layer = LayerPart {
            blob: crate::layers::Digest::of_bytes(b"b"),
            blob_size: 1,
            diff_id: crate::layers::Digest::of_bytes(b"d"),
            size: 1,
        };
        config.record_step("2020-01-01T00:00:00Z", "/bin/sh -c true", Some(&layer));
        assert_eq!(value["history"][0]["empty_layer"], json!(true));
        assert_eq!(
            value["history"][0]["created_by"],
            "/bin/sh -c #(nop)  CMD [\"sh\"]"
        );
        assert!(value["history"][1].get("empty_layer").is_none());
        assert_eq!(
            value["rootfs"]["diff_ids"][0],
            json!(layer.diff_id.to_string())
        );
        assert_eq!(
            go_quoted_list(&["a b".into(), "c".into()]),
            "[\"a b\" \"c\"]"
        );
    }
}
