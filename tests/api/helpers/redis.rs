//! Redis for tests: the shared server's per-backend databases, a private server a test may stop
//! and restart, and the check that every cached zset and count equals the database.

use std::time::Duration;

use bb8_redis::redis::{self, AsyncCommands};

use super::{Backend, TestApp, TestRedis};

/// The Redis database a backend's cached tests share (tests use disjoint user ids), or `None`
/// when Redis is absent outside CI.
pub async fn redis_url(backend: Backend) -> Option<String> {
    let base = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let db = match backend {
        Backend::Sqlite => 1,
        Backend::Postgres => 2,
        Backend::Mysql => 4,
    };
    let url = format!("{}/{db}", base.trim_end_matches('/'));
    let client = redis::Client::open(url.as_str()).expect("redis url");
    match client.get_multiplexed_async_connection().await {
        Ok(_) => Some(url),
        Err(err) if std::env::var_os("CI").is_none() => {
            eprintln!("skipping a Redis test: {err} (set CI=1 to make this a failure)");
            None
        }
        Err(err) => panic!("Redis is required in CI: {err}"),
    }
}

/// A direct connection for assertions; `None` when nothing answers there (a closed port).
pub async fn redis_connection(url: &str) -> Option<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(url).expect("redis url");
    client.get_multiplexed_async_connection().await.ok()
}

/// A redis-server of the test's own on a free loopback port, so that a test can pause, stop and
/// restart it without touching the shared server. Stopped when dropped.
pub struct PrivateRedis {
    pub port: u16,
    child: Option<std::process::Child>,
}

impl PrivateRedis {
    pub async fn start() -> PrivateRedis {
        let port = free_port();
        let mut redis = PrivateRedis { port, child: None };
        redis.restart().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again, empty: it keeps nothing on disk) and waits until it answers.
    pub async fn restart(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        self.child = Some(child);
        for _ in 0..100 {
            if redis_connection(&self.url()).await.is_some() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("private redis-server did not start");
    }

    /// Kills the server, as a crash would.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A loopback port nothing listens on (just now).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// A cached list: member id and score in microseconds, sorted by member.
pub type CachedList = Vec<(i64, i64)>;

impl TestApp {
    /// The direct Redis connection; panics for an app without a reachable cache.
    pub fn redis(&self) -> TestRedis {
        self.redis.clone().expect("this app has a reachable cache")
    }

    /// The direct connection to the Redis of the count zsets.
    pub fn counts_redis(&self) -> TestRedis {
        self.counts_redis.clone().expect("this app has a reachable cache")
    }

    /// Connects the direct connections again (after a restart, or a failover of the counts).
    pub async fn reconnect_redis(&mut self) {
        (self.redis, self.counts_redis) = self.cache_at.connections().await;
    }

    /// A zset as `(member, score in µs)` sorted by member, or `None` when the key is absent.
    pub async fn cached_list(&self, key: &str) -> Option<CachedList> {
        let mut redis = self.redis();
        let exists: bool = redis.exists(key).await.expect("exists");
        if !exists {
            return None;
        }
        let items: Vec<(String, f64)> = redis.zrange_withscores(key, 0, -1).await.expect("zrange");
        let mut list: CachedList = items
            .into_iter()
            .map(|(m, s)| (m.parse().expect("member is an id"), (s * 1e6).round() as i64))
            .collect();
        list.sort();
        Some(list)
    }

    /// A user's list as the database has it, in the cached form.
    pub async fn database_list(&self, user: i64, following: bool) -> CachedList {
        let rows = self.database.list(user, following).await;
        let mut list: CachedList =
            rows.into_iter().map(|(id, t)| (id, t.timestamp_micros())).collect();
        list.sort();
        list
    }

    /// SPEC §5: every cached zset and count that exists for these users equals the database.
    pub async fn assert_cache_matches(&self, users: &[i64]) {
        if self.redis.is_none() {
            return;
        }
        let mut counts = self.counts_redis();
        for &user in users {
            let following = self.database_list(user, true).await;
            let fans = self.database_list(user, false).await;
            if let Some(cached) = self.cached_list(&format!("user:{user}:following")).await {
                assert_eq!(cached, following, "user:{user}:following differs from the database");
            }
            if let Some(cached) = self.cached_list(&format!("user:{user}:fans")).await {
                assert_eq!(cached, fans, "user:{user}:fans differs from the database");
            }
            let count: Option<f64> =
                counts.zscore("count:user:followings", user).await.expect("zscore");
            if let Some(count) = count {
                assert_eq!(count as usize, following.len(), "following count of {user}");
            }
            let count: Option<f64> =
                counts.zscore("count:user:followers", user).await.expect("zscore");
            if let Some(count) = count {
                assert_eq!(count as usize, fans.len(), "follower count of {user}");
            }
        }
    }
}
