//! The Redis cache of followings, followers and counts, in the legacy app's keys. Redis is a
//! cache: the database is the truth, a Redis fault never fails a request, and no stale entry
//! outlives an outage. docs/cache.md explains the protocol and why it is race-free. The cache
//! runs on one Redis, on a Redis Cluster, and with the count zsets on a Redis of their own
//! (`link.rs`); every step names one slot at a time, so all three behave alike. Beside it,
//! `profiles.rs` keeps user profiles in process memory for a short time.

mod documents;
pub(crate) mod keys;
mod limits;
mod link;
mod profiles;
mod reads;
mod repair;
mod scripts;
mod slots;
mod writes;

#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::{RedisError, Value};

use crate::domain::ids::UserId;
use link::{place, Link, Unit};

pub(crate) use limits::Admission;
pub(crate) use profiles::ProfileCache;
pub(crate) use reads::{FillTicket, Lookup};
pub(crate) use writes::PairWrite;

/// How long a write's mark counts as alive: longer than the time from a mark to its cache
/// update takes (milliseconds, seconds at worst). Past it, a mark still pending belongs to a
/// writer that died, and readers have the user's cached data forgotten. A live writer that
/// outlasts it only costs that user's keys (its own update then applies to nothing, and a fill
/// taken meanwhile fails its generation check), so this bounds how long a crash can leave an
/// entry stale: at most this long after the crash.
pub(crate) const MARK_LIFETIME_MS: u64 = 5_000;

/// How long a generation key lives: far longer than any fill takes, so a fill can never see one
/// expire and come back to the value it read.
const GENERATION_TTL_SECS: u64 = 24 * 3600;

/// Why a cache call did not complete. The service never shows these to a client: it falls back
/// to the database and, for writes, schedules the affected users' keys to be forgotten.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CacheError {
    #[error("redis: {0}")]
    Redis(#[from] RedisError),
    #[error("redis pool: {0}")]
    Pool(#[from] bb8::RunError<RedisError>),
    #[error("unexpected redis reply: {0}")]
    Reply(#[from] redis::ParsingError),
    #[error("redis did not answer in time")]
    Timeout,
    #[error("a cache write reached {0} replicas, fewer than asked")]
    NotReplicated(u32),
    #[error("redis is marked down after a recent failure")]
    Down,
    #[error("invalid redis url: {0}")]
    Url(String),
}

/// Timing settings for the cache.
#[derive(Debug, Clone)]
pub(crate) struct CacheOptions {
    /// Bound on taking a connection and on each command or pipeline.
    pub(crate) timeout: Duration,
    /// How long Redis is left alone after a failure before requests try it again.
    pub(crate) cool_down: Duration,
    /// The legacy TTL of a filled list, before the random spread.
    pub(crate) list_ttl: Duration,
    /// Upper bound of the random extra TTL, so that fills made together do not expire together.
    pub(crate) list_ttl_spread: Duration,
    /// Lists longer than this are served from the database and not cached.
    pub(crate) max_cached_list: usize,
    /// Replicas a cache write must reach on a cluster or under Sentinel before it counts as
    /// done, so that a failover cannot lose it (0: do not wait).
    pub(crate) wait_replicas: u32,
    /// How long a write waits for them; past it, the write counts as failed.
    pub(crate) wait_timeout: Duration,
}

impl Default for CacheOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_millis(500),
            cool_down: Duration::from_secs(1),
            list_ttl: Duration::from_secs(30 * 60),
            list_ttl_spread: Duration::from_secs(600),
            max_cached_list: 20_000,
            wait_replicas: 1,
            wait_timeout: Duration::from_millis(50),
        }
    }
}

/// Where the cache lives (SPEC §13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CacheTarget {
    /// The per-user keys and the service's own shared keys.
    pub(crate) main: Deployment,
    /// The two count zsets, when they live on a Redis of their own: a plain URL or
    /// `redis+sentinel://host:port,…/master-name`.
    pub(crate) counts: Option<String>,
}

/// One Redis deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Deployment {
    /// `redis://…` (or `redis+sentinel://…`).
    Url(String),
    /// Some nodes of a Redis Cluster, `host:port,host:port`.
    Cluster(String),
}

/// A handle to the cache; cheap to clone.
#[derive(Clone)]
pub(crate) struct Cache {
    inner: Arc<Inner>,
}

