//! `skiff pull`, `push`, `login`, `logout`, and the registry flags that
//! `run`/`create` share with them.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use skiff::engine::{self, PullOptions, PullPolicy, Reporter};
use skiff::layers::registry::{AuthFile, Credentials, PullEvent, PushEvent, RegistryOptions};
use skiff::layers::{ImageReference, Platform};
use skiff::state::StorageDirs;

use super::format::human_size;
use super::report::StderrReporter;

/// How to reach registries.
#[derive(Args, Clone)]
pub struct RegistryFlags {
    /// Require HTTPS and verify certificates (false also allows plain HTTP)
    #[arg(long = "tls-verify", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    tls_verify: Option<bool>,
    /// Path of the registry credentials file
    #[arg(long, value_name = "FILE")]
    authfile: Option<PathBuf>,
    /// Directory with *.crt CA certificates for the registry
    #[arg(long = "cert-dir", value_name = "DIR")]
    cert_dir: Option<PathBuf>,
    /// Credentials USER[:PASSWORD] for the registry
    #[arg(long, value_name = "USER[:PASSWORD]")]
    creds: Option<String>,
}

impl RegistryFlags {
    pub fn options(&self) -> anyhow::Result<RegistryOptions> {
        Ok(RegistryOptions {
            tls_verify: self.tls_verify,
            cert_dir: self.cert_dir.clone(),
            credentials: self.creds.as_deref().map(Credentials::parse).transpose()?,
            auth_file: self.authfile.clone(),
        })
    }
}

/// Which platform's image to take from a multi-platform index.
#[derive(Args, Clone)]
pub struct PlatformFlags {
    /// OS/ARCH[/VARIANT] of the image (default: the host's)
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    platform: Option<String>,
    /// Architecture of the image (default: the host's)
    #[arg(long)]
    arch: Option<String>,
    /// OS of the image (default: linux)
    #[arg(long)]
    os: Option<String>,
    /// Architecture variant of the image (arm: v6, v7, v8)
    #[arg(long)]
    variant: Option<String>,
}

impl PlatformFlags {
    pub fn platform(&self) -> anyhow::Result<Platform> {
        Ok(Platform::parse(
            self.platform.as_deref(),
            self.os.as_deref(),
            self.arch.as_deref(),
            self.variant.as_deref(),
        )?)
    }
}

/// The flags `run`/`create` take for their pull.
#[derive(Args, Clone)]
pub struct RunPullFlags {
    /// When to pull the image: missing (default), always, never, newer
    #[arg(long, value_name = "POLICY", default_value = "missing")]
    pull: String,
    #[command(flatten)]
    platform: PlatformFlags,
    #[command(flatten)]
    registry: RegistryFlags,
}

impl RunPullFlags {
    pub fn policy(&self) -> anyhow::Result<(PullPolicy, PullOptions)> {
        Ok((
            PullPolicy::parse(&self.pull)?,
            PullOptions {
                platform: self.platform.platform()?,
                registry: self.registry.options()?,
            },
        ))
    }
}

#[derive(Args)]
pub struct PullArgs {
    /// Print only the image ID
    #[arg(short, long)]
    quiet: bool,
    #[command(flatten)]
    platform: PlatformFlags,
    #[command(flatten)]
    registry: RegistryFlags,
    /// Image to pull (NAME[:TAG|@DIGEST])
    image: String,
}

#[derive(Args)]
pub struct PushArgs {
    /// Print nothing but errors
    #[arg(short, long)]
    quiet: bool,
    /// Write the pushed manifest's digest to this file
    #[arg(long = "digestfile", value_name = "FILE")]
    digest_file: Option<PathBuf>,
    #[command(flatten)]
    registry: RegistryFlags,
    /// Local image to push
    source: String,
    /// Where to push it (default: the source name)
    destination: Option<String>,
}

