//! `skiff version`, `skiff info` (also `system info`), `skiff completion`
//! and the hidden `skiff generate-man`: the facts come from
//! `engine::system_info`; this file only prints them.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use serde_json::Value;
use skiff::engine::system_info::{VersionInfo, system_info};
use skiff::state::StorageDirs;

use super::template::{TemplateError, render_one};

#[derive(Args)]
pub struct VersionArgs {
    /// Format the output as json or with a Go template
    /// (`{{.Client.Version}}`)
    #[arg(short, long, allow_hyphen_values = true)]
    format: Option<String>,
}

#[derive(Args)]
pub struct InfoArgs {
    /// Format the output as json or with a Go template
    /// (`{{.Store.GraphRoot}}`)
    #[arg(short, long, allow_hyphen_values = true)]
    format: Option<String>,
}

#[derive(Args)]
pub struct CompletionArgs {
    /// The shell to print a completion script for
    shell: clap_complete::Shell,
}

#[derive(Args)]
pub struct GenerateManArgs {
    /// The directory to write the pages (`skiff.1`, `skiff-run.1`, …) into
    dir: PathBuf,
}

pub fn version(args: VersionArgs) -> anyhow::Result<()> {
    let client = VersionInfo::current();
    let report = serde_json::json!({ "Client": client });
    match args.format.as_deref() {
        Some("json") => println!("{}", serde_json::to_string_pretty(&report)?),
        Some(format) => print!("{}", render_version(format, &report)?),
        None => {
            let mut lines = vec![
                ("Version:", client.version.clone()),
                ("API Version:", client.api_version.clone()),
                ("Rust Version:", client.rust_version.clone()),
            ];
            if !client.git_commit.is_empty() {
                lines.push(("Git Commit:", client.git_commit.clone()));
            }
            lines.push(("Built:", client.built_time.clone()));
            lines.push(("OS/Arch:", client.os_arch.clone()));
            for (name, value) in lines {
                println!("{name:<14}{value}");
            }
        }
    }
    Ok(())
}

/// podman's rule: the template runs over `{Client}`; when that fails
/// (there is no `Server`, or the template names `{{.Version}}` directly)
/// it runs again over the client alone, with `.Client.`/`.Server.` cut.
fn render_version(format: &str, report: &Value) -> Result<String, TemplateError> {
    match render_one(format, report) {
        Err(TemplateError::Execute(_)) => render_one(
            &format.replace(".Server.", ".").replace(".Client.", "."),
            &report["Client"],
        ),
        other => other,
    }
}

pub fn info(dirs: &StorageDirs, args: InfoArgs) -> anyhow::Result<()> {
    let info = serde_json::to_value(system_info(dirs)?)?;
    match args.format.as_deref() {
        Some("json") => println!("{}", serde_json::to_string_pretty(&info)?),
        Some(format) => print!("{}", render_one(format, &go_field_names(&info))?),
        None => print!("{}", yaml_like(&info, 0)),
    }
    Ok(())
}

/// podman's JSON keys are camelCase but its templates see Go's field
/// names (`ociRuntime` is `.Host.OCIRuntime`): the same data with the
/// keys renamed. `registries` is a map in podman too, so its keys stay.
pub fn go_field_names(info: &Value) -> Value {
    const SPECIAL: &[(&str, &str)] = &[
        ("ociRuntime", "OCIRuntime"),
        ("idMappings", "IDMappings"),
        ("uidmap", "UIDMap"),
        ("gidmap", "GIDMap"),
        ("container_id", "ContainerID"),
        ("host_id", "HostID"),
        ("cgroupVersion", "CgroupsVersion"),
        ("apparmorEnabled", "AppArmorEnabled"),
        ("seccompEnabled", "SECCOMPEnabled"),
        ("selinuxEnabled", "SELinuxEnabled"),
        ("capabilities", "DefaultCapabilities"),
        ("cpus", "CPUs"),
    ];
    fn rename(key: &str) -> String {
        if let Some((_, go)) = SPECIAL.iter().find(|(json, _)| *json == key) {
            return go.to_string();
        }
        let mut chars = key.chars();
        chars
            .next()
            .map(|c| c.to_uppercase().chain(chars).collect())
            .unwrap_or_default()
    }
    fn walk(value: &Value, keep_keys: bool) -> Value {
        match value {
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        let key = if keep_keys { k.clone() } else { rename(k) };
                        (key, walk(v, keep_keys || k == "registries"))
                    })
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(|v| walk(v, keep_keys)).collect()),
            other => other.clone(),
        }
    }
    walk(info, false)
}

