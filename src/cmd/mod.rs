//! One file per command group: parse flags, call one engine function,
//! print. Output formatting lives in `format`.

mod argv;
mod build;
mod builder;
mod containers;
mod examples;
mod exec;
mod format;
#[cfg(test)]
mod hyphen_values_tests;
mod image_ops;
mod images;
mod info;
mod logs;
mod monitor;
mod net_flags;
mod network;
mod process_flags;
mod processes;
mod registry;
mod report;
mod resources;
mod run;
mod secrets;
mod system;
mod template;
mod volumes;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use skiff::state::StorageDirs;

#[derive(Parser)]
#[command(
    name = "skiff",
    version,
    about = "A daemonless, rootless container engine",
    propagate_version = true
)]
pub struct Cli {
    /// Storage root for images and containers [env: SKIFF_ROOT]
    #[arg(long, global = true, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Directory for runtime state [env: SKIFF_RUNROOT]
    #[arg(long, global = true, value_name = "DIR")]
    runroot: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// `skiff run` is the hot path. A parser that knows only `run` spares it
/// building the definitions of every other command (about 1 ms).
#[derive(Parser)]
#[command(
    name = "skiff",
    version,
    about = "A daemonless, rootless container engine",
    propagate_version = true
)]
struct RunCli {
    /// Storage root for images and containers [env: SKIFF_ROOT]
    #[arg(long, global = true, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Directory for runtime state [env: SKIFF_RUNROOT]
    #[arg(long, global = true, value_name = "DIR")]
    runroot: Option<PathBuf>,
    #[command(subcommand)]
    command: RunOnly,
}

#[derive(Subcommand)]
enum RunOnly {
    /// Run a command in a new container
    #[command(after_help = examples::RUN)]
    Run(Box<run::RunArgs>),
}

/// The subcommand's name, if it comes after nothing but `--root`/`--runroot`.
fn first_subcommand(args: &[std::ffi::OsString]) -> Option<&str> {
    let mut rest = args.iter().skip(1);
    while let Some(arg) = rest.next() {
        let arg = arg.to_str()?;
        match arg {
            "--root" | "--runroot" => {
                rest.next();
            }
            a if a.starts_with("--root=") || a.starts_with("--runroot=") => {}
            a if a.starts_with('-') => return None,
            a => return Some(a),
        }
    }
    None
}

/// Parses the command line (see `RunCli` for the fast path).
pub fn parse() -> Result<Cli, clap::Error> {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if first_subcommand(&args) == Some("run") {
        let mut command = RunCli::command();
        let args = argv::end_flags_at_first_positional(&command, args);
        let matches = command.try_get_matches_from_mut(args)?;
        let fast = RunCli::from_arg_matches(&matches)?;
        let RunOnly::Run(run) = fast.command;
        return Ok(Cli {
            root: fast.root,
            runroot: fast.runroot,
            command: Command::Containers(ContainerCommand::Run(run)),
        });
    }
    let mut command = Cli::command();
    let args = argv::end_flags_at_first_positional(&command, args);
    let matches = command.try_get_matches_from_mut(args)?;
    Cli::from_arg_matches(&matches)
}