#[derive(Args)]
pub struct LoginArgs {
    /// User name
    #[arg(short, long, allow_hyphen_values = true)]
    username: Option<String>,
    /// Password (prefer --password-stdin)
    #[arg(short, long, allow_hyphen_values = true)]
    password: Option<String>,
    /// Read the password from standard input
    #[arg(long = "password-stdin")]
    password_stdin: bool,
    #[command(flatten)]
    registry: RegistryFlags,
    /// Registry (default: docker.io)
    server: Option<String>,
}

#[derive(Args)]
pub struct LogoutArgs {
    /// Remove the credentials of every registry
    #[arg(short, long)]
    all: bool,
    /// Path of the registry credentials file
    #[arg(long, value_name = "FILE")]
    authfile: Option<PathBuf>,
    /// Registry (default: docker.io)
    server: Option<String>,
}

pub fn pull(dirs: &StorageDirs, args: PullArgs) -> anyhow::Result<()> {
    let options = PullOptions {
        platform: args.platform.platform()?,
        registry: args.registry.options()?,
    };
    let reporter = PullReporter {
        quiet: args.quiet,
        progress: ProgressLine::new(!args.quiet && std::io::stderr().is_terminal()),
    };
    let pulled = engine::pull_image(dirs, &args.image, &options, &reporter)?;
    let progress = reporter.progress;
    progress.clear();
    if !args.quiet {
        eprintln!("Digest: {}", pulled.digest);
    }
    println!("{}", pulled.id.hex());
    Ok(())
}

