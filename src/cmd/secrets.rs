//! `skiff secret create|ls|inspect|rm|exists`.

use std::collections::BTreeMap;
use std::io::Read;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use skiff::engine::secrets::{
    SecretFilter, create_secret, list_secrets, remove_secret, secret_exists, secret_json,
};
use skiff::state::{MAX_SECRET_SIZE, StorageDirs};

use super::format::{ListFlags, Table, human_age};
use super::template::{OutputFormat, render_one, render_rows};

#[derive(Subcommand)]
pub enum SecretCommand {
    /// Create a secret from a file, stdin (`-`) or an environment variable
    Create(CreateArgs),
    /// List secrets
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Show secrets' details as JSON
    Inspect(InspectArgs),
    /// Remove secrets
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Exit 0 if the secret exists, 1 if not
    Exists(ExistsArgs),
}

#[derive(Args)]
pub struct CreateArgs {
    /// Secret driver (only `file`)
    #[arg(short, long, default_value = "file")]
    driver: String,
    /// Read the value from the environment variable SOURCE
    #[arg(long)]
    env: bool,
    /// Set metadata (KEY=VALUE)
    #[arg(short, long = "label", allow_hyphen_values = true)]
    label: Vec<String>,
    /// Replace the value of an existing secret of that name
    #[arg(long)]
    replace: bool,
    /// Do nothing when a secret of that name exists
    #[arg(long)]
    ignore: bool,
    name: String,
    /// A file, `-` for stdin, or with --env a variable name
    source: String,
}

#[derive(Args)]
pub struct LsArgs {
    /// Filter: name=NAME, id=ID
    #[arg(short, long = "filter")]
    filter: Vec<String>,
    #[command(flatten)]
    output: ListFlags,
}

#[derive(Args)]
pub struct InspectArgs {
    /// Go template or `json`
    #[arg(short, long, allow_hyphen_values = true)]
    format: Option<String>,
    /// Include the secret's value (`SecretData`)
    #[arg(long)]
    showsecret: bool,
    #[arg(required = true)]
    secrets: Vec<String>,
}

#[derive(Args)]
pub struct RmArgs {
    /// Remove every secret
    #[arg(short, long)]
    all: bool,
    /// Do not fail for a secret that does not exist
    #[arg(short, long)]
    ignore: bool,
    secrets: Vec<String>,
}

#[derive(Args)]
pub struct ExistsArgs {
    secret: String,
}

pub fn dispatch(dirs: &StorageDirs, command: SecretCommand) -> anyhow::Result<i32> {
    match command {
        SecretCommand::Create(args) => create(dirs, args).map(|()| 0),
        SecretCommand::Ls(args) => ls(dirs, args).map(|()| 0),
        SecretCommand::Inspect(args) => inspect(dirs, args),
        SecretCommand::Rm(args) => rm(dirs, args),
        SecretCommand::Exists(args) => Ok(if secret_exists(dirs, &args.secret) {
            0
        } else {
            1
        }),
    }
}

fn labels(pairs: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    pairs
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            None if !pair.is_empty() => Ok((pair.clone(), String::new())),
            _ => bail!("invalid --label \"{pair}\": expected KEY=VALUE"),
        })
        .collect()
}

/// The value from stdin, a file, or (`--env`) a variable; at most one
/// byte more than the limit is read, so a huge input is refused quickly.
fn read_value(args: &CreateArgs) -> anyhow::Result<Vec<u8>> {
    if args.env {
        return std::env::var_os(&args.source)
            .map(std::os::unix::ffi::OsStringExt::into_vec)
            .with_context(|| format!("environment variable {} is not set", args.source));
    }
    let mut data = Vec::new();
    let limit = MAX_SECRET_SIZE as u64 + 1;
    if args.source == "-" {
        std::io::stdin()
            .lock()
            .take(limit)
            .read_to_end(&mut data)
            .context("reading the secret from stdin")?;
    } else {
        std::fs::File::open(&args.source)
            .and_then(|f| f.take(limit).read_to_end(&mut data))
            .with_context(|| format!("reading {}", args.source))?;
    }
    Ok(data)
}

