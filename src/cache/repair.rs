//! Healing after a fault. Users whose cached data may be stale (a write could not reach Redis,
//! or its writer died after committing) are listed as dirty; reads bypass the cache while any
//! are listed. The service's repair task (`service/repair.rs`) adds every instance's listings
//! from the database, has the dirty users' data forgotten once Redis answers, and lets reads
//! back in.

use super::keys::{self, Item};
use super::link::Unit;
use super::scripts;
use super::{lock, Cache, CacheError, GENERATION_TTL_SECS};
use crate::domain::ids::UserId;

impl Cache {
    /// Adds users whose cached data may be stale: reads bypass the cache until they are cleared.
    pub(crate) fn mark_dirty(&self, users: impl IntoIterator<Item = UserId>) {
        lock(&self.inner.dirty).extend(users);
    }

    /// How many users' cached data is waiting to be forgotten.
    pub(crate) fn dirty_count(&self) -> usize {
        lock(&self.inner.dirty).len()
    }

    /// The users waiting to be forgotten.
    pub(crate) fn dirty_users(&self) -> Vec<UserId> {
        lock(&self.inner.dirty).iter().copied().collect()
    }

    /// Forgets everything cached about `users` (and any fill in flight for them): one script
    /// per item, and the legacy relationship caches, all sent at once.
    pub(crate) async fn forget(&self, users: &[UserId]) -> Result<(), CacheError> {
        let mut units = Vec::with_capacity(users.len() * 5);
        for &user in users {
            for item in Item::all_of(user) {
                let (key, guard) = item.keys();
                let member = match item {
                    Item::List(..) => String::new(),
                    Item::Count(..) => user.to_string(),
                };
                let mut unit = Unit::write(key.as_str());
                let keys = [key.as_str(), &guard.generation, &guard.pending, &guard.live];
                unit.run(&scripts::FORGET, keys).arg(GENERATION_TTL_SECS).arg(member);
                units.push(unit);
            }
            let relationship = keys::relationship(user);
            let mut unit = Unit::write(relationship.as_str());
            unit.add(redis::Cmd::del(&relationship));
            units.push(unit);
        }
        self.exchange(units).await.map(drop)
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
