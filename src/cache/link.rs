//! How the cache reaches Redis, whatever the topology: one server (a bb8 pool of multiplexed
//! connections), a Redis Cluster (redis-rs's cluster connection: multiplexed per node, it
//! routes each pipeline by its slot, so a pool would add nothing to it; replaced after a
//! failure, see [`Cluster`]), or a master that Sentinel names (for the counts).
//!
//! Callers hand over [`Unit`]s: commands whose keys all sit in one slot. To one server they go as
//! one pipeline; to a cluster, as one pipeline per slot, sent together. Either way one call is one
//! round of exchanges, however many users it is for. Within a pipeline, the calls of one
//! per-item script go as one call ([`batch`]), and scripts go by their hash ([`Lua`]).
//!
//! A master that fails over loses what it acknowledged but had not yet passed to its replica. For
//! a cache write (a mark, an update, a forget) that would be a stale entry nobody repairs, so on
//! a cluster and under Sentinel the pipelines that carry writes end with `WAIT`: a write that did
//! not reach [`CacheOptions::wait_replicas`] replicas counts as failed, and its users go to the
//! repair list like after any other failure.

use std::time::Duration;

use bb8::Pool;
use bb8_redis::RedisConnectionManager;
use futures_util::future::try_join_all;
use redis::cluster::{ClusterClient, ClusterConfig};
use redis::cluster_async::ClusterConnection;
use redis::sentinel::{SentinelClient, SentinelServerType};
use redis::{Cmd, RedisError, ServerErrorKind, Value};
use tokio::sync::Mutex;

use super::scripts::Lua;
use super::{slots, CacheError, CacheOptions};

/// Commands whose keys all sit in the slot of `key`, sent together.
pub(super) struct Unit {
    pub(super) key: String,
    cmds: Vec<Cmd>,
    /// The script each command calls by its hash, if any: sent in full where Redis lacks it.
    scripts: Vec<Option<&'static Lua>>,
    /// A failover must not lose it: it only counts once a replica has it too.
    replicated: bool,
}

impl Unit {
    /// Commands that read, or write what may be lost (a fill, a rate-limit step).
    pub(super) fn new(key: impl Into<String>) -> Self {
        Self { key: key.into(), cmds: Vec::new(), scripts: Vec::new(), replicated: false }
    }

    /// Commands that write what the protocol relies on (a mark, an update, a forget).
    pub(super) fn write(key: impl Into<String>) -> Self {
        Self { replicated: true, ..Self::new(key) }
    }

    /// Adds a command; returns it, for its arguments.
    pub(super) fn add(&mut self, cmd: Cmd) -> &mut Cmd {
        self.push(cmd, None)
    }

    /// Adds a call of `script` over `keys` (in this unit's slot); returns it, for its arguments.
    pub(super) fn run<const N: usize>(
        &mut self,
        script: &'static Lua,
        keys: [&str; N],
    ) -> &mut Cmd {
        self.push(script.call(keys), Some(script))
    }

    fn push(&mut self, cmd: Cmd, script: Option<&'static Lua>) -> &mut Cmd {
        let at = self.cmds.len();
        self.cmds.push(cmd);
        self.scripts.push(script);
        &mut self.cmds[at]
    }
}

/// One Redis deployment.
pub(super) enum Link {
    Node(Node),
    Cluster(Cluster, Wait),
    Sentinel(Sentinel, Wait),
}

/// How pipelines that carry writes wait for replicas: `WAIT replicas timeout`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Wait {
    replicas: u32,
    timeout_ms: u64,
}

impl Wait {
    fn from(options: &CacheOptions) -> Self {
        Self {
            replicas: options.wait_replicas,
            timeout_ms: options.wait_timeout.as_millis() as u64,
        }
    }
}

/// One server: a pool, replaced after a failed exchange (a multiplexed connection does not
/// recover once its server has gone, and checking each one on checkout would cost a round trip
/// per call).
pub(super) struct Node {
    manager: RedisConnectionManager,
    pool: std::sync::RwLock<Pool<RedisConnectionManager>>,
    timeout: Duration,
}

