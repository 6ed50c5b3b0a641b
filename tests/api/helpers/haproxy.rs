//! HAProxy (Debian's package) in front of several instances, as the legacy deployment runs them:
//! round robin, health checks on `/readyz` (which answers slowly, but answers, while Redis is
//! away: hence the check timeout), and the retries a load balancer makes when an
//! instance goes away mid-request (every follow-graph write is idempotent, so a replay is safe).

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::free_port;

/// A running HAProxy; stopped by its process id when dropped.
pub struct Haproxy {
    pub addr: SocketAddr,
    child: Child,
    _dir: TempDir,
}

impl Haproxy {
    /// Balances over `instances` (`host:port`) and waits until it answers and sees them all up.
    pub async fn start(instances: &[String]) -> Haproxy {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let servers: String = instances
            .iter()
            .enumerate()
            .map(|(i, addr)| format!("  server i{i} {addr} check\n"))
            .collect();
        let config = format!(
            "global
  maxconn 4096
defaults
  mode http
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  timeout check 2s
  retries 3
  option redispatch 1
  retry-on conn-failure empty-response response-timeout
frontend followgraph
  bind 127.0.0.1:{port}
  default_backend instances
backend instances
  balance roundrobin
  option httpchk GET /readyz
  default-server inter 300ms fall 2 rise 1
{servers}"
        );
        let path = dir.path().join("haproxy.cfg");
        std::fs::write(&path, config).expect("haproxy config");
        let child = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("haproxy is installed (.ci/run installs it)");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let proxy = Haproxy { addr, child, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        let health = format!("http://{addr}/readyz");
        // Each instance answers once in turn: all are checked up.
        let mut answered = 0;
        while answered < instances.len() * 2 {
            assert!(Instant::now() < deadline, "haproxy did not come up");
            match reqwest::get(&health).await {
                Ok(response) if response.status().is_success() => answered += 1,
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        proxy
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
