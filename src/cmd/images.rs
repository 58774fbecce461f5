//! `skiff load`, `skiff import`, `skiff images`.

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use skiff::engine;
use skiff::state::StorageDirs;

use super::format::{Table, human_age, human_size};

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
    /// Print nothing but errors
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Args)]
pub struct ImagesArgs {
    /// Show only image IDs
    #[arg(short, long)]
    quiet: bool,
    /// Do not truncate image IDs
    #[arg(long)]
    no_trunc: bool,
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
    let mut input = open_input(args.input.as_ref())?;
    let loaded = engine::load_archive(dirs, &mut input)?;
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
    let id = engine::import_rootfs(dirs, &mut input, args.reference.as_deref())?;
    if !args.quiet {
        println!("{id}");
    }
    Ok(())
}

pub fn images(dirs: &StorageDirs, args: ImagesArgs) -> anyhow::Result<()> {
    let rows = engine::list_images(dirs)?;
    let id_of = |hex: &str| {
        if args.no_trunc {
            format!("sha256:{hex}")
        } else {
            hex[..12.min(hex.len())].to_string()
        }
    };
    if args.quiet {
        let mut seen = std::collections::HashSet::new();
        for row in &rows {
            if seen.insert(row.id.hex().to_string()) {
                println!("{}", id_of(row.id.hex()));
            }
        }
        return Ok(());
    }
    let mut table = Table::new(&["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]);
    for row in &rows {
        table.row(vec![
            row.repository.clone(),
            row.tag.clone(),
            id_of(row.id.hex()),
            row.created
                .as_deref()
                .map(human_age)
                .unwrap_or_else(|| "unknown".into()),
            human_size(row.size),
        ]);
    }
    print!("{table}");
    Ok(())
}
