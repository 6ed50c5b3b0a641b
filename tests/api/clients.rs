//! SPEC §9 with real third-party clients: the Node package in `tests/clients` (graphql-http's
//! audits, urql with its defaults, Apollo Client over GET and with APQ, the graphql-ws client)
//! against the followgraph binary as its own process, on SQLite without a cache and on
//! PostgreSQL with Redis. `.ci/run` installs the package (`npm ci`) and points `FOLLOWGRAPH_BIN`
//! at the release binary; without it the test binary's own build of it is used.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{free_port, Backend, TestApp, SECRET};

/// The service binary, as a process of its own.
struct Binary(Child);

impl Binary {
    async fn start(app: &TestApp, port: u16) -> Binary {
        let binary = std::env::var_os("FOLLOWGRAPH_BIN")
            .map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_followgraph")), PathBuf::from);
        let mut command = Command::new(binary);
        command
            .arg("serve")
            .env("DATABASE_URL", app.database.url())
            .env("JWT_SECRET", SECRET)
            .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .env_remove("REDIS_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(url) = &app.redis_url {
            command.env("REDIS_URL", url);
        }
        let binary = Binary(command.spawn().expect("the followgraph binary starts"));
        let health = format!("http://127.0.0.1:{port}/healthz");
        let deadline = Instant::now() + Duration::from_secs(20);
        while reqwest::get(&health).await.is_err() {
            assert!(Instant::now() < deadline, "the binary never answered /healthz");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        binary
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

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
    let port = free_port();
    let binary = Binary::start(&app, port).await;
    let mut node = Command::new("node");
    node.args(["--test", "--test-concurrency=1", "test/"])
        .current_dir(package())
        .env("FG_URL", format!("http://127.0.0.1:{port}"))
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
