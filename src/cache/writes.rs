//! The write side of the protocol: mark the users as written before the commit, apply the
//! committed changes after it. Neither step can fail a write: a step that does not reach Redis
//! puts the users of its pairs on the dirty list, and their cached data is forgotten once Redis
//! answers.

use bb8_redis::redis;

use super::reads::score;
use super::{keys, scripts, Cache, GENERATION_TTL_SECS, MARK_LIFETIME_MS};
use crate::domain::ids::UserId;
use crate::domain::relation::{Relation, RelationChange};

/// How long a pending count is kept at most: only a safety net, since a count whose writer died
/// is found by readers (its `live` key is gone) and forgotten with the user's cached data.
const PENDING_TTL_SECS: u64 = 24 * 3600;

/// One pair's part of a group's write, for [`Cache::finish_write`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct PairWrite<'a> {
    pub(crate) a: UserId,
    pub(crate) b: UserId,
    /// The rows the commit changed between `a` and `b`; none if the commit failed.
    pub(crate) changes: &'a [RelationChange],
}

impl Cache {
    /// Before the commit: no fill of any of the pairs' users' data may store until
    /// [`Cache::finish_write`]. A user in several pairs is marked once per pair. Returns whether
    /// the marks were set; if not, the users are on the dirty list instead, and `finish_write`
    /// must not run for these pairs (it would lift marks that another write set).
    #[must_use]
    pub(crate) async fn begin_write(&self, pairs: &[(UserId, UserId)]) -> bool {
        let users = || pairs.iter().flat_map(|&(a, b)| [a, b]);
        if self.cooling_down() {
            self.mark_dirty(users());
            return false;
        }
        let mut pipe = redis::pipe();
        for user in users() {
            let key = keys::pending(user);
            pipe.incr(&key, 1).ignore().expire(&key, PENDING_TTL_SECS as i64).ignore();
            pipe.cmd("SET").arg(keys::live(user)).arg(1).arg("PX").arg(MARK_LIFETIME_MS).ignore();
        }
        if self.exchange::<()>(&pipe).await.is_err() {
            self.mark_dirty(users());
            return false;
        }
        true
    }

    /// After the commit (or a failed one, with no changes): for every pair, apply its changes
    /// to the lists and counts that exist, drop the legacy relationship caches, bump both
    /// generations and lift the pending marks; atomically, in one script.
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
        let mut pipe = redis::pipe();
        let eval = pipe.cmd("EVAL").arg(scripts::APPLY).arg(2 + 12 * writes.len());
        eval.arg(keys::FOLLOWING_COUNTS).arg(keys::FOLLOWER_COUNTS);
        for &PairWrite { a, b, .. } in writes {
            eval.arg(keys::following(a)).arg(keys::fans(b)).arg(keys::following(b));
            eval.arg(keys::fans(a)).arg(keys::relationship(a)).arg(keys::relationship(b));
            eval.arg(keys::generation(a)).arg(keys::pending(a)).arg(keys::live(a));
            eval.arg(keys::generation(b)).arg(keys::pending(b)).arg(keys::live(b));
        }
        eval.arg(GENERATION_TTL_SECS);
        for &PairWrite { a, b, changes } in writes {
            let (forward, forward_score) = delta(changes, a);
            let (backward, backward_score) = delta(changes, b);
            eval.arg(a.get()).arg(b.get());
            eval.arg(forward).arg(forward_score).arg(backward).arg(backward_score);
        }
        match self.exchange::<(Vec<i64>,)>(&pipe).await {
            Ok((uncounted,)) => {
                let mut uncounted: Vec<UserId> =
                    uncounted.into_iter().filter_map(|id| UserId::new(id).ok()).collect();
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

/// The change in "`from` follows the other user" and its follow time, from `from`'s side.
fn delta(changes: &[RelationChange], from: UserId) -> (i64, f64) {
    let followed = |r: Relation| i64::from(r == Relation::Follow);
    changes
        .iter()
        .find(|c| c.user == from)
        .map_or((0, 0.0), |c| (followed(c.to) - followed(c.from), score(c.at)))
}