#[derive(Subcommand)]
enum Command {
    /// Build an image from a Dockerfile or Containerfile
    #[command(after_help = examples::BUILD)]
    Build(Box<build::BuildArgs>),
    /// Load images from a docker-archive or oci-archive
    Load(images::LoadArgs),
    /// Save images to a docker-archive, oci-archive or oci-dir
    Save(images::SaveArgs),
    /// Create an image from a tarball of a root filesystem
    Import(images::ImportArgs),
    /// List images in local storage
    Images(images::ImagesArgs),
    /// Pull an image from a registry
    #[command(after_help = examples::PULL)]
    Pull(registry::PullArgs),
    /// Push an image to a registry
    Push(registry::PushArgs),
    /// Log in to a registry
    Login(registry::LoginArgs),
    /// Log out of a registry
    Logout(registry::LogoutArgs),
    /// Add names to an image
    Tag(image_ops::TagArgs),
    /// Remove names from an image
    Untag(image_ops::UntagArgs),
    /// Remove images
    Rmi(image_ops::RmiArgs),
    /// Show the history of an image
    History(image_ops::HistoryArgs),
    /// Manage the build cache (docker's `builder`)
    Builder {
        #[command(subcommand)]
        command: builder::BuilderCommand,
    },
    /// Manage skiff itself
    System {
        #[command(subcommand)]
        command: system::SystemCommand,
    },
    /// Manage images
    Image {
        #[command(subcommand)]
        command: ImageCommand,
    },
    /// Manage containers
    Container {
        #[command(subcommand)]
        command: ContainerCommand,
    },
    #[command(flatten)]
    Containers(ContainerCommand),
    /// Manage volumes
    #[command(after_help = examples::VOLUME)]
    Volume {
        #[command(subcommand)]
        command: volumes::VolumeCommand,
    },
    /// Manage networks
    Network {
        #[command(subcommand)]
        command: network::NetworkCommand,
    },
    /// Manage secrets
    #[command(after_help = examples::SECRET)]
    Secret {
        #[command(subcommand)]
        command: secrets::SecretCommand,
    },
    /// Run container healthchecks
    Healthcheck {
        #[command(subcommand)]
        command: monitor::HealthcheckCommand,
    },
    /// Show skiff's version and build
    Version(info::VersionArgs),
    /// Show the host, store and registries skiff works with
    Info(info::InfoArgs),
    /// Print a shell completion script (bash, zsh or fish)
    Completion(info::CompletionArgs),
    /// Write man pages for every command into a directory
    #[command(name = "generate-man", hide = true)]
    GenerateMan(info::GenerateManArgs),
    /// The monitor of a detached container (started by skiff itself)
    #[command(name = "container-monitor", hide = true)]
    ContainerMonitor(monitor::MonitorArgs),
    /// Ends an unused rootless network namespace (started by skiff itself)
    #[command(name = "netns-reaper", hide = true)]
    NetnsReaper { shared: String },
}

/// Image verbs under `skiff image`.
#[derive(Subcommand)]
enum ImageCommand {
    /// List images in local storage
    #[command(name = "ls", visible_alias = "list")]
    Images(images::ImagesArgs),
    /// Pull an image from a registry
    #[command(after_help = examples::PULL)]
    Pull(registry::PullArgs),
    /// Push an image to a registry
    Push(registry::PushArgs),
    /// Remove images
    #[command(alias = "rmi")]
    Rm(image_ops::RmiArgs),
    /// Remove unused images
    Prune(image_ops::ImagePruneArgs),
    /// Add names to an image
    Tag(image_ops::TagArgs),
    /// Remove names from an image
    Untag(image_ops::UntagArgs),
    /// Show images' configuration as JSON
    Inspect(image_ops::ImageInspectArgs),
    /// Show the history of an image
    History(image_ops::HistoryArgs),
    /// Build an image from a Dockerfile or Containerfile
    #[command(after_help = examples::BUILD)]
    Build(Box<build::BuildArgs>),
    /// Exit 0 when an image is in local storage, 1 when not
    Exists(image_ops::ExistsArgs),
    /// Load images from a docker-archive or oci-archive
    Load(images::LoadArgs),
    /// Save images to a docker-archive, oci-archive or oci-dir
    Save(images::SaveArgs),
    /// Create an image from a tarball of a root filesystem
    Import(images::ImportArgs),
}

