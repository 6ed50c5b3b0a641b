use clap::Parser;
use mimalloc::MiMalloc;

use followgraph::cli::{Cli, Command};
use followgraph::config::Config;
use followgraph::{commands, telemetry};

/// GraphQL execution allocates many small, short-lived objects across threads; mimalloc serves
/// that pattern markedly better than the system allocator (measured on the 50-user fan-out).
/// It is built without transparent huge pages (`no_thp`): with them, the fan-out at 32 clients
/// peaked at 115 MiB against 75 MiB without, and ran 20% slower (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: MiMalloc = MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init(cli.settings.log_format);
    let config = Config::from_settings(&cli.settings)?;
    commands::run(cli.command.unwrap_or(Command::Serve), config).await
}
