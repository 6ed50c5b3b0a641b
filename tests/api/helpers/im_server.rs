//! The legacy IM server's notification side (`bench/legacy/im_server.py`): python-socketio with
//! its KombuManager on RabbitMQ, and a socket.io client in one user's room, printing each
//! `following notify` it gets. Real python-socketio, as SPEC §10 asks, not a hand-written reader.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// A running IM server with its client in `user`'s room; killed when dropped.
pub struct ImServer {
    _child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl ImServer {
    /// Starts it on the broker at `amqp_url` and waits until a message has gone through the
    /// broker to its client; `None` outside CI when the legacy virtualenv is not installed.
    pub async fn start(amqp_url: &str, user: i64) -> Option<ImServer> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let python = root.join("target/bench/venv/bin/python");
        if !python.exists() {
            assert!(std::env::var_os("CI").is_none(), "CI installs it: bench/legacy/install");
            eprintln!("skipping a legacy notification test: run bench/legacy/install");
            return None;
        }
        let mut child = Command::new(python)
            .arg(root.join("bench/legacy/im_server.py"))
            .arg(kombu_url(amqp_url))
            .arg(user.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("the IM server starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut server = ImServer { _child: child, lines: BufReader::new(stdout).lines() };
        assert_eq!(server.line(Duration::from_secs(60)).await.as_deref(), Some("READY"));
        Some(server)
    }

    /// The next notification its client got within `wait`, as the frontend would get it.
    pub async fn notification(&mut self, wait: Duration) -> Option<Value> {
        let line = self.line(wait).await?;
        let json = line.strip_prefix("EVENT ").unwrap_or_else(|| panic!("not an event: {line}"));
        Some(serde_json::from_str(json).expect("json"))
    }

    async fn line(&mut self, wait: Duration) -> Option<String> {
        let line = tokio::time::timeout(wait, self.lines.next_line()).await.ok()?;
        line.expect("read the IM server's output")
    }
}

/// kombu's form of the URL: `amqp://user:pass@host:port//` for the vhost `/`.
fn kombu_url(url: &str) -> String {
    url.replace("/%2f", "//")
}
