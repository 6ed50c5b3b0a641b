//! Every Redis key the service touches, in one place. The legacy app's keys keep its exact names;
//! the `fg:` keys are this service's own (docs/cache.md lists them all).
//!
//! The legacy names carry no braces (`user:42:following`), so they are not Redis Cluster hash
//! tags: one user's legacy keys sit in different slots, and the two count zsets are one key each.
//! So the service guards each cached *item* (a user's list, or a user's member of a count zset)
//! with keys of its own that sit in the slot of the item's legacy key (`slots.rs`): every script
//! and pipeline then names one slot only, on one Redis as on a cluster.

use super::slots;
use crate::domain::ids::UserId;
use crate::domain::page::Side;

/// Legacy: zset of the users `id` follows; member = their id, score = follow time (seconds).
pub(crate) fn following(id: UserId) -> String {
    format!("user:{id}:following")
}

/// Legacy: zset of the users who follow `id`, in the same form.
pub(crate) fn fans(id: UserId) -> String {
    format!("user:{id}:fans")
}

/// The list key of one side.
pub(crate) fn list(side: Side, id: UserId) -> String {
    match side {
        Side::Following => following(id),
        Side::Followers => fans(id),
    }
}

/// Legacy: a user's relations as the legacy app cached them; only ever deleted here, as the
/// legacy app does on every follow and unfollow.
pub(crate) fn relationship(id: UserId) -> String {
    format!("user:{id}:relationship")
}

/// Legacy: zset of following counts; member = user id, score = count.
pub(crate) const FOLLOWING_COUNTS: &str = "count:user:followings";

/// Legacy: zset of follower counts; member = user id, score = count.
pub(crate) const FOLLOWER_COUNTS: &str = "count:user:followers";

/// The count zset of one side.
pub(crate) fn counts(side: Side) -> &'static str {
    match side {
        Side::Following => FOLLOWING_COUNTS,
        Side::Followers => FOLLOWER_COUNTS,
    }
}

/// Whether `key` is one of the count zsets (which may live on a Redis of their own).
pub(crate) fn is_count_key(key: &str) -> bool {
    key == FOLLOWING_COUNTS || key == FOLLOWER_COUNTS
}

/// One cached item the protocol keeps exact: a user's list of one side, or a user's member of
/// the count zset of one side. Each has a guard of three keys in the slot of its legacy key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Item {
    List(Side, UserId),
    Count(Side, UserId),
}

impl Item {
    /// The legacy key the item lives in.
    pub(crate) fn key(&self) -> String {
        match *self {
            Item::List(side, id) => list(side, id),
            Item::Count(side, _) => counts(side).to_owned(),
        }
    }

    /// The user whose data the item holds.
    pub(crate) fn owner(&self) -> UserId {
        match *self {
            Item::List(_, id) | Item::Count(_, id) => id,
        }
    }

    /// Every item of `user`: both lists and both counts.
    pub(crate) fn all_of(user: UserId) -> [Item; 4] {
        [
            Item::List(Side::Following, user),
            Item::List(Side::Followers, user),
            Item::Count(Side::Following, user),
            Item::Count(Side::Followers, user),
        ]
    }

    /// The item's legacy key and its guard beside it (built from the key, so the key is built
    /// once).
    pub(crate) fn keys(&self) -> (String, Guard) {
        let key = self.key();
        let tag = slots::tag_for(slots::slot(&key));
        // Built by concatenation rather than `format!`: a follow builds sixteen guards.
        let mut base = ["fg:{", tag, "}:", &key].concat();
        if let Item::Count(_, id) = *self {
            base.push(':');
            base.push_str(&id.get().to_string());
        }
        let with = |suffix: &str| [base.as_str(), suffix].concat();
        let guard =
            Guard { generation: with(":gen"), pending: with(":pending"), live: with(":live") };
        (key, guard)
    }
}

/// An item's own keys, named `fg:{<tag of the legacy key's slot>}:<legacy key>[:<user>]:…`, so
/// that they hash to the slot of the legacy key they guard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Guard {
    /// Bumped after every write that touches the item, so that a fill that read the database
    /// before the write cannot store what it read.
    pub(crate) generation: String,
    /// How many writes touching the item are between their start and their cache update; while
    /// it is above zero no fill of the item may store.
    pub(crate) pending: String,
    /// Present while a write that marked the item is alive: every mark sets it to expire after
    /// [`super::MARK_LIFETIME_MS`]. A pending count without it is a mark whose writer died
    /// between its commit and its cache update: the item may be stale and is forgotten.
    pub(crate) live: String,
}

/// Own: a client's place in the shared rate limit (its theoretical arrival time, in
/// microseconds), by the client's name (`v42`, `a10.0.0.1`); one key, so one slot.
pub(crate) fn rate(client: &str) -> String {
    format!("fg:rl:{{{client}}}")
}

/// Own: a persisted GraphQL document, by the hex SHA-256 of its text (APQ).
pub(crate) fn document(hash: &str) -> String {
    format!("fg:apq:{hash}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_items_guard_sits_in_the_slot_of_its_legacy_key() {
        let id = UserId::new(42).unwrap();
        for item in Item::all_of(id) {
            let slot = slots::slot(&item.key());
            let Guard { generation, pending, live } = item.keys().1;
            for guard in [generation, pending, live] {
                assert_eq!(slots::slot(&guard), slot, "{guard} beside {}", item.key());
            }
        }
        assert_eq!(Item::List(Side::Following, id).key(), "user:42:following");
        let one = UserId::new(1).unwrap();
        let named_in_bench_run = "fg:{f2n}:user:1:following:gen";
        assert_eq!(Item::List(Side::Following, one).keys().1.generation, named_in_bench_run);
        let other = UserId::new(43).unwrap();
        let count = |user| Item::Count(Side::Following, user).keys().1.pending;
        assert_ne!(count(id), count(other), "each user's count has a guard of its own");
    }
}
