//! Every Redis key the service touches, in one place. The first six are the legacy app's and
//! keep its exact names; the `fg:` keys are this service's own (see docs/cache.md).
//!
//! The legacy names carry no braces (`user:42:following`), so they are not Redis Cluster hash
//! tags: one user's legacy keys may live in different slots. Only the service's own per-user
//! keys are tagged (`fg:{42}:gen`).

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

/// Own: bumped after every write that touches `id`, so that a fill that read the database
/// before the write cannot store what it read.
pub(crate) fn generation(id: UserId) -> String {
    format!("fg:{{{id}}}:gen")
}

/// Own: how many writes touching `id` are between their start and their cache update; while
/// it is above zero no fill of `id`'s data may store.
pub(crate) fn pending(id: UserId) -> String {
    format!("fg:{{{id}}}:pending")
}

/// Own: present while a write that marked `id` is alive: every mark sets it to expire after
/// [`crate::cache::MARK_LIFETIME_MS`]. A pending count without it is a mark whose writer died
/// between its mark and its cache update (a crash after the commit): the user's cached data
/// may be stale and is forgotten.
pub(crate) fn live(id: UserId) -> String {
    format!("fg:{{{id}}}:live")
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
