use clap::Parser;
use mimalloc::MiMalloc;

use followgraph::cli::{Cli, Command};
use followgraph::config::Config;
use followgraph::{commands, telemetry};

/// GraphQL execution allocates many small, short-lived objects across threads; mimalloc serves
/// that pattern markedly better than the system allocator (measured on the 50-user fan-out).
#[global_allocator]
static ALLOCATOR: MiMalloc = MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init(cli.settings.log_format);
    let config = Config::from_settings(&cli.settings)?;
    commands::run(cli.command.unwrap_or(Command::Serve), config).await
}
