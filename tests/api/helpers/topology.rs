//! Redis as the legacy stack runs it, started by the tests on free loopback ports: a Redis
//! Cluster of three masters with a replica each (the per-user keys), and a master watched by
//! Sentinel (the counts). Every process is stopped by its id when its owner drops; the shared
//! topology of the `postgres_cluster` set-up lives as long as the test process and its servers
//! are killed by the kernel when the process ends (`PR_SET_PDEATHSIG`), however it ends.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bb8_redis::redis::{self, aio::ConnectionLike, Cmd, Pipeline, RedisFuture, Value};
use tempfile::TempDir;

use super::free_port;

/// A connection to whatever holds a test app's keys: one server or a cluster. Commands go
/// through `AsyncCommands` on either.
#[derive(Clone)]
pub enum TestRedis {
    Node(redis::aio::MultiplexedConnection),
    Cluster(redis::cluster_async::ClusterConnection),
}

impl ConnectionLike for TestRedis {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            TestRedis::Node(conn) => conn.req_packed_command(cmd),
            TestRedis::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            TestRedis::Node(conn) => conn.req_packed_commands(cmd, offset, count),
            TestRedis::Cluster(conn) => conn.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            TestRedis::Node(conn) => conn.get_db(),
            TestRedis::Cluster(conn) => conn.get_db(),
        }
    }
}

/// A server process; killed by its id when dropped.
struct Server {
    port: u16,
    /// Its own directory (a cluster node keeps its `nodes.conf` there, to rejoin after a
    /// restart).
    dir: PathBuf,
    args: Vec<String>,
    sentinel: bool,
    /// Killed by the kernel when the thread that started it ends (the shared topology's
    /// keeper thread lives as long as the process).
    bound: bool,
    child: Option<Child>,
}

impl Server {
    /// `redis-server` with `args` on a free port, in a directory of its own under `dir`; with
    /// `sentinel`, as a Sentinel. A cluster node also needs its bus port (port + 10000) free.
    fn start(dir: &Path, args: &[&str], sentinel: bool, bound: bool) -> Server {
        let port = if args.contains(&"--cluster-enabled") { cluster_port() } else { free_port() };
        let dir = dir.join(port.to_string());
        std::fs::create_dir(&dir).expect("server directory");
        if sentinel {
            std::fs::write(dir.join("sentinel.conf"), "").expect("sentinel config");
        }
        let args = args.iter().map(|a| a.to_string()).collect();
        let mut server = Server { port, dir, args, sentinel, bound, child: None };
        server.restart();
        server
    }

