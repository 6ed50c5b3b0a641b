//! A MariaDB server of the test's own, on a spare loopback port with its data in a temporary
//! directory: a test may stop and start it without disturbing the tests on the shared server.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::{Connection, MySqlConnection};
use tempfile::TempDir;

use super::free_port;

/// Server options for a small, quick, throw-away server. Grant tables are skipped: the server
/// listens on loopback only and lives for one test.
const OPTIONS: [&str; 5] = [
    "--no-defaults",
    "--innodb-log-file-size=8M",
    "--innodb-buffer-pool-size=32M",
    "--skip-log-bin",
    "--user=root",
];

pub struct PrivateMariadb {
    pub port: u16,
    dir: TempDir,
    child: Option<Child>,
}

impl PrivateMariadb {
    /// A new data directory (`mariadb-install-db`) and the server on it.
    pub async fn start() -> PrivateMariadb {
        let dir = tempfile::tempdir().expect("temp dir");
        let installed = Command::new("mariadb-install-db")
            .args(OPTIONS)
            .arg(format!("--datadir={}", data(dir.path()).display()))
            .args(["--skip-test-db", "--auth-root-authentication-method=normal"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("mariadb-install-db is installed");
        assert!(installed.success(), "mariadb-install-db failed");
        let mut server = PrivateMariadb { port: free_port(), dir, child: None };
        server.restart().await;
        server
    }

    /// A URL of a database on this server (the tests' admin URL: they create their own).
    pub fn url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}/mysql", self.port)
    }

    /// Starts the server on its data directory and waits until it answers.
    pub async fn restart(&mut self) {
        let root = self.dir.path();
        let child = Command::new("mariadbd")
            .args(OPTIONS)
            .arg(format!("--datadir={}", data(root).display()))
            .arg(format!("--port={}", self.port))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--socket={}", root.join("mariadb.sock").display()))
            .arg(format!("--pid-file={}", root.join("mariadb.pid").display()))
            .arg("--skip-grant-tables")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(root.join("error.log")).expect("log file"))
            .spawn()
            .expect("mariadbd is installed");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while MySqlConnection::connect(&self.url()).await.is_err() {
            assert!(Instant::now() < deadline, "private mariadbd did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Shuts the server down as an operator would (SIGTERM) and waits until it has exited.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = child.id().to_string();
            let _ = Command::new("kill").args(["-TERM", &pid]).status();
            let _ = child.wait();
        }
    }
}

fn data(root: &Path) -> PathBuf {
    root.join("data")
}

impl Drop for PrivateMariadb {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
