//! `skiff network create|ls|inspect|rm|prune|exists|connect|disconnect|reload`.

use std::collections::BTreeMap;

use anyhow::bail;
use clap::{Args, Subcommand};
use skiff::engine::EngineError;
use skiff::engine::network_reload::reload_container;
use skiff::engine::networks::{
    NetworkCreate, NetworkFilter, connect_container, create_network, disconnect_container,
    list_networks, network_exists, network_json, prune_networks, remove_network,
};
use skiff::engine::selection::{AllScope, ContainerSelection};
use skiff::net::NetworkRequestEntry;
use skiff::state::{NetworkStore, StateError, StorageDirs};

use super::containers::{ENGINE_CODES, each};
use super::format::{ListFlags, Table, confirm};
use super::template::{OutputFormat, print_documents, render_rows};

#[derive(Subcommand)]
pub enum NetworkCommand {
    /// Create a bridge network
    Create(CreateArgs),
    /// List networks
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Show networks' details as JSON
    Inspect(InspectArgs),
    /// Remove networks
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Remove networks no container is on
    Prune(PruneArgs),
    /// Exit 0 if the network exists, 1 if not
    Exists(ExistsArgs),
    /// Put a container on a network (a running one at once, as root)
    Connect(ConnectArgs),
    /// Take a container off a network
    Disconnect(DisconnectArgs),
    /// Put back running containers' network rules (after a firewall reload)
    Reload(ReloadArgs),
}

#[derive(Args)]
pub struct ReloadArgs {
    /// Every running container
    #[arg(short, long)]
    all: bool,
    /// The most recently created container
    #[arg(short, long)]
    latest: bool,
    containers: Vec<String>,
}

#[derive(Args)]
pub struct CreateArgs {
    /// Driver (only bridge)
    #[arg(short, long)]
    driver: Option<String>,
    /// Subnet in CIDR form (default: the first free 10.89.N.0/24)
    #[arg(long)]
    subnet: Option<String>,
    /// Gateway address (default: the subnet's first)
    #[arg(long)]
    gateway: Option<String>,
    /// Hand out addresses from this part of the subnet only (CIDR)
    #[arg(long = "ip-range")]
    ip_range: Option<String>,
    /// No outside access: only peers on the network are reachable
    #[arg(long)]
    internal: bool,
    /// Set metadata (KEY=VALUE)
    #[arg(long = "label", allow_hyphen_values = true)]
    label: Vec<String>,
    /// Driver options KEY=VALUE: mtu=N, com.docker.network.driver.mtu=N, com.docker.network.bridge.name=NAME
    #[arg(short, long = "opt")]
    opt: Vec<String>,
    /// Name of the network's bridge interface (at most 15 characters)
    #[arg(long = "interface-name")]
    interface_name: Option<String>,
    /// Do not fail when the network exists
    #[arg(long)]
    ignore: bool,
    /// Members do not resolve each other's names
    #[arg(long = "disable-dns")]
    disable_dns: bool,
    /// Name servers for the members' /etc/resolv.conf (instead of the host's)
    #[arg(long = "dns", value_delimiter = ',')]
    dns: Vec<String>,
    /// A static route for the members: DESTINATION,GATEWAY[,METRIC]
    #[arg(long = "route")]
    route: Vec<String>,
    /// IPAM driver (only host-local)
    #[arg(long = "ipam-driver")]
    ipam_driver: Option<String>,
    name: Option<String>,
}

#[derive(Args)]
pub struct LsArgs {
    /// Filter: name=, id=, driver=, label=KEY[=VALUE]
    #[arg(short, long = "filter")]
    filter: Vec<String>,
    /// Show full network IDs
    #[arg(long = "no-trunc")]
    no_trunc: bool,
    #[command(flatten)]
    output: ListFlags,
}

#[derive(Args)]
pub struct InspectArgs {
    /// Go template or `json`
    #[arg(short, long, allow_hyphen_values = true)]
    format: Option<String>,
    #[arg(required = true)]
    networks: Vec<String>,
}

#[derive(Args)]
pub struct RmArgs {
    /// Remove the containers on the network first
    #[arg(short, long)]
    force: bool,
    #[arg(required = true)]
    networks: Vec<String>,
}

#[derive(Args)]
pub struct PruneArgs {
    /// Do not ask for confirmation
    #[arg(short, long)]
    force: bool,
    /// Filter: name=, id=, driver=, label=
    #[arg(long = "filter")]
    filter: Vec<String>,
}

#[derive(Args)]
pub struct ExistsArgs {
    network: String,
}

#[derive(Args)]
pub struct ConnectArgs {
    /// Another name peers resolve to the container
    #[arg(long = "alias")]
    alias: Vec<String>,
    /// Its IPv4 address on the network
    #[arg(long)]
    ip: Option<String>,
    /// Its MAC address on the network
    #[arg(long = "mac-address")]
    mac_address: Option<String>,
    network: String,
    container: String,
}

#[derive(Args)]
pub struct DisconnectArgs {
    /// Accepted for podman's compatibility (skiff always disconnects at once)
    #[arg(short, long)]
    force: bool,
    network: String,
    container: String,
}

pub fn dispatch(dirs: &StorageDirs, command: NetworkCommand) -> anyhow::Result<i32> {
    match command {
        NetworkCommand::Create(args) => create(dirs, args).map(|()| 0),
        NetworkCommand::Ls(args) => ls(dirs, args).map(|()| 0),
        NetworkCommand::Inspect(args) => inspect(dirs, args),
        NetworkCommand::Rm(args) => Ok(rm(dirs, args)),
        NetworkCommand::Prune(args) => prune(dirs, args).map(|()| 0),
        NetworkCommand::Exists(args) => Ok(if network_exists(dirs, &args.network) {
            0
        } else {
            1
        }),
        NetworkCommand::Connect(args) => connect(dirs, args).map(|()| 0),
        NetworkCommand::Disconnect(args) => {
            let _ = args.force;
            disconnect_container(dirs, &args.network, &args.container)?;
            Ok(0)
        }
        NetworkCommand::Reload(args) => reload(dirs, args),
    }
}