/// Container verbs, reachable as `skiff VERB` and `skiff container VERB`.
#[derive(Subcommand)]
enum ContainerCommand {
    /// Run a command in a new container
    #[command(after_help = examples::RUN)]
    Run(Box<run::RunArgs>),
    /// Create a container without starting it
    Create(Box<run::CreateArgs>),
    /// Start one or more containers
    Start(run::StartArgs),
    /// Attach to a running container's input and output
    Attach(run::AttachArgs),
    /// Run a process in a running container
    #[command(after_help = examples::EXEC)]
    Exec(exec::ExecArgs),
    /// List containers
    #[command(visible_alias = "ls", alias = "list", after_help = examples::PS)]
    Ps(containers::PsArgs),
    /// Show a container's output
    #[command(after_help = examples::LOGS)]
    Logs(logs::LogsArgs),
    /// Stop running containers (stop signal, then SIGKILL)
    Stop(containers::StopArgs),
    /// Send a signal to running containers
    Kill(containers::KillArgs),
    /// Restart containers
    Restart(containers::RestartArgs),
    /// Remove containers
    Rm(containers::RmArgs),
    /// Wait for containers to stop and print their exit codes
    Wait(containers::WaitArgs),
    /// Rename a container
    Rename(containers::RenameArgs),
    /// Copy files between a container and the host
    Cp(processes::CpArgs),
    /// Create a new image from a container's changes
    Commit(processes::CommitArgs),
    /// Show what a container changed in its filesystem
    Diff(processes::DiffArgs),
    /// Write a container's filesystem as a tar archive
    Export(processes::ExportArgs),
    /// Show a container's processes
    Top(processes::TopArgs),
    /// Show CPU, memory and process counts of running containers
    Stats(processes::StatsArgs),
    /// Pause all processes in containers
    Pause(processes::PauseArgs),
    /// Unpause paused containers
    Unpause(processes::PauseArgs),
    /// List a container's published ports
    Port(processes::PortArgs),
    /// Show containers' (or images') configuration and state as JSON
    Inspect(containers::InspectArgs),
    /// Remove all stopped containers
    #[command(hide = true)]
    Prune(containers::PruneArgs),
}

pub fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    let dirs = StorageDirs::resolve(cli.root, cli.runroot);
    match cli.command {
        Command::Build(args) => build::build(&dirs, *args),
        Command::Load(args) => images::load(&dirs, args).map(|()| 0),
        Command::Import(args) => images::import(&dirs, args).map(|()| 0),
        Command::Save(args) => images::save(&dirs, args).map(|()| 0),
        Command::Images(args) => images::images(&dirs, args).map(|()| 0),
        Command::Pull(args) => registry::pull(&dirs, args).map(|()| 0),
        Command::Push(args) => registry::push(&dirs, args).map(|()| 0),
        Command::Login(args) => registry::login(args).map(|()| 0),
        Command::Logout(args) => registry::logout(args).map(|()| 0),
        Command::Tag(args) => image_ops::tag(&dirs, args).map(|()| 0),
        Command::Untag(args) => image_ops::untag(&dirs, args).map(|()| 0),
        Command::Rmi(args) => image_ops::rmi(&dirs, args),
        Command::History(args) => image_ops::history(&dirs, args).map(|()| 0),
        Command::Image { command } => dispatch_image(&dirs, command),
        Command::System { command } => system::dispatch(&dirs, command),
        Command::Builder { command } => builder::dispatch(&dirs, command),
        Command::Container { command } | Command::Containers(command) => {
            dispatch_container(&dirs, command)
        }
        Command::Volume { command } => volumes::dispatch(&dirs, command),
        Command::Network { command } => network::dispatch(&dirs, command),
        Command::Secret { command } => secrets::dispatch(&dirs, command),
        Command::ContainerMonitor(args) => Ok(monitor::monitor(&dirs, args)),
        Command::NetnsReaper { shared } => Ok(skiff::engine::netns_reaper::reap(&dirs, &shared)),
        Command::Healthcheck { command } => monitor::healthcheck(&dirs, command),
        Command::Version(args) => info::version(args).map(|()| 0),
        Command::Info(args) => info::info(&dirs, args).map(|()| 0),
        Command::Completion(args) => info::completion(args, Cli::command()).map(|()| 0),
        Command::GenerateMan(args) => info::generate_man(args, Cli::command()).map(|()| 0),
    }
}

