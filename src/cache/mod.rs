//! The Redis cache of followings, followers and counts, in the legacy app's keys. Redis is a
//! cache: the database is the truth, a Redis fault never fails a request, and no stale entry
//! outlives an outage. docs/cache.md explains the protocol and why it is race-free. Beside it,
//! `profiles.rs` keeps user profiles in process memory for a short time.

mod documents;
pub(crate) mod keys;
mod limits;
mod profiles;
mod reads;
mod repair;
mod scripts;
mod writes;

#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bb8::Pool;
use bb8_redis::redis::{self, RedisError};
use bb8_redis::RedisConnectionManager;

use crate::domain::ids::UserId;

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
}

impl Default for CacheOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_millis(500),
            cool_down: Duration::from_secs(1),
            list_ttl: Duration::from_secs(30 * 60),
            list_ttl_spread: Duration::from_secs(600),
            max_cached_list: 20_000,
        }
    }
}

/// A handle to the cache; cheap to clone.
#[derive(Clone)]
pub(crate) struct Cache {
    inner: Arc<Inner>,
}

struct Inner {
    manager: RedisConnectionManager,
    /// Replaced after a failed exchange: a multiplexed connection does not recover once its
    /// server has gone, and checking each one on checkout would cost a round trip per call.
    pool: std::sync::RwLock<Pool<RedisConnectionManager>>,
    options: CacheOptions,
    /// Users whose cached data may be stale because a write could not update it. While any are
    /// listed, reads bypass the cache; the healer empties it once Redis answers.
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
    /// A pool for `url`; connections are made on first use, so the service starts (and serves
    /// from the database) while Redis is away.
    pub(crate) fn connect(url: &str, options: CacheOptions) -> Result<Self, CacheError> {
        let manager =
            RedisConnectionManager::new(url).map_err(|e| CacheError::Url(e.to_string()))?;
        let pool = std::sync::RwLock::new(new_pool(&manager, &options));
        let inner = Inner {
            manager,
            pool,
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

    /// Answers when Redis does, for readiness reports.
    pub(crate) async fn ping(&self) -> Result<(), CacheError> {
        let mut pipe = redis::pipe();
        pipe.cmd("PING");
        self.exchange::<(String,)>(&pipe).await.map(drop)
    }

    /// Sends one pipeline (one round trip) on a pooled connection, bounded by the timeout. A
    /// failure starts the cool-down, so that an outage costs later requests nothing.
    async fn exchange<T: redis::FromRedisValue>(
        &self,
        pipe: &redis::Pipeline,
    ) -> Result<T, CacheError> {
        let pool = self.pool();
        let attempt = async {
            let mut conn = pool.get().await?;
            Ok::<T, CacheError>(pipe.query_async(&mut *conn).await?)
        };
        let result = match tokio::time::timeout(self.inner.options.timeout, attempt).await {
            Ok(result) => result,
            Err(_) => Err(CacheError::Timeout),
        };
        if let Err(err) = &result {
            tracing::warn!(error = %err, "redis call failed; serving from the database");
            *lock(&self.inner.down_until) = Some(Instant::now() + self.inner.options.cool_down);
            let fresh = new_pool(&self.inner.manager, &self.inner.options);
            *self.inner.pool.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        }
        result
    }

    fn pool(&self) -> Pool<RedisConnectionManager> {
        self.inner.pool.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn cooling_down(&self) -> bool {
        lock(&self.inner.down_until).is_some_and(|until| Instant::now() < until)
    }

    fn options(&self) -> &CacheOptions {
        &self.inner.options
    }
}

/// A pool whose connections are made on first use and not pinged on checkout.
fn new_pool(
    manager: &RedisConnectionManager,
    options: &CacheOptions,
) -> Pool<RedisConnectionManager> {
    Pool::builder()
        .max_size(32)
        .connection_timeout(options.timeout)
        .test_on_check_out(false)
        .build_unchecked(manager.clone())
}

/// Locks a mutex, recovering from a panic in another holder (the data stays valid: sets and
/// instants have no invariant a panic could break).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
