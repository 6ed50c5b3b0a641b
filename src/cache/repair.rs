//! Healing after a fault. Users whose cached data may be stale (a write could not reach Redis,
//! or its writer died after committing) are listed as dirty; reads bypass the cache while any
//! are listed. The service's repair task (`service/repair.rs`) adds every instance's listings
//! from the database, has the dirty users' data forgotten once Redis answers, and lets reads
//! back in.

use bb8_redis::redis;

use super::{keys, lock, scripts, Cache, CacheError, GENERATION_TTL_SECS};
use crate::domain::ids::UserId;

impl Cache {
    /// Adds users whose cached data may be stale: reads bypass the cache until they are cleared.
    pub(crate) fn mark_dirty(&self, users: impl IntoIterator<Item = UserId>) {
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

    /// The users waiting to be forgotten.
    pub(crate) fn dirty_users(&self) -> Vec<UserId> {
        lock(&self.inner.dirty).iter().copied().collect()
    }

    /// Forgets everything cached about `users` (and any fill in flight for them), in one
    /// pipeline.
    pub(crate) async fn forget(&self, users: &[UserId]) -> Result<(), CacheError> {
        let mut pipe = redis::pipe();
        for &user in users {
            let eval = pipe.cmd("EVAL").arg(scripts::FORGET).arg(8);
            eval.arg(keys::following(user)).arg(keys::fans(user)).arg(keys::relationship(user));
            eval.arg(keys::FOLLOWING_COUNTS).arg(keys::FOLLOWER_COUNTS).arg(keys::generation(user));
            eval.arg(keys::pending(user)).arg(keys::live(user));
            eval.arg(user.get()).arg(GENERATION_TTL_SECS).ignore();
        }
        self.exchange::<()>(&pipe).await
    }

    /// Takes forgotten users off the dirty list; once none are left, the cool-down ends.
    pub(crate) fn cleared(&self, users: &[UserId]) {
        let mut dirty = lock(&self.inner.dirty);
        for user in users {
            dirty.remove(user);
        }
        if dirty.is_empty() {
            *lock(&self.inner.down_until) = None;
        }
    }
}