fn dispatch_image(dirs: &StorageDirs, command: ImageCommand) -> anyhow::Result<i32> {
    match command {
        ImageCommand::Images(args) => images::images(dirs, args).map(|()| 0),
        ImageCommand::Pull(args) => registry::pull(dirs, args).map(|()| 0),
        ImageCommand::Push(args) => registry::push(dirs, args).map(|()| 0),
        ImageCommand::Rm(args) => image_ops::rmi(dirs, args),
        ImageCommand::Prune(args) => image_ops::prune(dirs, args).map(|()| 0),
        ImageCommand::Tag(args) => image_ops::tag(dirs, args).map(|()| 0),
        ImageCommand::Untag(args) => image_ops::untag(dirs, args).map(|()| 0),
        ImageCommand::Inspect(args) => image_ops::inspect(dirs, args),
        ImageCommand::History(args) => image_ops::history(dirs, args).map(|()| 0),
        ImageCommand::Build(args) => build::build(dirs, *args),
        ImageCommand::Exists(args) => image_ops::exists(dirs, args),
        ImageCommand::Load(args) => images::load(dirs, args).map(|()| 0),
        ImageCommand::Import(args) => images::import(dirs, args).map(|()| 0),
        ImageCommand::Save(args) => images::save(dirs, args).map(|()| 0),
    }
}

fn dispatch_container(dirs: &StorageDirs, command: ContainerCommand) -> anyhow::Result<i32> {
    match command {
        ContainerCommand::Run(args) => run::run(dirs, *args),
        ContainerCommand::Create(args) => run::create(dirs, *args),
        ContainerCommand::Start(args) => run::start(dirs, args),
        ContainerCommand::Attach(args) => run::attach(dirs, args),
        ContainerCommand::Exec(args) => exec::exec(dirs, args),
        ContainerCommand::Ps(args) => containers::ps(dirs, args),
        ContainerCommand::Logs(args) => logs::logs(dirs, args),
        ContainerCommand::Stop(args) => containers::stop(dirs, args),
        ContainerCommand::Kill(args) => containers::kill(dirs, args),
        ContainerCommand::Restart(args) => containers::restart(dirs, args),
        ContainerCommand::Rm(args) => containers::rm(dirs, args),
        ContainerCommand::Wait(args) => containers::wait(dirs, args),
        ContainerCommand::Rename(args) => containers::rename(dirs, args),
        ContainerCommand::Cp(args) => processes::cp(dirs, args),
        ContainerCommand::Commit(args) => processes::commit(dirs, args),
        ContainerCommand::Diff(args) => processes::diff(dirs, args),
        ContainerCommand::Export(args) => processes::export(dirs, args),
        ContainerCommand::Top(args) => processes::top(dirs, args),
        ContainerCommand::Stats(args) => processes::stats(dirs, args),
        ContainerCommand::Pause(args) => processes::pause(dirs, args, true),
        ContainerCommand::Unpause(args) => processes::pause(dirs, args, false),
        ContainerCommand::Port(args) => processes::port(dirs, args),
        ContainerCommand::Inspect(args) => containers::inspect(dirs, args),
        ContainerCommand::Prune(args) => containers::prune(dirs, args),
    }
}

/// Help and version go to stdout with 0; a usage error is one `Error:`
/// line and 125, like docker.
pub fn report_usage_error(err: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match err.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = err.print();
            ExitCode::SUCCESS
        }
        _ => {
            // clap's message runs until the first blank line (then usage
            // and tips); some messages continue on indented lines.
            let rendered = err.render().to_string();
            let message: Vec<&str> = rendered
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .map(str::trim)
                .collect();
            let message = message.join(" ");
            let message = message.strip_prefix("error: ").unwrap_or(&message);
            eprintln!("Error: {message} (see 'skiff --help')");
            ExitCode::from(125)
        }
    }
}