/// The YAML-shaped listing podman prints without `--format` (scalars as
/// JSON writes them, which YAML reads too).
fn yaml_like(value: &Value, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let mut out = String::new();
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match v {
                    Value::Object(m) if !m.is_empty() => {
                        out += &format!("{pad}{key}:\n{}", yaml_like(v, indent + 2))
                    }
                    Value::Array(a) if !a.is_empty() => {
                        out += &format!("{pad}{key}:\n{}", yaml_like(v, indent))
                    }
                    _ => out += &format!("{pad}{key}: {}\n", scalar(v)),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                let nested = yaml_like(item, indent + 2);
                match item {
                    Value::Object(_) => {
                        out += &format!("{pad}- {}\n", nested.trim_start().trim_end_matches('\n'))
                    }
                    _ => out += &format!("{pad}- {}\n", scalar(item)),
                }
            }
        }
        other => out += &format!("{pad}{}\n", scalar(other)),
    }
    out
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s)
            if !s.is_empty() && !s.contains(": ") && !s.starts_with(['-', '[', '{']) =>
        {
            s.clone()
        }
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
        other => other.to_string(),
    }
}

/// Prints the completion script for `shell` (clap_complete, from the same
/// definitions the parser uses).
pub fn completion(args: CompletionArgs, mut command: clap::Command) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut command, "skiff", &mut out);
    out.flush()?;
    Ok(())
}

/// Writes one man page per command (`skiff-container-run.1`), from the
/// same definitions the parser uses; hidden commands get none.
pub fn generate_man(args: GenerateManArgs, mut command: clap::Command) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    command.build();
    write_pages(&command, &args.dir)
}

/// `build` gave every subcommand its display name (`skiff-container-run`),
/// which clap_mangen uses for the page's title and NAME.
fn write_pages(command: &clap::Command, dir: &Path) -> anyhow::Result<()> {
    let name = command.get_display_name().unwrap_or(command.get_name());
    let path = dir.join(format!("{name}.1"));
    let mut text = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut text)?;
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    for sub in command.get_subcommands() {
        if !sub.is_hide_set() && sub.get_name() != "help" {
            write_pages(sub, dir)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_see_podmans_go_field_names() {
        let json = serde_json::json!({
            "host": {"ociRuntime": {"name": "skiff"}, "security": {"rootless": true},
                     "idMappings": {"uidmap": [{"container_id": 0, "host_id": 1000, "size": 1}]}},
            "store": {"graphRoot": "/r", "containerStore": {"number": 1}},
            "registries": {"search": ["docker.io"]},
        });
        let go = go_field_names(&json);
        for (template, want) in [
            ("{{.Host.OCIRuntime.Name}}", "skiff\n"),
            ("{{.Host.Security.Rootless}}", "true\n"),
            ("{{.Store.GraphRoot}}", "/r\n"),
            ("{{.Store.ContainerStore.Number}}", "1\n"),
            ("{{(index .Host.IDMappings.UIDMap 0).HostID}}", "1000\n"),
            ("{{index .Registries.search 0}}", "docker.io\n"),
        ] {
            assert_eq!(render_one(template, &go).unwrap(), want, "{template}");
        }
    }

    #[test]
    fn version_templates_work_with_or_without_client() {
        let report = serde_json::json!({"Client": {"Version": "1.2.3"}});
        for template in ["{{.Client.Version}}", "{{.Version}}", "{{.Server.Version}}"] {
            assert_eq!(render_version(template, &report).unwrap(), "1.2.3\n");
        }
    }

    #[test]
    fn the_plain_listing_nests_like_yaml() {
        let json = serde_json::json!({"host": {"arch": "amd64", "maps": [{"a": 1, "b": 2}]}});
        assert_eq!(
            yaml_like(&json, 0),
            "host:\n  arch: amd64\n  maps:\n  - a: 1\n    b: 2\n"
        );
    }
}