struct Inner {
    /// Where the per-user keys live, and everything else but the counts.
    main: Link,
    /// Where the count zsets live when they live apart.
    counts: Option<Link>,
    options: CacheOptions,
    /// Users whose cached data may be stale because a write could not update it. While any are
    /// listed, reads bypass the cache; the repair task empties it once Redis answers.
    dirty: Mutex<HashSet<UserId>>,
    /// Until when Redis is left alone after a failure.
    down_until: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache").field("options", &self.inner.options).finish_non_exhaustive()
    }
}

impl Cache {
    /// The cache at `target`; connections are made on first use, so the service starts (and
    /// serves from the database) while Redis is away.
    pub(crate) fn connect(target: &CacheTarget, options: CacheOptions) -> Result<Self, CacheError> {
        let main = match &target.main {
            Deployment::Url(url) => Link::open(url, &options)?,
            Deployment::Cluster(nodes) => Link::cluster(nodes, &options)?,
        };
        let counts = target.counts.as_deref().map(|url| Link::open(url, &options)).transpose()?;
        let inner = Inner {
            main,
            counts,
            options,
            dirty: Mutex::new(HashSet::new()),
            down_until: Mutex::new(None),
        };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// Whether reads may use the cache now: Redis is not cooling down after a failure and no
    /// user's cached data is known to be stale.
    pub(crate) fn readable(&self) -> bool {
        !self.cooling_down() && lock(&self.inner.dirty).is_empty()
    }

    /// Answers when every Redis of the cache does, for readiness reports.
    pub(crate) async fn ping(&self) -> Result<(), CacheError> {
        let mut units = vec![Unit::new("ping")];
        units[0].add(redis::cmd("PING"));
        if self.inner.counts.is_some() {
            let mut counts = Unit::new(keys::FOLLOWING_COUNTS);
            counts.add(redis::cmd("PING"));
            units.push(counts);
        }
        self.exchange(units).await.map(drop)
    }

    /// Sends the units (each to the Redis its key lives on, all at once), bounded by the
    /// timeout; each unit's replies, in order. A failure starts the cool-down, so that an outage
    /// costs later requests nothing.
    async fn exchange(&self, units: Vec<Unit>) -> Result<Vec<Vec<Value>>, CacheError> {
        let attempt = async {
            match &self.inner.counts {
                None => self.inner.main.send(&units).await,
                Some(counts) => {
                    let (mut main, mut apart) = (Share::default(), Share::default());
                    for (i, unit) in units.into_iter().enumerate() {
                        let share =
                            if keys::is_count_key(&unit.key) { &mut apart } else { &mut main };
                        share.positions.push(i);
                        share.units.push(unit);
                    }
                    let (main_replies, count_replies) = tokio::try_join!(
                        self.inner.main.send(&main.units),
                        counts.send(&apart.units)
                    )?;
                    let len = main.positions.len() + apart.positions.len();
                    Ok(place(
                        len,
                        [(main.positions, main_replies), (apart.positions, count_replies)],
                    ))
                }
            }
        };
        let result = match tokio::time::timeout(self.inner.options.timeout, attempt).await {
            Ok(result) => result,
            Err(_) => Err(CacheError::Timeout),
        };
        if let Err(err) = &result {
            tracing::warn!(error = %err, "redis call failed; serving from the database");
            *lock(&self.inner.down_until) = Some(Instant::now() + self.inner.options.cool_down);
            self.inner.main.reset().await;
            if let Some(counts) = &self.inner.counts {
                counts.reset().await;
            }
        }
        result
    }

    /// Sends one unit of one command; its reply.
    async fn ask<T: redis::FromRedisValue>(&self, unit: Unit) -> Result<T, CacheError> {
        let reply = self.exchange(vec![unit]).await?.into_iter().flatten().next();
        decode(reply)
    }

    /// Open and idle connections of the main Redis's pool, for the metrics.
    pub(crate) fn pool_usage(&self) -> (u32, u32) {
        self.inner.main.pool_usage()
    }

    fn cooling_down(&self) -> bool {
        lock(&self.inner.down_until).is_some_and(|until| Instant::now() < until)
    }

    fn options(&self) -> &CacheOptions {
        &self.inner.options
    }
}

/// A reply as `T`; a missing one as nil.
fn decode<T: redis::FromRedisValue>(value: Option<Value>) -> Result<T, CacheError> {
    Ok(redis::from_redis_value(value.unwrap_or(Value::Nil))?)
}

/// The units bound for one Redis, with their places among all the units.
#[derive(Default)]
struct Share {
    positions: Vec<usize>,
    units: Vec<Unit>,
}

/// Locks a mutex, recovering from a panic in another holder (the data stays valid: sets and
/// instants have no invariant a panic could break).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
