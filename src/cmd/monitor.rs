//! The hidden `container-monitor` command (see `engine::monitor`) and
//! `healthcheck run`, which the monitor runs on the healthcheck interval.

use clap::Args;
use skiff::engine::monitor::monitor_main;
use skiff::state::StorageDirs;

#[derive(Args)]
pub struct MonitorArgs {
    /// The pipe to report the start on
    #[arg(long = "report-fd")]
    report_fd: i32,
    /// Wait for one attach client before starting
    #[arg(long)]
    attach: bool,
    id: String,
}

pub fn monitor(dirs: &StorageDirs, args: MonitorArgs) -> i32 {
    monitor_main(dirs, &args.id, args.report_fd, args.attach)
}

#[derive(clap::Subcommand)]
pub enum HealthcheckCommand {
    /// Run a container's healthcheck once; prints the resulting health
    Run { container: String },
}

pub fn healthcheck(dirs: &StorageDirs, command: HealthcheckCommand) -> anyhow::Result<i32> {
    let HealthcheckCommand::Run { container } = command;
    let status = skiff::engine::health::run_healthcheck(dirs, &container)?;
    let text = serde_json::to_value(status)?;
    println!("{}", text.as_str().unwrap_or_default());
    Ok(if status == skiff::state::HealthStatus::Healthy {
        0
    } else {
        1
    })
}
