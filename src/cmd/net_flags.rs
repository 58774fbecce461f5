//! `run`/`create` network flags: `--network`, `-p`, `-P`, `--expose`,
//! `--network-alias`, `--ip`, `--mac-address`, `--add-host`, `--dns*`.

use clap::Args;
use skiff::engine::net_options::NetRequest;

#[derive(Args)]
pub struct NetFlags {
    /// Network: bridge (the default network), NETWORK, pasta, none, host or container:NAME
    #[arg(long, visible_alias = "net")]
    network: Vec<String>,
    /// Publish a port: [[IP:][HOST_PORT]:]CONTAINER_PORT[/tcp|udp], ranges as N-M
    #[arg(short, long, value_name = "SPEC")]
    publish: Vec<String>,
    /// Publish every exposed port (the image's EXPOSE and --expose) on a free host port
    #[arg(short = 'P', long = "publish-all")]
    publish_all: bool,
    /// Expose a port or range: PORT[-PORT][/tcp|udp]
    #[arg(long)]
    expose: Vec<String>,
    /// Another name peers on the network resolve to this container
    #[arg(long = "network-alias", value_name = "ALIAS")]
    network_alias: Vec<String>,
    /// The container's IPv4 address on its (first) network
    #[arg(long)]
    ip: Option<String>,
    /// The container's MAC address on its (first) network
    #[arg(long = "mac-address", value_name = "MAC")]
    mac_address: Option<String>,
    /// Add a line to /etc/hosts: HOST:IP
    #[arg(long = "add-host", value_name = "HOST:IP")]
    add_host: Vec<String>,
    /// DNS server for /etc/resolv.conf
    #[arg(long)]
    dns: Vec<String>,
    /// DNS search domain for /etc/resolv.conf
    #[arg(long = "dns-search", value_name = "DOMAIN")]
    dns_search: Vec<String>,
    /// DNS option for /etc/resolv.conf
    #[arg(long = "dns-option", value_name = "OPTION")]
    dns_option: Vec<String>,
}

impl NetFlags {
    pub fn request(self) -> NetRequest {
        NetRequest {
            networks: self.network,
            publish: self.publish,
            publish_all: self.publish_all,
            expose: self.expose,
            aliases: self.network_alias,
            ip: self.ip,
            mac: self.mac_address,
            add_hosts: self.add_host,
            dns: self.dns,
            dns_search: self.dns_search,
            dns_options: self.dns_option,
        }
    }
}
