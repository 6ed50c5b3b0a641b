use clap::Parser;

use followgraph::cli::{Cli, Command};
use followgraph::config::Config;
use followgraph::{commands, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init(cli.settings.log_format);
    let config = Config::from_settings(&cli.settings)?;
    commands::run(cli.command.unwrap_or(Command::Serve), config).await
}
