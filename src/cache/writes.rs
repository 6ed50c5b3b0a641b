//! The write side of the protocol: mark every item of the pairs' users as written before the
//! commit, apply the committed changes after it. Neither step can fail a write: a step that
//! does not reach Redis puts the users of its pairs on the dirty list, and their cached data is
//! forgotten once Redis answers.

use super::keys::{self, Item};
use super::link::Unit;
use super::reads::score;
use super::scripts;
use super::{Cache, GENERATION_TTL_SECS, MARK_LIFETIME_MS};
use crate::domain::ids::UserId;
use crate::domain::page::Side;
use crate::domain::relation::{Relation, RelationChange};

/// How long a pending count is kept at most: only a safety net, since a count whose writer died
/// is found by readers (its `live` key is gone) and forgotten with the item.
const PENDING_TTL_SECS: u64 = 24 * 3600;

/// One pair's part of a group's write, for [`Cache::finish_write`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct PairWrite<'a> {
    pub(crate) a: UserId,
    pub(crate) b: UserId,
    /// The rows the commit changed between `a` and `b`; none if the commit failed.
    pub(crate) changes: &'a [RelationChange],
}

/// What a pair's write does to one item: `delta` in "the item's owner follows `other`" (or is
/// followed by, for a followers item), at the follow's `score`.
struct Step {
    item: Item,
    delta: i64,
    other: UserId,
    score: f64,
}

impl Cache {
    /// Before the commit: no fill of any item of the pairs' users may store until
    /// [`Cache::finish_write`]. Each item is marked once per pair. Returns whether the marks
    /// were set; if not, the users are on the dirty list instead, and `finish_write` must not
    /// run for these pairs (it would lift marks that another write set).
    #[must_use]
    pub(crate) async fn begin_write(&self, pairs: &[(UserId, UserId)]) -> bool {
        let users = || pairs.iter().flat_map(|&(a, b)| [a, b]);
        if self.cooling_down() {
            self.mark_dirty(users());
            return false;
        }
        let units = users().flat_map(Item::all_of).map(mark).collect();
        if self.exchange(units).await.is_err() {
            self.mark_dirty(users());
            return false;
        }
        true
    }

    /// After the commit (or a failed one, with no changes): for every pair, apply its changes
    /// to the lists and counts that exist, bump each item's generation and lift its mark (one
    /// script per item), and drop the legacy relationship caches.
    ///
    /// Returns the users whose changed counts had no member in the count zsets. The legacy app
    /// reads a missing member as zero and `ZINCRBY`s it from there, so the service fills these
    /// users' counts from the database (a guarded fill) rather than leave them missing.
    pub(crate) async fn finish_write(&self, writes: &[PairWrite<'_>]) -> Vec<UserId> {
        let users = || writes.iter().flat_map(|w| [w.a, w.b]);
        if self.cooling_down() {
            self.mark_dirty(users());
            return Vec::new();
        }
        let mut units: Vec<Unit> = writes.iter().flat_map(steps).map(apply).collect();
        for user in users() {
            let key = keys::relationship(user);
            let mut drop = Unit::write(key.as_str());
            drop.add(redis::Cmd::del(&key));
            units.push(drop);
        }
        match self.exchange(units).await {
            Ok(replies) => {
                let mut uncounted: Vec<UserId> = replies
                    .iter()
                    .flatten()
                    .filter_map(|reply| redis::from_redis_value::<i64>(reply.clone()).ok())
                    .filter_map(|id| UserId::new(id).ok())
                    .collect();
                uncounted.sort_unstable();
                uncounted.dedup();
                uncounted
            }
            Err(_) => {
                self.mark_dirty(users());
                Vec::new()
            }
        }
    }
}

/// The mark of one item.
fn mark(item: Item) -> Unit {
    let (key, guard) = item.keys();
    let mut unit = Unit::write(key);
    let cmd = unit.run(&scripts::MARK, [&guard.pending, &guard.live]);
    cmd.arg(PENDING_TTL_SECS).arg(MARK_LIFETIME_MS);
    unit
}

/// The change and the finish of one item.
fn apply(step: Step) -> Unit {
    let (key, guard) = step.item.keys();
    let keys = [key.as_str(), &guard.generation, &guard.pending, &guard.live];
    let mut unit = Unit::write(key.as_str());
    match step.item {
        Item::List(..) => {
            let cmd = unit.run(&scripts::APPLY_LIST, keys);
            cmd.arg(GENERATION_TTL_SECS).arg(step.delta).arg(step.score).arg(step.other.get());
        }
        Item::Count(_, owner) => {
            let cmd = unit.run(&scripts::APPLY_COUNT, keys);
            cmd.arg(GENERATION_TTL_SECS).arg(step.delta).arg(owner.get());
        }
    }
    unit
}

/// The eight items of a pair and what its write does to each: "a follows b" shows in a's
/// followings, b's followers and both counts; "b follows a" the other way round.
fn steps(write: &PairWrite<'_>) -> [Step; 8] {
    let PairWrite { a, b, changes } = *write;
    let (forward, forward_at) = delta(changes, a);
    let (backward, backward_at) = delta(changes, b);
    let step = |item, delta, other, score| Step { item, delta, other, score };
    [
        step(Item::List(Side::Following, a), forward, b, forward_at),
        step(Item::List(Side::Followers, b), forward, a, forward_at),
        step(Item::Count(Side::Following, a), forward, b, forward_at),
        step(Item::Count(Side::Followers, b), forward, a, forward_at),
        step(Item::List(Side::Following, b), backward, a, backward_at),
        step(Item::List(Side::Followers, a), backward, b, backward_at),
        step(Item::Count(Side::Following, b), backward, a, backward_at),
        step(Item::Count(Side::Followers, a), backward, b, backward_at),
    ]
}

/// The change in "`from` follows the other user" and its follow time, from `from`'s side.
fn delta(changes: &[RelationChange], from: UserId) -> (i64, f64) {
    let followed = |r: Relation| i64::from(r == Relation::Follow);
    changes
        .iter()
        .find(|c| c.user == from)
        .map_or((0, 0.0), |c| (followed(c.to) - followed(c.from), score(c.at)))
}
