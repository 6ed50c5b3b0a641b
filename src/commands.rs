//! What each subcommand does.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::net::TcpListener;

use crate::auth::token::TokenKeys;
use crate::cli::Command;
use crate::config::Config;
use crate::db::demo::FIRST_DEMO_USER;
use crate::db::Store;
use crate::domain::ids::UserId;
use crate::{app, graphql, server};

/// Runs one subcommand to completion.
pub async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => serve(config).await,
        Command::Migrate => migrate(config).await,
        Command::Recount => recount(config).await,
        Command::Token { user, ttl } => token(config, user, ttl),
        Command::Schema => print(&graphql::sdl()),
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let app = app::build(&config).await.context("cannot start")?;
    let listener = TcpListener::bind(config.listen_addr)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen_addr))?;
    announce(&config, listener.local_addr()?, app.dev_token.as_deref());
    let (draining, drain) = (app.draining.clone(), config.shutdown_drain);
    let shutdown = async move {
        server::shutdown_signal().await;
        draining.start();
        tracing::info!(?drain, "unready; serving until the load balancer has seen it");
        tokio::time::sleep(drain).await;
    };
    server::serve(listener, app.router, shutdown, config.header_read_timeout).await?;
    app.store.close().await;
    tracing::info!("stopped");
    Ok(())
}

fn announce(config: &Config, addr: SocketAddr, dev_token: Option<&str>) {
    tracing::info!(%addr, database = %redacted_url(&config.database_url), "followgraph listening");
    tracing::info!("GraphiQL: http://{addr}/graphql");
    if let Some(token) = dev_token {
        tracing::warn!("development mode: JWT_SECRET is unset, so a random secret signs tokens");
        tracing::info!("token for demo user {FIRST_DEMO_USER} (already in GraphiQL's headers):");
        tracing::info!("{{\"Authorization\": \"Bearer {token}\"}}");
    }
}

async fn migrate(config: Config) -> anyhow::Result<()> {
    let store = Store::connect(&config.database_url, &config.store)?;
    store.migrate().await.context("migration failed")?;
    store.close().await;
    tracing::info!(database = %redacted_url(&config.database_url), "migrations applied");
    Ok(())
}

async fn recount(config: Config) -> anyhow::Result<()> {
    let store = Store::connect(&config.database_url, &config.store)?;
    store.migrate().await.context("migration failed")?;
    let found = store.recount().await.context("recount failed")?;
    store.close().await;
    print(&format!("recounted {} users: {} differences repaired\n", found.users, found.repaired))
}

fn token(config: Config, user: i64, ttl: u64) -> anyhow::Result<()> {
    if config.dev_mode {
        bail!("set JWT_SECRET: a token signed with a throw-away secret would be accepted nowhere");
    }
    let user = UserId::new(user).context("--user must be a positive integer")?;
    let token = TokenKeys::new(&config.jwt_secret).mint(user, Duration::from_secs(ttl))?;
    print(&format!("{token}\n"))
}

fn print(text: &str) -> anyhow::Result<()> {
    std::io::stdout().write_all(text.as_bytes())?;
    Ok(())
}

/// The URL without its password, for logs.
fn redacted_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://…@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}
