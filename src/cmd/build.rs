//! `skiff build`: flags → `build::BuildRequest` → `build::build_image` →
//! print. Progress lines go to standard output (podman's), the image ID
//! is the last line there; `-q` prints only the ID.

use std::io::{Read, Write};
use std::path::PathBuf;

use clap::Args;
use skiff::build::{
    self, BuildError, BuildReporter, BuildRequest, BuildSecret, ContextSource, DockerfileSource,
};
use skiff::engine::{PullOptions, PullPolicy, Reporter};
use skiff::net::NetworkMode;
use skiff::state::StorageDirs;

use super::registry::RegistryFlags;
use super::report::StderrReporter;

#[derive(Args)]
pub struct BuildArgs {
    /// Name (and tag) for the image; may be repeated
    #[arg(short, long = "tag", value_name = "NAME[:TAG]")]
    tag: Vec<String>,
    /// The Dockerfile (default: Dockerfile, else Containerfile, in the context); - for standard input
    #[arg(short, long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// A build-time variable NAME=VALUE (NAME alone takes it from the environment)
    #[arg(
        long = "build-arg",
        value_name = "NAME[=VALUE]",
        allow_hyphen_values = true
    )]
    build_arg: Vec<String>,
    /// The stage to build (name or index); later stages are skipped
    #[arg(long, value_name = "STAGE")]
    target: Option<String>,
    /// Run every step again (results are still cached)
    #[arg(long)]
    no_cache: bool,
    /// When to pull FROM images: missing (default), always, never, newer; alone: always
    #[arg(long, value_name = "POLICY", num_args = 0..=1, default_missing_value = "always", require_equals = true)]
    pull: Option<String>,
    /// Keep each step's result as cache (false: no cache, no intermediate images)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", require_equals = true, action = clap::ArgAction::Set)]
    layers: Option<bool>,
    /// Print only the image ID
    #[arg(short, long)]
    quiet: bool,
    /// Write the image ID to this file
    #[arg(long, value_name = "FILE")]
    iidfile: Option<PathBuf>,
    /// A label KEY=VALUE for the image; may be repeated
    #[arg(long, value_name = "KEY=VALUE", allow_hyphen_values = true)]
    label: Vec<String>,
    /// Progress output: auto, plain, tty (one line per step) or quiet (-q)
    #[arg(long, value_name = "TYPE", value_parser = ["auto", "plain", "tty", "quiet"])]
    progress: Option<String>,
    /// Network of RUN steps: host (default) or none
    #[arg(long, value_name = "MODE", value_parser = ["host", "none"])]
    network: Option<String>,
    /// Seconds since the epoch for every created time and new file time (reproducible builds; default: SOURCE_DATE_EPOCH)
    #[arg(long, value_name = "SECONDS")]
    timestamp: Option<i64>,
    /// Image config format: docker (default: keeps HEALTHCHECK, SHELL, ONBUILD) or oci (drops them)
    #[arg(long, value_name = "FORMAT", value_parser = ["docker", "oci"])]
    format: Option<String>,
    /// A secret for RUN --mount=type=secret: id=ID,src=FILE
    #[arg(long, value_name = "id=ID,src=FILE")]
    secret: Vec<String>,
    #[command(flatten)]
    registry: RegistryFlags,
    /// The build context: a directory, or - (a Dockerfile or a tar on standard input)
    #[arg(value_name = "CONTEXT")]
    context: PathBuf,
}

/// Progress on standard output unless quiet; the engine's notices on
/// standard error.
struct CliBuildReporter {
    quiet: bool,
}

impl BuildReporter for CliBuildReporter {
    fn engine(&self) -> &dyn Reporter {
        &StderrReporter
    }

    fn progress(&self, line: &str) {
        // A closed standard output does not stop the build.
        if !self.quiet {
            let _ = writeln!(std::io::stdout(), "{line}");
        }
    }
}

fn read_stdin() -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::io::stdin().read_to_end(&mut bytes)?;
    Ok(bytes)
}

