//! Healing after a fault: users whose write could not reach Redis are listed as dirty; reads
//! bypass the cache while any are listed, and the healer forgets their cached data as soon as
//! Redis answers, then lets reads back in.

use std::sync::Weak;
use std::time::Duration;

use bb8_redis::redis;

use super::{keys, lock, scripts, Cache, CacheError, Inner, GENERATION_TTL_SECS};
use crate::domain::ids::UserId;

/// How often the healer tries while users are dirty.
const HEAL_INTERVAL: Duration = Duration::from_millis(200);

impl Cache {
    pub(super) fn mark_dirty(&self, users: impl IntoIterator<Item = UserId>) {
        lock(&self.inner.dirty).extend(users);
    }

    /// Open and idle connections, for the metrics.
    pub(crate) fn pool_usage(&self) -> (u32, u32) {
        let state = self.pool().state();
        (state.connections, state.idle_connections)
    }

    /// How many users' cached data is waiting to be forgotten.
    pub(crate) fn dirty_count(&self) -> usize {
        lock(&self.inner.dirty).len()
    }

    /// Forgets the cached data of every dirty user in one pipeline; on success they leave the
    /// list and, if none are left, the cool-down ends.
    pub(crate) async fn heal(&self) -> Result<usize, CacheError> {
        let users: Vec<UserId> = lock(&self.inner.dirty).iter().copied().collect();
        if users.is_empty() {
            return Ok(0);
        }
        let mut pipe = redis::pipe();
        for &user in &users {
            let eval = pipe.cmd("EVAL").arg(scripts::FORGET).arg(8);
            eval.arg(keys::following(user)).arg(keys::fans(user)).arg(keys::relationship(user));
            eval.arg(keys::FOLLOWING_COUNTS).arg(keys::FOLLOWER_COUNTS).arg(keys::generation(user));
            eval.arg(keys::pending(user)).arg(keys::live(user));
            eval.arg(user.get()).arg(GENERATION_TTL_SECS).ignore();
        }
        self.exchange::<()>(&pipe).await?;
        let mut dirty = lock(&self.inner.dirty);
        for user in &users {
            dirty.remove(user);
        }
        if dirty.is_empty() {
            *lock(&self.inner.down_until) = None;
        }
        tracing::info!(users = users.len(), "redis is back; forgot possibly stale entries");
        Ok(users.len())
    }

    /// Starts the background healer; it stops when the last handle to the cache is dropped.
    pub(crate) fn spawn_healer(&self) {
        let weak: Weak<Inner> = std::sync::Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(HEAL_INTERVAL).await;
                let Some(inner) = weak.upgrade() else { return };
                let cache = Cache { inner };
                if cache.dirty_count() > 0 {
                    let _ = cache.heal().await;
                }
            }
        });
    }
}