fn key_values(flag: &str, pairs: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    pairs
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            None if flag == "--label" && !pair.is_empty() => Ok((pair.clone(), String::new())),
            _ => bail!("invalid {flag} \"{pair}\": expected KEY=VALUE"),
        })
        .collect()
}

fn create(dirs: &StorageDirs, args: CreateArgs) -> anyhow::Result<()> {
    let request = NetworkCreate {
        name: args.name,
        driver: args.driver,
        subnet: args.subnet,
        gateway: args.gateway,
        ip_range: args.ip_range,
        internal: args.internal,
        labels: key_values("--label", &args.label)?,
        options: key_values("--opt", &args.opt)?,
        ignore: args.ignore,
        disable_dns: args.disable_dns,
        interface_name: args.interface_name,
        dns_servers: args.dns,
        routes: args.route,
        ipam_driver: args.ipam_driver,
    };
    println!("{}", create_network(dirs, &request)?.name);
    Ok(())
}

fn filters(texts: &[String]) -> anyhow::Result<Vec<NetworkFilter>> {
    Ok(texts.iter().map(|f| f.parse()).collect::<Result<_, _>>()?)
}

fn header(field: &str) -> Option<&'static str> {
    Some(match field {
        "Name" | "name" => "NAME",
        "ID" | "Id" | "id" => "NETWORK ID",
        "Driver" | "driver" => "DRIVER",
        _ => return None,
    })
}

fn ls(dirs: &StorageDirs, args: LsArgs) -> anyhow::Result<()> {
    let rows = list_networks(dirs, &filters(&args.filter)?);
    if args.output.quiet {
        rows.iter().for_each(|r| println!("{}", r.name));
        return Ok(());
    }
    if let Some(format) = args.output.format.as_deref().filter(|f| *f != "table") {
        // podman's templates see Go field names: Name, ID, Driver, …
        let docs: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                let mut doc = network_json(dirs, r)?;
                for (key, go) in [
                    ("name", "Name"),
                    ("id", "ID"),
                    ("driver", "Driver"),
                    ("internal", "Internal"),
                    ("labels", "Labels"),
                    ("network_interface", "NetworkInterface"),
                    ("subnets", "Subnets"),
                    ("created", "Created"),
                    ("dns_enabled", "DNSEnabled"),
                ] {
                    doc[go] = doc[key].clone();
                }
                Ok(doc)
            })
            .collect::<Result<_, EngineError>>()?;
        let format = OutputFormat::parse(format)?;
        if matches!(format, OutputFormat::Json) {
            print_documents(&docs, Some("json"))?;
        } else {
            print!("{}", render_rows(&format, &docs, &header)?);
        }
        return Ok(());
    }
    let mut table = Table::new(&["NETWORK ID", "NAME", "DRIVER"]);
    for row in &rows {
        let id = if args.no_trunc {
            row.id.clone()
        } else {
            row.id[..12].to_string()
        };
        table.row(vec![id, row.name.clone(), row.driver.clone()]);
    }
    table.print(args.output.noheading);
    Ok(())
}

fn inspect(dirs: &StorageDirs, args: InspectArgs) -> anyhow::Result<i32> {
    let store = NetworkStore::new(dirs);
    let mut docs = Vec::new();
    let mut code = 0;
    for name in &args.networks {
        match store
            .load(name)
            .map_err(EngineError::from)
            .and_then(|n| network_json(dirs, &n))
        {
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

fn rm(dirs: &StorageDirs, args: RmArgs) -> i32 {
    let mut code = 0;
    for name in &args.networks {
        match remove_network(dirs, name, args.force) {
            Ok(name) => println!("{name}"),
            Err(e) => {
                eprintln!("Error: {e}");
                code = match e {
                    EngineError::State(StateError::NoSuchNetwork { .. }) => 1,
                    other => other.exit_code(),
                };
            }
        }
    }
    code
}

fn prune(dirs: &StorageDirs, args: PruneArgs) -> anyhow::Result<()> {
    let filters = filters(&args.filter)?;
    if !args.force && !confirm("This will remove all networks not used by at least one container.")?
    {
        return Ok(());
    }
    for name in prune_networks(dirs, &filters)? {
        println!("{name}");
    }
    Ok(())
}

fn connect(dirs: &StorageDirs, args: ConnectArgs) -> anyhow::Result<()> {
    let entry = NetworkRequestEntry {
        name: String::new(),
        aliases: args.alias,
        ip: args
            .ip
            .map(|t| {
                t.parse()
                    .map_err(|_| anyhow::anyhow!("invalid --ip \"{t}\": not an IPv4 address"))
            })
            .transpose()?,
        mac: args.mac_address,
    };
    connect_container(dirs, &args.network, &args.container, entry)?;
    Ok(())
}

/// `network reload`: prints the ID of each container reloaded.
fn reload(dirs: &StorageDirs, args: ReloadArgs) -> anyhow::Result<i32> {
    let selection = ContainerSelection {
        names: args.containers,
        all: args.all,
        latest: args.latest,
        ..ContainerSelection::default()
    };
    let targets = selection.resolve(dirs, AllScope::Running)?;
    Ok(each(&targets, ENGINE_CODES, |target| {
        reload_container(dirs, &target.name).map(Some)
    }))
}