fn create(dirs: &StorageDirs, args: CreateArgs) -> anyhow::Result<()> {
    if args.driver != "file" {
        bail!(
            "secret driver \"{}\" is not supported: skiff has the file driver only",
            args.driver
        );
    }
    if args.replace && args.ignore {
        bail!("the --replace and --ignore options cannot be used together");
    }
    if args.ignore && secret_exists(dirs, &args.name) {
        let doc = secret_json(dirs, &args.name, false)?;
        if doc["Spec"]["Name"] == args.name.as_str() {
            println!("{}", doc["ID"].as_str().unwrap_or_default());
            return Ok(());
        }
    }
    let data = read_value(&args)?;
    let id = create_secret(dirs, &args.name, &data, labels(&args.label)?, args.replace)?;
    println!("{id}");
    Ok(())
}

fn header(field: &str) -> Option<&'static str> {
    Some(match field {
        "ID" => "ID",
        "Name" | "Spec.Name" => "NAME",
        "Driver" | "Spec.Driver.Name" => "DRIVER",
        "CreatedAt" => "CREATED",
        "UpdatedAt" => "UPDATED",
        _ => return None,
    })
}

fn ls(dirs: &StorageDirs, args: LsArgs) -> anyhow::Result<()> {
    let filters: Vec<SecretFilter> = args
        .filter
        .iter()
        .map(|f| f.parse())
        .collect::<Result<_, _>>()?;
    let rows = list_secrets(dirs, &filters);
    if args.output.quiet {
        rows.iter().for_each(|r| println!("{}", r.id));
        return Ok(());
    }
    if let Some(format) = args.output.format.as_deref().filter(|f| *f != "table") {
        let docs: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                // podman's ls rows have the inspect fields and these two.
                secret_json(dirs, &r.id, false).map(|mut doc| {
                    doc["Name"] = r.name.clone().into();
                    doc["Driver"] = r.driver.clone().into();
                    doc
                })
            })
            .collect::<Result<_, _>>()?;
        print!(
            "{}",
            render_rows(&OutputFormat::parse(format)?, &docs, &header)?
        );
        return Ok(());
    }
    let mut table = Table::new(&["ID", "NAME", "DRIVER", "CREATED", "UPDATED"]);
    for r in &rows {
        table.row(vec![
            r.id.clone(),
            r.name.clone(),
            r.driver.clone(),
            human_age(&r.created_at),
            human_age(&r.updated_at),
        ]);
    }
    table.print(args.output.noheading);
    Ok(())
}

fn inspect(dirs: &StorageDirs, args: InspectArgs) -> anyhow::Result<i32> {
    let mut docs = Vec::new();
    let mut code = 0;
    for name in &args.secrets {
        match secret_json(dirs, name, args.showsecret) {
            Ok(doc) => docs.push(doc),
            Err(e) => {
                eprintln!("Error: {e}");
                code = 125;
            }
        }
    }
    match args.format.as_deref() {
        None | Some("json") => println!("{}", serde_json::to_string_pretty(&docs)?),
        Some(template) => {
            for doc in &docs {
                print!("{}", render_one(template, doc)?);
            }
        }
    }
    Ok(code)
}

fn rm(dirs: &StorageDirs, args: RmArgs) -> anyhow::Result<i32> {
    let names: Vec<String> = if args.all {
        list_secrets(dirs, &[]).into_iter().map(|r| r.id).collect()
    } else if args.secrets.is_empty() {
        bail!("secret rm requires at least one secret name (or --all)");
    } else {
        args.secrets
    };
    let mut code = 0;
    for name in &names {
        match remove_secret(dirs, name) {
            Ok(id) => println!("{id}"),
            Err(skiff::engine::EngineError::State(skiff::state::StateError::NoSuchSecret {
                ..
            })) if args.ignore => {}
            Err(e) => {
                eprintln!("Error: {e}");
                code = e.exit_code();
            }
        }
    }
    Ok(code)
}
