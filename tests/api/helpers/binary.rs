//! The followgraph binary as a process of its own, over a test app's database and cache: for
//! what only a real process shows (its logs, real clients in another runtime).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::{free_port, TestApp, REPLICA_WAIT_MS, SECRET};

/// A running binary; killed when dropped. [`binary_path`] names the build to run.
pub struct Binary {
    /// `None` once waited for.
    child: Option<Child>,
    pub url: String,
    log: PathBuf,
    _dir: TempDir,
}

impl Binary {
    /// Starts the binary on `app`'s database and cache and waits until it answers.
    pub async fn start(app: &TestApp) -> Binary {
        Self::start_with(app, &[]).await
    }

    /// [`Binary::start`] with more environment variables.
    pub async fn start_with(app: &TestApp, env: &[(&str, &str)]) -> Binary {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("stderr.log");
        let port = free_port();
        let mut command = Command::new(binary_path());
        command
            .arg("serve")
            .env("DATABASE_URL", app.database.url())
            .env("JWT_SECRET", SECRET)
            .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "info")
            .env("REDIS_WAIT_TIMEOUT_MS", REPLICA_WAIT_MS.to_string())
            .env_remove("REDIS_URL")
            .env_remove("REDIS_CLUSTER_NODES")
            .env_remove("REDIS_COUNTS_URL")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"));
        command.envs(app.cache_at.env());
        command.envs(env.iter().copied());
        let child = command.spawn().expect("the followgraph binary starts");
        let url = format!("http://127.0.0.1:{port}");
        let binary = Binary { child: Some(child), url, log, _dir: dir };
        let health = format!("{}/healthz", binary.url);
        let deadline = Instant::now() + Duration::from_secs(20);
        while reqwest::get(&health).await.is_err() {
            assert!(Instant::now() < deadline, "the binary never answered /healthz");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        binary
    }

    /// Sends SIGTERM, as an orchestrator stopping the instance would.
    pub fn terminate(&self) {
        let pid = self.child.as_ref().expect("running").id().to_string();
        let killed = std::process::Command::new("kill").args(["-TERM", &pid]).status();
        assert!(killed.expect("kill runs").success());
    }

    /// Waits for the process to exit; whether it exited cleanly.
    pub async fn exited_cleanly(mut self) -> bool {
        let mut child = self.child.take().expect("running");
        let status = tokio::task::spawn_blocking(move || child.wait()).await.unwrap();
        status.expect("wait").success()
    }

    /// What the process has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Runs a subcommand of the binary (`recount`, `migrate` …) on `app`'s database to its end and
/// returns what it printed; panics with its log when it fails.
pub async fn run_command(app: &TestApp, args: &[&str]) -> String {
    let mut command = Command::new(binary_path());
    command.args(args).env("DATABASE_URL", app.database.url()).env("RUST_LOG", "info");
    command.env_remove("REDIS_URL").env_remove("JWT_SECRET");
    let output = tokio::task::spawn_blocking(move || command.output()).await.unwrap();
    let output = output.expect("the followgraph binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "followgraph {args:?} failed:\n{stderr}");
    String::from_utf8(output.stdout).expect("utf-8 output")
}

/// `FOLLOWGRAPH_BIN` (CI points it at the release build), or the test build's own binary.
fn binary_path() -> PathBuf {
    std::env::var_os("FOLLOWGRAPH_BIN")
        .map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_followgraph")), PathBuf::from)
}

impl Drop for Binary {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
