//! SPEC §9 with real third-party clients: the Node package in `tests/clients` (graphql-http's
//! audits, urql with its defaults, Apollo Client over GET and with APQ, the graphql-ws client,
//! GraphiQL itself in headless Chromium through puppeteer-core) against the followgraph binary
//! as its own process, on SQLite without a cache and on PostgreSQL with Redis. `.ci/run` installs the package (`npm ci`) and points `FOLLOWGRAPH_BIN`
//! at the release binary (see `helpers/binary.rs`).

use std::path::Path;
use std::process::Command;

use crate::helpers::{Backend, Binary, TestApp};

fn package() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients"))
}

/// Runs the client tests against a binary over `app`'s database and cache.
async fn clients(app: TestApp) {
    if !package().join("node_modules").is_dir() {
        assert!(std::env::var_os("CI").is_none(), "CI installs tests/clients (npm ci)");
        eprintln!("skipping the client tests: run `npm ci` in tests/clients");
        return app.teardown().await;
    }
    let actors = app.actors(3).await;
    let binary = Binary::start(&app).await;
    let mut node = Command::new("node");
    node.args(["--test", "--test-concurrency=1", "test/"])
        .current_dir(package())
        .env("FG_URL", &binary.url)
        .env("FG_REDIS", if app.redis_url.is_some() { "1" } else { "0" });
    for (name, actor) in ["A", "B", "C"].iter().zip(&actors) {
        node.env(format!("FG_USER_{name}"), actor.id.to_string());
        node.env(format!("FG_TOKEN_{name}"), &actor.token);
    }
    let output =
        tokio::task::spawn_blocking(move || node.output()).await.unwrap().expect("node runs");
    drop(binary);
    assert!(
        output.status.success(),
        "client tests failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_clients_work_unconfigured_on_sqlite() {
    clients(TestApp::on(Backend::Sqlite).spawn().await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_clients_work_unconfigured_on_postgres_with_redis() {
    let Some(app) = TestApp::on(Backend::Postgres).cached().spawn().await else { return };
    clients(app).await;
}