pub fn push(dirs: &StorageDirs, args: PushArgs) -> anyhow::Result<()> {
    let options = args.registry.options()?;
    let report = |event: &PushEvent| {
        if args.quiet {
            return;
        }
        match event {
            PushEvent::BlobExists { digest } => {
                eprintln!("{}: Layer already exists", digest.short())
            }
            PushEvent::BlobPushed { digest } => eprintln!("{}: Pushed", digest.short()),
        }
    };
    let (destination, digest) = engine::push_image(
        dirs,
        &args.source,
        args.destination.as_deref(),
        &options,
        &report,
    )?;
    if !args.quiet {
        eprintln!("Writing manifest to {destination}: digest: {digest}");
    }
    if let Some(path) = &args.digest_file {
        std::fs::write(path, digest.to_string())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// The registry part of `server`: `https://quay.io/v2/` and `quay.io/ns`
/// mean `quay.io`; none means Docker Hub.
fn registry_of(server: Option<&str>) -> String {
    let Some(server) = server else {
        return "docker.io".to_string();
    };
    let server = server
        .strip_prefix("https://")
        .or_else(|| server.strip_prefix("http://"))
        .unwrap_or(server);
    let host = server.split('/').next().unwrap_or(server);
    match host {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".to_string(),
        other => other.to_string(),
    }
}

pub fn login(args: LoginArgs) -> anyhow::Result<()> {
    let registry = registry_of(args.server.as_deref());
    let username = match args.username {
        Some(u) => u,
        None => prompt(&format!("Username for {registry}: "))?,
    };
    let password = match (args.password, args.password_stdin) {
        (Some(_), true) => anyhow::bail!("--password and --password-stdin are mutually exclusive"),
        (Some(p), false) => p,
        (None, true) => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading the password from standard input")?;
            text.trim_end_matches(['\n', '\r']).to_string()
        }
        (None, false) => prompt_hidden("Password: ")?,
    };
    if username.is_empty() {
        anyhow::bail!("a user name is required to log in to {registry}");
    }
    let credentials = Credentials { username, password };
    let options = args.registry.options()?;
    skiff::layers::registry::login(&registry, &credentials, &options)?;
    AuthFile::locate(options.auth_file.as_deref()).store(&registry, &credentials)?;
    println!("Login Succeeded!");
    Ok(())
}

pub fn logout(args: LogoutArgs) -> anyhow::Result<()> {
    let file = AuthFile::locate(args.authfile.as_deref());
    if args.all {
        file.remove_all()?;
        println!("Removed login credentials for all registries");
        return Ok(());
    }
    let registry = registry_of(args.server.as_deref());
    if !file.remove(&registry)? {
        anyhow::bail!("not logged into {registry}");
    }
    println!("Removed login credentials for {registry}");
    Ok(())
}

fn prompt(question: &str) -> anyhow::Result<String> {
    eprint!("{question}");
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading from standard input")?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// Reads a line with the terminal's echo off (plain read when stdin is
/// no terminal).
fn prompt_hidden(question: &str) -> anyhow::Result<String> {
    use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};
    let stdin = std::io::stdin();
    let Ok(saved) = tcgetattr(&stdin) else {
        return prompt(question);
    };
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    let _ = tcsetattr(&stdin, SetArg::TCSANOW, &quiet);
    let answer = prompt(question);
    let _ = tcsetattr(&stdin, SetArg::TCSANOW, &saved);
    eprintln!();
    answer
}

/// A pull's progress on a terminal: one line, rewritten in place, with
/// the bytes received of the blobs being downloaded.
/// `pull`'s notices: on stderr unless `--quiet`, with a progress line on
/// a terminal.
struct PullReporter {
    quiet: bool,
    progress: ProgressLine,
}

impl Reporter for PullReporter {
    fn warning(&self, text: &str) {
        StderrReporter.warning(text);
    }

    fn pull_started(&self, reference: &ImageReference) {
        if !self.quiet {
            StderrReporter.pull_started(reference);
        }
    }

    fn pull_event(&self, event: &PullEvent) {
        if !self.quiet {
            self.progress.update(event);
            StderrReporter.pull_event(event);
        }
    }
}

struct ProgressLine {
    enabled: bool,
    blobs: std::cell::RefCell<std::collections::BTreeMap<String, (u64, u64)>>,
}

impl ProgressLine {
    fn new(enabled: bool) -> ProgressLine {
        ProgressLine {
            enabled,
            blobs: Default::default(),
        }
    }

    fn update(&self, event: &PullEvent) {
        if !self.enabled {
            return;
        }
        let mut blobs = self.blobs.borrow_mut();
        match event {
            PullEvent::Progress {
                digest,
                received,
                size,
            } => {
                blobs.insert(digest.short().to_string(), (*received, *size));
            }
            // The plain line follows: clear ours first.
            PullEvent::LayerDone { digest } => {
                blobs.remove(digest.short());
                self.clear();
                return;
            }
            _ => return,
        }
        let (received, size) = blobs
            .values()
            .fold((0, 0), |(r, s), (br, bs)| (r + br, s + bs));
        let mut stderr = std::io::stderr().lock();
        let _ = write!(
            stderr,
            "\r\x1b[KCopying {} blob(s) {} {} / {}",
            blobs.len(),
            progress_bar(received, size, 30),
            human_size(received),
            human_size(size)
        );
        let _ = stderr.flush();
    }

    fn clear(&self) {
        if self.enabled {
            eprint!("\r\x1b[K");
        }
    }
}

/// `[=========>          ]`, `width` cells between the brackets.
fn progress_bar(done: u64, total: u64, width: usize) -> String {
    let filled = if total == 0 {
        0
    } else {
        ((done.min(total) as u128 * width as u128) / total as u128) as usize
    };
    let mut bar = String::with_capacity(width + 2);
    bar.push('[');
    for i in 0..width {
        bar.push(match i.cmp(&filled) {
            std::cmp::Ordering::Less => '=',
            std::cmp::Ordering::Equal if filled < width => '>',
            _ => ' ',
        });
    }
    bar.push(']');
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_bars_fill_in_proportion() {
        assert_eq!(progress_bar(0, 100, 10), "[>         ]");
        assert_eq!(progress_bar(50, 100, 10), "[=====>    ]");
        assert_eq!(progress_bar(100, 100, 10), "[==========]");
        assert_eq!(progress_bar(5, 0, 4), "[>   ]");
    }

    #[test]
    fn login_servers_name_registries() {
        assert_eq!(registry_of(None), "docker.io");
        assert_eq!(
            registry_of(Some("https://index.docker.io/v1/")),
            "docker.io"
        );
        assert_eq!(registry_of(Some("localhost:5000")), "localhost:5000");
        assert_eq!(registry_of(Some("quay.io/ns/repo")), "quay.io");
    }
}
