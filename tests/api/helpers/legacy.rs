//! The legacy Flask follow views (`bench/legacy/app.py`) under gunicorn, over a test app's
//! database and Redis: the legacy app beside the service, as SPEC §11 has them side by side.
//! `.ci/run` installs its packages (`bench/legacy/install`) into `target/bench/venv`.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use tempfile::TempDir;

use super::{free_port, read, Actor, TestApp, SECRET};

/// The legacy app's path for follows and for the caller's followings.
const FOLLOWINGS: &str = "/app/v1_0/user/followings";

/// A running legacy app in a process group of its own; the group is stopped when dropped.
pub struct LegacyApp {
    child: Child,
    url: String,
    client: reqwest::Client,
    log: PathBuf,
    _dir: TempDir,
}

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

impl LegacyApp {
    /// Starts the legacy app on `app`'s database and Redis and waits until it answers; `None`
    /// outside CI when its virtualenv is not installed.
    pub async fn start(app: &TestApp) -> Option<LegacyApp> {
        let gunicorn = repository().join("target/bench/venv/bin/gunicorn");
        if !gunicorn.exists() {
            assert!(std::env::var_os("CI").is_none(), "CI installs it: bench/legacy/install");
            eprintln!("skipping a side-by-side test: run bench/legacy/install");
            return None;
        }
        let legacy = repository().join("bench/legacy");
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("gunicorn.log");
        let port = free_port();
        let child = Command::new(gunicorn)
            .arg("-c")
            .arg(legacy.join("gunicorn.conf.py"))
            .arg("--chdir")
            .arg(&legacy)
            .arg("app:app")
            .env("DATABASE_URL", app.database.url())
            .env("REDIS_URL", app.redis_url.as_deref().expect("the legacy app needs Redis"))
            .env("JWT_SECRET", SECRET)
            .env("LEGACY_BIND", format!("127.0.0.1:{port}"))
            .env("LEGACY_WORKERS", "2")
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("gunicorn starts");
        let url = format!("http://127.0.0.1:{port}");
        let legacy = LegacyApp { child, url, client: reqwest::Client::new(), log, _dir: dir };
        legacy.wait_ready().await;
        Some(legacy)
    }

    /// Ready once the whole Flask stack answers: a follow without a token is refused with 401.
    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let answer = self.client.post(self.url(FOLLOWINGS)).send().await;
            if answer.is_ok_and(|r| r.status() == StatusCode::UNAUTHORIZED) {
                return;
            }
            assert!(Instant::now() < deadline, "the legacy app never answered:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `POST /app/v1_0/user/followings` as `actor`.
    pub async fn follow(&self, actor: &Actor, target: i64) -> (StatusCode, Value) {
        let request = self.client.post(self.url(FOLLOWINGS)).bearer_auth(&actor.token);
        read(request.json(&json!({ "target": target })).send().await.expect("legacy request")).await
    }

    /// `DELETE /app/v1_0/user/followings/{target}` as `actor`.
    pub async fn unfollow(&self, actor: &Actor, target: i64) -> StatusCode {
        let url = self.url(&format!("{FOLLOWINGS}/{target}"));
        let request = self.client.delete(url).bearer_auth(&actor.token);
        request.send().await.expect("legacy request").status()
    }

    /// `GET /app/v1_0/user/followings` as `actor`, first page of 50: its `data`.
    pub async fn followings(&self, actor: &Actor) -> Value {
        let request = self.client.get(self.url(FOLLOWINGS)).bearer_auth(&actor.token);
        let (status, body) =
            read(request.query(&[("per_page", "50")]).send().await.expect("legacy request")).await;
        assert_eq!(status, StatusCode::OK, "{body}\n{}", self.log());
        body["data"].clone()
    }
}

impl Drop for LegacyApp {
    /// SIGTERM to the group (gunicorn stops its workers), then SIGKILL to whatever is left.
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let signal = |name: &str| {
            let _ = Command::new("kill").args([name, "--", &group]).stderr(Stdio::null()).status();
        };
        signal("-TERM");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(50));
        }
        signal("-KILL");
        let _ = self.child.wait();
    }
}
