//! `skiff tag`, `untag`, `rmi`, `image prune`, `history`,
//! `image inspect`, `image exists`.

use clap::Args;
use skiff::engine;
use skiff::state::StorageDirs;

use super::format::{Table, human_age, human_size};
use super::report::StderrReporter;
use super::template::{OutputFormat, print_documents, render_rows};

#[derive(Args)]
pub struct TagArgs {
    /// Image to name
    image: String,
    /// New names
    #[arg(required = true)]
    targets: Vec<String>,
}

#[derive(Args)]
pub struct UntagArgs {
    /// Image to remove names from
    image: String,
    /// Names to remove (default: all)
    names: Vec<String>,
}

#[derive(Args)]
pub struct RmiArgs {
    /// Remove images used by containers (and those containers), and images with several names
    #[arg(short, long)]
    force: bool,
    /// Remove every image
    #[arg(short, long)]
    all: bool,
    images: Vec<String>,
}

#[derive(Args)]
pub struct ImagePruneArgs {
    /// Remove every image no container uses, not only untagged ones
    #[arg(short, long)]
    all: bool,
    /// Do not ask for confirmation
    #[arg(short, long)]
    force: bool,
    /// Remove the persistent build cache (RUN --mount=type=cache) too
    #[arg(long)]
    build_cache: bool,
}

#[derive(Args)]
pub struct HistoryArgs {
    /// Do not truncate the output
    #[arg(long)]
    no_trunc: bool,
    /// Print the IDs only
    #[arg(short, long)]
    quiet: bool,
    /// Format the output with a Go template
    #[arg(long, allow_hyphen_values = true)]
    format: Option<String>,
    image: String,
}

#[derive(Args)]
pub struct ImageInspectArgs {
    /// Format the output with a Go template
    #[arg(short, long, allow_hyphen_values = true)]
    format: Option<String>,
    #[arg(required = true)]
    images: Vec<String>,
}

#[derive(Args)]
pub struct ExistsArgs {
    image: String,
}

pub fn tag(dirs: &StorageDirs, args: TagArgs) -> anyhow::Result<()> {
    engine::tag_image(dirs, &args.image, &args.targets)?;
    Ok(())
}

pub fn untag(dirs: &StorageDirs, args: UntagArgs) -> anyhow::Result<()> {
    engine::untag_image(dirs, &args.image, &args.names)?;
    Ok(())
}

/// Removes each image, printing what happened; the first failure is
/// reported after the others were tried (exit 125, or 2 when in use).
pub fn rmi(dirs: &StorageDirs, args: RmiArgs) -> anyhow::Result<i32> {
    let mut names = args.images;
    if args.all {
        names.extend(engine::all_image_ids(dirs)?);
    }
    if names.is_empty() {
        anyhow::bail!("image name or ID must be specified");
    }
    let mut code = 0;
    let results = engine::remove_images(dirs, &names, args.force, args.force || args.all)?;
    for result in results {
        match result {
            Ok(lines) => lines.iter().for_each(|l| println!("{l}")),
            Err(e) => {
                eprintln!("Error: {e}");
                let in_use = matches!(
                    &e,
                    engine::EngineError::Layers(skiff::layers::LayerError::ImageInUse { .. })
                );
                code = if in_use { 2 } else { code.max(1) };
            }
        }
    }
    engine::collect_garbage(dirs, &StderrReporter)?;
    Ok(code)
}

pub fn prune(dirs: &StorageDirs, args: ImagePruneArgs) -> anyhow::Result<()> {
    // skiff never prompts: there is no confirmation to skip.
    let _ = args.force;
    let (removed, report) = engine::prune_images(dirs, args.all, &StderrReporter)?;
    for id in &removed {
        println!("{}", id.hex());
    }
    let mut bytes = report.bytes;
    if args.build_cache {
        bytes += skiff::build::prune_build_cache(dirs, false, &StderrReporter)?.bytes;
    }
    if bytes > 0 {
        eprintln!("Total reclaimed space: {}", human_size(bytes));
    }
    Ok(())
}

pub fn history(dirs: &StorageDirs, args: HistoryArgs) -> anyhow::Result<()> {
    let rows = engine::image_history(dirs, &args.image)?;
    let short = |id: &str| {
        if args.no_trunc || id.starts_with('<') {
            id.to_string()
        } else {
            id[..12.min(id.len())].to_string()
        }
    };
    if args.quiet {
        rows.iter().for_each(|r| println!("{}", short(&r.id)));
        return Ok(());
    }
    if let Some(format) = &args.format {
        let values: Vec<serde_json::Value> = rows
            .iter()
            .map(|row| {
                serde_json::json!({
                    "ID": short(&row.id),
                    "Created": row.created.clone().unwrap_or_default(),
                    "CreatedSince": row.created.as_deref().map(human_age).unwrap_or_default(),
                    "CreatedBy": row.created_by,
                    "Size": human_size(row.size),
                    "Comment": row.comment,
                })
            })
            .collect();
        let header = |field: &str| match field {
            "CreatedSince" => Some("CREATED"),
            "CreatedBy" => Some("CREATED BY"),
            _ => None,
        };
        print!(
            "{}",
            render_rows(&OutputFormat::parse(format)?, &values, &header)?
        );
        return Ok(());
    }
    let mut table = Table::new(&["ID", "CREATED", "CREATED BY", "SIZE", "COMMENT"]);
    for row in &rows {
        // A heredoc RUN's command spans lines; a table row must not.
        let one_line = row.created_by.replace(['\n', '\t'], " ");
        let created_by = if args.no_trunc || one_line.chars().count() <= 45 {
            one_line
        } else {
            format!("{}...", one_line.chars().take(42).collect::<String>())
        };
        table.row(vec![
            short(&row.id),
            row.created
                .as_deref()
                .map(human_age)
                .unwrap_or_else(|| "unknown".into()),
            created_by,
            human_size(row.size),
            row.comment.clone(),
        ]);
    }
    print!("{table}");
    Ok(())
}

pub fn inspect(dirs: &StorageDirs, args: ImageInspectArgs) -> anyhow::Result<i32> {
    let mut docs = Vec::new();
    let mut code = 0;
    for name in &args.images {
        match engine::inspect_image(dirs, name) {
            Ok(doc) => docs.push(doc),
            Err(e) => {
                eprintln!("Error: {e}");
                code = 125;
            }
        }
    }
    print_documents(&docs, args.format.as_deref())?;
    Ok(code)
}

/// `image exists`: 0 when present, 1 when not (podman's codes).
pub fn exists(dirs: &StorageDirs, args: ExistsArgs) -> anyhow::Result<i32> {
    match engine::inspect_image(dirs, &args.image) {
        Ok(_) => Ok(0),
        Err(engine::EngineError::Layers(skiff::layers::LayerError::NoSuchImage { .. })) => Ok(1),
        Err(e) => Err(e.into()),
    }
}