    /// Starts the process (again, on the same port and directory) and waits until it answers.
    fn restart(&mut self) {
        let mut command = Command::new("redis-server");
        if self.sentinel {
            command.arg(self.dir.join("sentinel.conf")).arg("--sentinel");
        }
        command.args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"]);
        command.args(["--save", "", "--appendonly", "no", "--dir"]).arg(&self.dir);
        command.arg("--logfile").arg(self.log());
        // A replica's first sync at once, not after Redis 7's 5 s wait for more replicas: a
        // replica that never synced will not take over from a killed master.
        command.args(["--repl-diskless-sync-delay", "0"]);
        command.args(&self.args).stdout(Stdio::null()).stderr(Stdio::null());
        if self.bound {
            // SAFETY: prctl is async-signal-safe and touches nothing of the parent's.
            unsafe {
                command.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
        }
        self.child = Some(command.spawn().expect("redis-server is installed"));
        self.wait_until_it_answers();
    }

    /// Its log, kept for a failing test to show.
    fn log(&self) -> PathBuf {
        self.dir.join("redis.log")
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn wait_until_it_answers(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while cli(self.port, &["PING"]).as_deref() != Some("PONG") {
            assert!(Instant::now() < deadline, "redis-server on {} did not start", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server, as a crash would.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A free port whose cluster bus port (+10000) is free and valid too.
fn cluster_port() -> u16 {
    loop {
        let port = free_port();
        if port < 55_000 && std::net::TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

/// `redis-cli -p port args…`'s output, trimmed; `None` when it fails.
fn cli(port: u16, args: &[&str]) -> Option<String> {
    let output = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    (output.status.success() && !text.starts_with("Could not connect")).then_some(text)
}

/// Waits for `check` to hold, for at most `within`.
fn wait_for(what: &str, within: Duration, check: impl FnMut() -> bool) {
    assert!(waited(within, check), "timed out waiting for {what}");
}

/// Whether `check` came to hold within `within`.
fn waited(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while !check() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// Three masters and three replicas, every slot covered.
pub struct RedisCluster {
    servers: Vec<Server>,
    _dir: TempDir,
}

impl RedisCluster {
    /// Six nodes joined by `redis-cli --cluster create … --cluster-replicas 1`; returns once
    /// every node sees the cluster whole. Blocks.
    pub fn start() -> RedisCluster {
        Self::start_bound(false)
    }

    fn start_bound(bound: bool) -> RedisCluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let servers: Vec<Server> = (0..6)
            .map(|_| {
                let args = ["--cluster-enabled", "yes", "--cluster-node-timeout", "1000"];
                Server::start(dir.path(), &args, false, bound)
            })
            .collect();
        let addrs: Vec<String> = servers.iter().map(Server::addr).collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdout(Stdio::null())
            .status()
            .expect("redis-cli is installed");
        assert!(created.success(), "redis-cli --cluster create failed");
        let cluster = RedisCluster { servers, _dir: dir };
        cluster.wait_until_whole();
        cluster
    }

    /// The nodes, as `REDIS_CLUSTER_NODES` takes them.
    pub fn nodes(&self) -> String {
        self.servers.iter().map(Server::addr).collect::<Vec<_>>().join(",")
    }

    /// A cluster connection to `nodes` (as `REDIS_CLUSTER_NODES` takes them).
    pub async fn connect(nodes: &str) -> TestRedis {
        let urls: Vec<String> = nodes.split(',').map(|n| format!("redis://{n}")).collect();
        let client = redis::cluster::ClusterClient::new(urls).expect("cluster client");
        TestRedis::Cluster(client.get_async_connection().await.expect("cluster connection"))
    }

    /// The port of the master that holds `key`'s slot.
    pub fn master_of(&self, key: &str) -> u16 {
        self.serving(key).expect("a master holds the slot")
    }

    /// The port of the master that serves `key`'s slot, if one that is up does (during a
    /// failover, none).
    fn serving(&self, key: &str) -> Option<u16> {
        let running = self.running().next()?.port;
        let slot: u16 = cli(running, &["CLUSTER", "KEYSLOT", key])?.parse().ok()?;
        let nodes = self.live_view();
        nodes
            .lines()
            .filter(|line| line.contains("master") && !line.contains("fail"))
            .find(|line| line.split(' ').skip(8).any(|range| covers(range, slot)))
            .and_then(|line| line.split(' ').nth(1))
            .and_then(|addr| addr.split('@').next()?.rsplit(':').next()?.parse().ok())
    }

    /// Kills the master on `port` with SIGKILL, as a crash would; its replica takes over.
    pub fn kill(&mut self, port: u16) {
        let server = self.servers.iter_mut().find(|s| s.port == port).expect("a node");
        server.kill();
    }

    /// Waits until a master other than `killed` serves `key`'s slot: its replica has taken
    /// over (a second or two after the kill when idle; a lost vote tries again 4 s later).
    /// Blocks.
    pub fn wait_for_takeover(&self, killed: u16, key: &str) {
        wait_for("a replica to take over", Duration::from_secs(60), || {
            self.serving(key).is_some_and(|port| port != killed)
        });
    }

    /// Starts a killed node again; it rejoins the cluster (as a replica of the master that took
    /// its place).
    pub fn restart(&mut self, port: u16) {
        let server = self.servers.iter_mut().find(|s| s.port == port).expect("a node");
        server.restart();
        self.wait_until_whole();
    }

    /// Waits until every running node sees every slot served by a master that is up.
    pub fn wait_until_whole(&self) {
        wait_for("the cluster to be whole", Duration::from_secs(30), || {
            self.running().all(|s| {
                cli(s.port, &["CLUSTER", "INFO"])
                    .is_some_and(|info| info.contains("cluster_state:ok"))
            })
        });
    }

    fn running(&self) -> impl Iterator<Item = &Server> {
        self.servers.iter().filter(|s| s.child.is_some())
    }

    fn live_view(&self) -> String {
        self.running().find_map(|s| cli(s.port, &["CLUSTER", "NODES"])).expect("a node answers")
    }
}

/// Whether a `CLUSTER NODES` slot field (`0-5460` or `42`) covers `slot`.
fn covers(range: &str, slot: u16) -> bool {
    let mut bounds = range.split('-').map(|b| b.parse::<u16>());
    match (bounds.next(), bounds.next()) {
        (Some(Ok(first)), Some(Ok(last))) => (first..=last).contains(&slot),
        (Some(Ok(only)), None) => only == slot,
        _ => false,
    }
}

/// A master named `counts`, its replica, and a Sentinel watching them.
pub struct Sentineled {
    master: Server,
    replica: Server,
    sentinel: Server,
    _dir: TempDir,
}

/// How long a Sentinel may take to act on a change. It fails a master over once it has been
/// silent for 5 s (`down-after-milliseconds`), and makes a restarted old master a replica
/// only once that instance has reported itself a master for 8 s, on its next INFO (sent every
/// 10 s): about 15 s on an idle machine. A Sentinel whose timer stalls for 2 s (a loaded CI
/// machine) enters TILT mode and acts on nothing for 30 s more; 30 s of patience was seen to
/// fail there.
const SENTINEL_ACTS_WITHIN: Duration = Duration::from_secs(90);

/// The name the Sentinel knows the counts master by.
pub const COUNTS_MASTER: &str = "counts";

impl Sentineled {
    /// Blocks until the Sentinel watches the master and its replica.
    pub fn start() -> Sentineled {
        Self::start_bound(false)
    }

    fn start_bound(bound: bool) -> Sentineled {
        let dir = tempfile::tempdir().expect("temp dir");
        let master = Server::start(dir.path(), &[], false, bound);
        let port = master.port.to_string();
        let replica = Server::start(dir.path(), &["--replicaof", "127.0.0.1", &port], false, bound);
        let sentinel = Server::start(dir.path(), &[], true, bound);
        let monitor = ["SENTINEL", "MONITOR", COUNTS_MASTER, "127.0.0.1", &port, "1"];
        assert_eq!(cli(sentinel.port, &monitor).as_deref(), Some("OK"));
        // A master silent for 5 s is down: a loaded CI machine once stalled the new master
        // for over a second, and a 1 s bound failed it over back to the empty restarted one.
        for (option, value) in [("down-after-milliseconds", "5000"), ("failover-timeout", "3000")] {
            let set = ["SENTINEL", "SET", COUNTS_MASTER, option, value];
            assert_eq!(cli(sentinel.port, &set).as_deref(), Some("OK"));
        }
        let sentineled = Sentineled { master, replica, sentinel, _dir: dir };
        wait_for("the replica to sync", Duration::from_secs(10), || {
            cli(sentineled.replica.port, &["INFO", "replication"])
                .is_some_and(|info| info.contains("master_link_status:up"))
        });
        wait_for("the Sentinel to see the replica", Duration::from_secs(10), || {
            cli(sentineled.sentinel.port, &["SENTINEL", "REPLICAS", COUNTS_MASTER])
                .is_some_and(|replicas| replicas.contains(&sentineled.replica.port.to_string()))
        });
        sentineled
    }

    /// The URL the service takes: `redis+sentinel://sentinel/counts`.
    pub fn url(&self) -> String {
        format!("redis+sentinel://{}/{COUNTS_MASTER}", self.sentinel.addr())
    }

    /// The master's port as the Sentinel names it.
    pub fn master_port(&self) -> u16 {
        master_port(self.sentinel.port, COUNTS_MASTER)
    }

    /// Starts the killed master again: the Sentinel makes it a replica of the new master.
    pub fn restart_old_master(&mut self) {
        self.master.restart();
        let old = self.master.port.to_string();
        self.wait_for_sentinel("the old master to rejoin as a replica", || {
            cli(self.master.port, &["INFO", "replication"]).is_some_and(|info| {
                info.contains("role:slave") && info.contains("master_link_status:up")
            }) && cli(self.sentinel.port, &["SENTINEL", "REPLICAS", COUNTS_MASTER])
                .is_some_and(|replicas| replicas.contains(&old))
        });
    }

    /// Waits for `check` as long as the Sentinel may take to act; a timeout shows its log (a
    /// TILT, a failover it gave up on).
    fn wait_for_sentinel(&self, what: &str, check: impl FnMut() -> bool) {
        if !waited(SENTINEL_ACTS_WITHIN, check) {
            let log = std::fs::read_to_string(self.sentinel.log()).unwrap_or_default();
            panic!("timed out waiting for {what}; the Sentinel's log:\n{log}");
        }
    }

    /// Kills the master; the Sentinel promotes the replica.
    pub fn kill_master(&mut self) {
        self.master.kill();
        let replica = self.replica.port;
        self.wait_for_sentinel("the Sentinel to promote the replica", || {
            self.master_port() == replica
                && cli(replica, &["ROLE"]).is_some_and(|role| role.starts_with("master"))
        });
    }
}

/// The port of the master that the Sentinel on `sentinel` names `name`.
fn master_port(sentinel: u16, name: &str) -> u16 {
    let reply = cli(sentinel, &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", name]).expect("sentinel");
    reply.lines().nth(1).and_then(|p| p.trim().parse().ok()).expect("a master port")
}

/// The master a `redis+sentinel://host:port/name` URL names now, as a plain URL.
pub fn sentinel_master(url: &str) -> String {
    let spec = url.strip_prefix("redis+sentinel://").expect("a Sentinel URL");
    let (hosts, name) = spec.rsplit_once('/').expect("hosts/name");
    let first = hosts.split(',').next().expect("a sentinel");
    let port: u16 = first.rsplit(':').next().and_then(|p| p.parse().ok()).expect("a port");
    format!("redis://127.0.0.1:{}", master_port(port, name))
}

/// The topology of the `postgres_cluster` set-up, shared by every test of this process (they
/// use disjoint user ids): started on first use by a thread that lives as long as the process.
pub struct LegacyTopology {
    pub cluster_nodes: String,
    pub counts_url: String,
}

/// The shared legacy topology.
pub fn legacy_topology() -> &'static LegacyTopology {
    static TOPOLOGY: OnceLock<LegacyTopology> = OnceLock::new();
    TOPOLOGY.get_or_init(|| {
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("legacy-topology".into())
            .spawn(move || {
                let cluster = RedisCluster::start_bound(true);
                let counts = Sentineled::start_bound(true);
                let topology =
                    LegacyTopology { cluster_nodes: cluster.nodes(), counts_url: counts.url() };
                sender.send(topology).expect("the test waits");
                // The servers die with this thread's process (PR_SET_PDEATHSIG), not before.
                let _keep = (cluster, counts);
                loop {
                    std::thread::park();
                }
            })
            .expect("thread");
        receiver.recv().expect("the legacy topology starts")
    })
}