fn request(args: &BuildArgs) -> anyhow::Result<BuildRequest> {
    let stdin_context = args.context.as_os_str() == "-";
    let stdin_file = args.file.as_ref().is_some_and(|f| f.as_os_str() == "-");
    if stdin_context && stdin_file {
        anyhow::bail!("cannot read both the context and the Dockerfile (-f -) from standard input");
    }
    let dockerfile = match &args.file {
        None => DockerfileSource::Default,
        Some(_) if stdin_file => DockerfileSource::Text(read_stdin()?),
        Some(path) => DockerfileSource::Path(path.clone()),
    };
    let context = if stdin_context {
        ContextSource::Stdin(read_stdin()?)
    } else {
        ContextSource::Dir(args.context.clone())
    };
    let mut build_args = Vec::new();
    for arg in &args.build_arg {
        match arg.split_once('=') {
            Some((k, v)) => build_args.push((k.to_string(), v.to_string())),
            // docker: a bare NAME takes the caller's value, if any.
            None => {
                if let Ok(v) = std::env::var(arg) {
                    build_args.push((arg.clone(), v));
                }
            }
        }
    }
    let mut labels = Vec::new();
    for label in &args.label {
        let (k, v) = label.split_once('=').unwrap_or((label, ""));
        if k.is_empty() {
            anyhow::bail!("invalid label \"{label}\": empty key");
        }
        labels.push((k.to_string(), v.to_string()));
    }
    let timestamp = match args.timestamp {
        Some(t) => Some(t),
        None => match std::env::var("SOURCE_DATE_EPOCH") {
            Ok(v) if !v.is_empty() => Some(v.parse().map_err(|_| {
                anyhow::anyhow!(
                    "invalid SOURCE_DATE_EPOCH \"{v}\": expected seconds since the epoch"
                )
            })?),
            _ => None,
        },
    };
    if timestamp.is_some_and(|t| t < 0) {
        anyhow::bail!("invalid --timestamp: must not be negative");
    }
    let quiet = args.quiet || args.progress.as_deref() == Some("quiet");
    let mut secrets = Vec::new();
    for spec in &args.secret {
        secrets.push(parse_secret(spec)?);
    }
    Ok(BuildRequest {
        context,
        dockerfile,
        tags: args.tag.clone(),
        build_args,
        target: args.target.clone(),
        no_cache: args.no_cache,
        layers: args.layers.unwrap_or(true),
        pull: match &args.pull {
            Some(p) => PullPolicy::parse(p)?,
            None => PullPolicy::Missing,
        },
        pull_options: PullOptions {
            registry: args.registry.options()?,
            ..PullOptions::default()
        },
        labels,
        network: match args.network.as_deref() {
            Some("none") => NetworkMode::None,
            _ => NetworkMode::Host,
        },
        timestamp,
        run_output_to_stderr: quiet,
        secrets,
        oci_format: args.format.as_deref() == Some("oci"),
    })
}

/// `--secret id=ID,src=FILE` (`type=file`, `source=` accepted).
fn parse_secret(spec: &str) -> anyhow::Result<BuildSecret> {
    let (mut id, mut src) = (None, None);
    for part in spec.split(',') {
        match part.split_once('=') {
            Some(("id", v)) => id = Some(v.to_string()),
            Some(("src" | "source", v)) => src = Some(PathBuf::from(v)),
            Some(("type", "file")) => {}
            _ => anyhow::bail!("invalid --secret \"{spec}\": expected id=ID,src=FILE"),
        }
    }
    let (Some(id), Some(src)) = (id, src) else {
        anyhow::bail!("invalid --secret \"{spec}\": expected id=ID,src=FILE");
    };
    let source = src
        .canonicalize()
        .map_err(|e| anyhow::anyhow!("--secret {spec}: {}: {e}", src.display()))?;
    if !source.is_file() {
        anyhow::bail!("--secret {spec}: {} is not a file", src.display());
    }
    Ok(BuildSecret { id, source })
}

pub fn build(dirs: &StorageDirs, args: BuildArgs) -> anyhow::Result<i32> {
    let req = request(&args)?;
    let quiet = req.run_output_to_stderr;
    let reporter = CliBuildReporter { quiet };
    match build::build_image(dirs, &req, &reporter) {
        Ok(outcome) => {
            if let Some(path) = &args.iidfile {
                std::fs::write(path, outcome.image_id.to_string())
                    .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
            }
            let _ = writeln!(std::io::stdout(), "{}", outcome.image_id.hex());
            Ok(0)
        }
        // A signal ended a RUN step: main dies of it.
        Err(BuildError::Engine(e)) if e.ended_by().is_some() => Err(e.into()),
        Err(e) => {
            eprintln!("Error: {e}");
            Ok(e.exit_code())
        }
    }
}
