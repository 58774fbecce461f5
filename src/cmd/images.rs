//! `skiff load`, `skiff save`, `skiff import`, `skiff images`.

use std::fs::File;
use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use skiff::engine;
use skiff::layers::ArchiveFormat;
use skiff::state::StorageDirs;

use super::format::{Table, human_age, human_size};
use super::report::StderrReporter;
use super::template::{OutputFormat, render_rows};

#[derive(Args)]
pub struct LoadArgs {
    /// Read from an archive file instead of standard input
    #[arg(short, long)]
    input: Option<PathBuf>,
    /// Print nothing on success
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Args)]
pub struct ImportArgs {
    /// Tarball of a root filesystem, or - for standard input
    source: String,
    /// Name for the new image
    reference: Option<String>,
    /// Apply a Dockerfile instruction to the image config (CMD, ENV, …)
    #[arg(short, long, allow_hyphen_values = true)]
    change: Vec<String>,
    /// Commit message recorded in the image's history
    #[arg(short, long, allow_hyphen_values = true)]
    message: Option<String>,
    /// Print nothing but errors
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Args)]
pub struct SaveArgs {
    /// Write to this file (or directory, for oci-dir) instead of standard output
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// docker-archive (default), oci-archive or oci-dir
    #[arg(long, default_value = "docker-archive")]
    format: String,
    /// Print nothing but errors
    #[arg(short, long)]
    quiet: bool,
    /// Images to save (names or IDs)
    #[arg(required = true)]
    images: Vec<String>,
}

#[derive(Args)]
pub struct ImagesArgs {
    /// Show all images, the unnamed build-cache images of `skiff build` too
    #[arg(short, long)]
    all: bool,
    /// Show only image IDs
    #[arg(short, long)]
    quiet: bool,
    /// Do not truncate image IDs
    #[arg(long)]
    no_trunc: bool,
    /// Show the manifest digests
    #[arg(long)]
    digests: bool,
    /// Filter: dangling=BOOL, reference=PATTERN, label=KEY[=VALUE], before=IMAGE, since=IMAGE
    #[arg(short, long)]
    filter: Vec<String>,
    /// Format the output with a Go template, `table …` or json
    #[arg(long, allow_hyphen_values = true)]
    format: Option<String>,
    /// Only images with this name (a reference pattern)
    reference: Option<String>,
}

fn open_input(path: Option<&PathBuf>) -> anyhow::Result<Box<dyn Read>> {
    Ok(match path {
        Some(p) if p.as_os_str() != "-" => {
            Box::new(File::open(p).with_context(|| format!("opening {}", p.display()))?)
        }
        _ => Box::new(std::io::stdin().lock()),
    })
}

pub fn load(dirs: &StorageDirs, args: LoadArgs) -> anyhow::Result<()> {
    let loaded = match &args.input {
        // An OCI layout directory (`save --format oci-dir`).
        Some(dir) if dir.is_dir() => engine::load_directory(dirs, dir, &StderrReporter)?,
        input => {
            if input.is_none() && std::io::stdin().is_terminal() {
                anyhow::bail!(
                    "cannot read an archive from a terminal: use -i FILE or redirect standard input"
                );
            }
            engine::load_archive(dirs, &mut open_input(input.as_ref())?, &StderrReporter)?
        }
    };
    if !args.quiet {
        for name in loaded {
            println!("Loaded image: {name}");
        }
    }
    Ok(())
}

pub fn import(dirs: &StorageDirs, args: ImportArgs) -> anyhow::Result<()> {
    let source = PathBuf::from(&args.source);
    let mut input = open_input(Some(&source))?;
    let options = skiff::layers::CommitOptions {
        reference: args.reference,
        message: args.message,
        changes: args.change,
        ..Default::default()
    };
    let id = engine::import_rootfs(dirs, &mut input, &options, &StderrReporter)?;
    if !args.quiet {
        println!("{id}");
    }
    Ok(())
}

pub fn save(dirs: &StorageDirs, args: SaveArgs) -> anyhow::Result<()> {
    let format = ArchiveFormat::parse(&args.format)?;
    if args.output.is_none() && std::io::stdout().is_terminal() {
        anyhow::bail!(
            "refusing to write an archive to a terminal: use -o FILE or redirect standard output"
        );
    }
    let _ = args.quiet; // skiff prints no progress while saving
    engine::save_images(dirs, &args.images, format, args.output.as_deref())?;
    Ok(())
}

/// Column names for `images --format 'table …'`.
fn images_header(field: &str) -> Option<&'static str> {
    Some(match field {
        "ID" => "IMAGE ID",
        "CreatedSince" | "CreatedAt" => "CREATED",
        _ => return None,
    })
}

pub fn images(dirs: &StorageDirs, args: ImagesArgs) -> anyhow::Result<()> {
    let mut filters = args.filter.clone();
    if let Some(reference) = &args.reference {
        filters.push(format!("reference={reference}"));
    }
    let mut rows = engine::list_images(dirs, &filters)?;
    rows.retain(|row| args.all || !(row.intermediate && row.repository == "<none>"));
    let id_of = |hex: &str| {
        if args.no_trunc {
            format!("sha256:{hex}")
        } else {
            hex[..12.min(hex.len())].to_string()
        }
    };
    if let Some(format) = &args.format {
        let values: Vec<serde_json::Value> = rows
            .iter()
            .map(|row| {
                serde_json::json!({
                    "ID": id_of(row.id.hex()),
                    "Id": row.id.hex(),
                    "Repository": row.repository,
                    "Tag": row.tag,
                    "Digest": row.digest.to_string(),
                    "CreatedAt": row.created.clone().unwrap_or_default(),
                    "CreatedSince": row.created.as_deref().map(human_age).unwrap_or_default(),
                    "Size": human_size(row.size),
                    "Dangling": row.repository == "<none>",
                })
            })
            .collect();
        let format = OutputFormat::parse(format)?;
        print!("{}", render_rows(&format, &values, &images_header)?);
        return Ok(());
    }
    if args.quiet {
        let mut seen = std::collections::HashSet::new();
        for row in &rows {
            if seen.insert(row.id.hex().to_string()) {
                println!("{}", id_of(row.id.hex()));
            }
        }
        return Ok(());
    }
    let mut header = vec!["REPOSITORY", "TAG"];
    if args.digests {
        header.push("DIGEST");
    }
    header.extend(["IMAGE ID", "CREATED", "SIZE"]);
    let mut table = Table::new(&header);
    for row in &rows {
        let mut cells = vec![row.repository.clone(), row.tag.clone()];
        if args.digests {
            cells.push(row.digest.to_string());
        }
        cells.extend([
            id_of(row.id.hex()),
            row.created
                .as_deref()
                .map(human_age)
                .unwrap_or_else(|| "unknown".into()),
            human_size(row.size),
        ]);
        table.row(cells);
    }
    print!("{table}");
    Ok(())
}