/// A cluster's connection, replaced after a failed exchange. redis-rs follows `MOVED` and `ASK`
/// and refreshes its slot map for single commands, but a pipeline's `MOVED` comes back as one
/// of its replies, the map unchanged: after a failover it could send a slot's pipelines to the
/// old master forever. A fresh connection reads the map anew.
pub(super) struct Cluster {
    client: ClusterClient,
    config: ClusterConfig,
    conn: std::sync::RwLock<ClusterConnection>,
}

impl Cluster {
    fn connect(&self) -> ClusterConnection {
        self.client.get_pending_async_connection_with_config(self.config.clone())
    }

    fn conn(&self) -> ClusterConnection {
        self.conn.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// The master that Sentinel names, asked again after any failure (a failover moves it).
pub(super) struct Sentinel {
    client: Mutex<SentinelClient>,
    master: Mutex<Option<redis::aio::MultiplexedConnection>>,
}

impl Link {
    /// A link from a URL: `redis://host:port/db`, or
    /// `redis+sentinel://host:port,host:port/master-name` for a Sentinel-managed master.
    pub(super) fn open(url: &str, options: &CacheOptions) -> Result<Self, CacheError> {
        if let Some(rest) = url.strip_prefix("redis+sentinel://") {
            return Ok(Link::Sentinel(Sentinel::open(rest)?, Wait::from(options)));
        }
        let manager =
            RedisConnectionManager::new(url).map_err(|e| CacheError::Url(e.to_string()))?;
        let pool = std::sync::RwLock::new(new_pool(&manager, options.timeout));
        Ok(Link::Node(Node { manager, pool, timeout: options.timeout }))
    }

    /// A cluster from some of its nodes (`host:port`, comma-separated); connects in the
    /// background, so the service starts (and serves from the database) while it is away.
    pub(super) fn cluster(nodes: &str, options: &CacheOptions) -> Result<Self, CacheError> {
        let urls: Vec<String> = nodes
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| if n.contains("://") { n.to_owned() } else { format!("redis://{n}") })
            .collect();
        let client = ClusterClient::builder(urls)
            .retries(6)
            .min_retry_wait(20)
            .max_retry_wait(200)
            .build()
            .map_err(|e| CacheError::Url(e.to_string()))?;
        let config = ClusterConfig::new()
            .set_connection_timeout(options.timeout)
            .set_response_timeout(options.timeout);
        let conn =
            std::sync::RwLock::new(client.get_pending_async_connection_with_config(config.clone()));
        Ok(Link::Cluster(Cluster { client, config, conn }, Wait::from(options)))
    }

    /// Sends the units; each unit's replies, in order.
    pub(super) async fn send(&self, units: &[Unit]) -> Result<Vec<Vec<Value>>, CacheError> {
        if units.is_empty() {
            return Ok(Vec::new());
        }
        match self {
            Link::Node(node) => {
                let mut conn = node.pool().get_owned().await?;
                let all: Vec<&Unit> = units.iter().collect();
                pipeline(&mut *conn, &all, None).await
            }
            // Boxed, as is the Sentinel lookup: their futures are kilobytes, and without a box
            // every cache step's future (and each write group's task, moved when spawned) would
            // carry them, used or not.
            Link::Cluster(cluster, wait) => Box::pin(per_slot(&cluster.conn(), units, *wait)).await,
            Link::Sentinel(sentinel, wait) => {
                let mut conn = Box::pin(sentinel.master()).await?;
                let all: Vec<&Unit> = units.iter().collect();
                pipeline(&mut conn, &all, Some(*wait)).await
            }
        }
    }

    /// After a failed exchange: the next one starts from fresh connections.
    pub(super) async fn reset(&self) {
        match self {
            Link::Node(node) => {
                let fresh = new_pool(&node.manager, node.timeout);
                *node.pool.write().unwrap_or_else(|p| p.into_inner()) = fresh;
            }
            Link::Cluster(cluster, _) => {
                let fresh = cluster.connect();
                *cluster.conn.write().unwrap_or_else(|p| p.into_inner()) = fresh;
            }
            Link::Sentinel(sentinel, _) => *sentinel.master.lock().await = None,
        }
    }

    /// Open and idle connections of a pool, for the metrics (a cluster or Sentinel link keeps
    /// one multiplexed connection per node instead).
    pub(super) fn pool_usage(&self) -> (u32, u32) {
        match self {
            Link::Node(node) => {
                let state = node.pool().state();
                (state.connections, state.idle_connections)
            }
            Link::Cluster(..) | Link::Sentinel(..) => (0, 0),
        }
    }
}

impl Node {
    fn pool(&self) -> Pool<RedisConnectionManager> {
        self.pool.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Sentinel {
    /// `host:port,host:port/master-name`.
    fn open(spec: &str) -> Result<Self, CacheError> {
        let (hosts, name) = spec
            .rsplit_once('/')
            .ok_or_else(|| CacheError::Url("redis+sentinel://hosts/master-name".into()))?;
        let sentinels: Vec<String> = hosts.split(',').map(|h| format!("redis://{h}")).collect();
        let client =
            SentinelClient::build(sentinels, name.to_owned(), None, SentinelServerType::Master)
                .map_err(|e| CacheError::Url(e.to_string()))?;
        Ok(Self { client: Mutex::new(client), master: Mutex::new(None) })
    }

    /// A connection to the current master, asking Sentinel when there is none.
    async fn master(&self) -> Result<redis::aio::MultiplexedConnection, CacheError> {
        let mut master = self.master.lock().await;
        if let Some(conn) = master.as_ref() {
            return Ok(conn.clone());
        }
        let conn = self.client.lock().await.get_async_connection().await?;
        *master = Some(conn.clone());
        Ok(conn)
    }
}

/// The units as one pipeline on one connection; with `wait`, ended by a `WAIT` when any unit
/// must be replicated, and failed if too few replicas confirm it. Script calls that Redis
/// answered with `NOSCRIPT` (it ran none of them) go again in full, in a second pipeline.
async fn pipeline(
    conn: &mut impl redis::aio::ConnectionLike,
    units: &[&Unit],
    wait: Option<Wait>,
) -> Result<Vec<Vec<Value>>, CacheError> {
    let calls: Vec<(&Cmd, Option<&'static Lua>)> =
        units.iter().flat_map(|u| u.cmds.iter().zip(u.scripts.iter().copied())).collect();
    let wait = wait.filter(|w| w.replicas > 0 && units.iter().any(|u| u.replicated));
    let (wire, places) = batch(&calls);
    let mut values = round(conn, wire.iter().map(|(cmd, _)| cmd.clone()), wait).await?;
    let unknown: Vec<usize> = (0..values.len()).filter(|&i| is_noscript(&values[i])).collect();
    if !unknown.is_empty() {
        let in_full = unknown.iter().map(|&i| match &wire[i] {
            (cmd, Some(script)) => script.in_full(cmd),
            (cmd, None) => cmd.clone(),
        });
        let again = round(conn, in_full, wait).await?;
        for (i, value) in unknown.into_iter().zip(again) {
            values[i] = value;
        }
    }
    if let Some(Value::ServerError(error)) =
        values.iter().find(|v| matches!(v, Value::ServerError(_)))
    {
        return Err(RedisError::from(error.clone()).into());
    }
    Ok(split(unbatch(values, &places), units.iter().map(|u| u.cmds.len())))
}

/// Where a call's reply is: the command it went in, and its place in that command's array
/// reply when it went with other calls of its script.
type Place = (usize, Option<usize>);

/// The commands to send for `calls`: each call of a per-item script joins the first call of
/// the same script ([`Lua::merge`]), every other call goes as it is. The items a pipeline's
/// calls name are each other's strangers or commute (two marks, or two pairs' changes, of one
/// item), so running one script's calls together, before or after the others, changes nothing.
fn batch(calls: &[(&Cmd, Option<&'static Lua>)]) -> (Vec<(Cmd, Option<&'static Lua>)>, Vec<Place>) {
    let mut groups: Vec<(&'static Lua, usize, Vec<&Cmd>)> = Vec::new();
    let mut wire: Vec<(Cmd, Option<&'static Lua>)> = Vec::with_capacity(calls.len());
    let mut places = Vec::with_capacity(calls.len());
    for &(cmd, script) in calls {
        let Some(script) = script.filter(|s| s.batched()) else {
            places.push((wire.len(), None));
            wire.push((cmd.clone(), script));
            continue;
        };
        match groups.iter_mut().find(|(s, ..)| std::ptr::eq(*s, script)) {
            Some((_, at, members)) => {
                places.push((*at, Some(members.len())));
                members.push(cmd);
            }
            None => {
                places.push((wire.len(), Some(0)));
                groups.push((script, wire.len(), vec![cmd]));
                wire.push((cmd.clone(), Some(script)));
            }
        }
    }
    for (script, at, members) in groups {
        if members.len() > 1 {
            wire[at].0 = script.merge(&members);
        }
    }
    (wire, places)
}

/// Each call's reply, from the replies to the commands `batch` made.
fn unbatch(mut values: Vec<Value>, places: &[Place]) -> Vec<Value> {
    let mut take = |at: usize, item: Option<usize>| {
        let value = values.get_mut(at)?;
        let value = match (value, item) {
            (Value::Array(items), Some(i)) => items.get_mut(i)?,
            (value, _) => value,
        };
        Some(std::mem::replace(value, Value::Nil))
    };
    places.iter().map(|&(at, item)| take(at, item).unwrap_or(Value::Nil)).collect()
}

/// One pipeline of `cmds` (their replies, errors among them), ended by `wait`'s `WAIT`.
async fn round(
    conn: &mut impl redis::aio::ConnectionLike,
    cmds: impl Iterator<Item = Cmd>,
    wait: Option<Wait>,
) -> Result<Vec<Value>, CacheError> {
    let mut pipe = redis::pipe();
    pipe.ignore_errors();
    for cmd in cmds {
        pipe.add_command(cmd);
    }
    if let Some(wait) = wait {
        pipe.cmd("WAIT").arg(wait.replicas).arg(wait.timeout_ms);
    }
    let mut values: Vec<Value> = pipe.query_async(conn).await?;
    if let Some(wait) = wait {
        let confirmed: u32 = redis::from_redis_value(values.pop().unwrap_or(Value::Nil))?;
        if confirmed < wait.replicas {
            return Err(CacheError::NotReplicated(confirmed));
        }
    }
    Ok(values)
}

fn is_noscript(value: &Value) -> bool {
    matches!(value, Value::ServerError(e) if e.kind() == Some(ServerErrorKind::NoScript))
}

/// One pipeline per slot, sent together; the replies put back in the units' order.
async fn per_slot(
    cluster: &ClusterConnection,
    units: &[Unit],
    wait: Wait,
) -> Result<Vec<Vec<Value>>, CacheError> {
    let mut groups: std::collections::BTreeMap<u16, Vec<usize>> = Default::default();
    for (i, unit) in units.iter().enumerate() {
        groups.entry(slots::slot(&unit.key)).or_default().push(i);
    }
    let sent = try_join_all(groups.into_values().map(|members| {
        let mut conn = cluster.clone();
        async move {
            let group: Vec<&Unit> = members.iter().map(|&i| &units[i]).collect();
            Ok::<_, CacheError>((members, pipeline(&mut conn, &group, Some(wait)).await?))
        }
    }))
    .await?;
    Ok(place(units.len(), sent))
}

/// Puts replies sent in shares back in the units' order: each share names the positions (among
/// `len` units) its replies belong to.
pub(super) fn place(
    len: usize,
    shares: impl IntoIterator<Item = (Vec<usize>, Vec<Vec<Value>>)>,
) -> Vec<Vec<Value>> {
    let mut replies: Vec<Vec<Value>> = (0..len).map(|_| Vec::new()).collect();
    for (positions, values) in shares {
        for (i, value) in positions.into_iter().zip(values) {
            replies[i] = value;
        }
    }
    replies
}

/// Cuts a pipeline's replies into the units' shares.
fn split(values: Vec<Value>, lengths: impl Iterator<Item = usize>) -> Vec<Vec<Value>> {
    let mut values = values.into_iter();
    lengths.map(|n| values.by_ref().take(n).collect()).collect()
}

/// A pool whose connections are made on first use and not pinged on checkout.
fn new_pool(manager: &RedisConnectionManager, timeout: Duration) -> Pool<RedisConnectionManager> {
    Pool::builder()
        .max_size(32)
        .connection_timeout(timeout)
        .test_on_check_out(false)
        .build_unchecked(manager.clone())
}
