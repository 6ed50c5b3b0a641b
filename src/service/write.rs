//! Applying a group of actions: hold their pairs, read, plan, write, commit, then bring the
//! cache in line before letting the pairs go.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use tracing::instrument;

use super::group::Request;
use super::rules::{self, Action, Write};
use super::{Service, ServiceError};
use crate::cache::PairWrite;
use crate::db::{PairLock, PairTx};
use crate::domain::event::{FollowEvent, NewEvent};
use crate::domain::ids::UserId;
use crate::domain::relation::{PairState, Relation, RelationChange};

/// How often a group that lost a deadlock (MySQL: InnoDB rolled it back) runs again before its
/// writes answer "unavailable". Its pairs stay locked meanwhile, so it rereads the same state.
const DEADLOCK_RETRIES: usize = 4;

/// Each request's outcome, in the order of the requests.
type Outcomes = Vec<Result<(), ServiceError>>;

/// A group's outcomes, and the rows each request's write changed (none for a refusal, a repeat
/// or a failed commit), in the order of the requests, and the events it committed.
struct Written {
    outcomes: Outcomes,
    changed: Vec<Vec<RelationChange>>,
    events: Vec<FollowEvent>,
}

/// What the group read under its lock: the targets that exist and every stored row between the
/// pairs' users.
struct Snapshot {
    users: HashSet<UserId>,
    rows: HashMap<(UserId, UserId), Relation>,
}

/// Whether the group's pairs are marked in the cache: not yet tried, or tried (marked, or put on
/// the dirty list when Redis did not answer).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Marks {
    Untried,
    Set,
    Unset,
}

impl Service {
    /// Applies `action` by `viewer` on `target` under the SPEC §4 rules. Every action is
    /// idempotent: repeating one that is already in effect writes nothing and succeeds.
    ///
    /// Concurrent actions are grouped into one transaction (`group.rs`); this one is answered
    /// once its group has committed and the cache has caught up.
    pub(crate) async fn apply(
        &self,
        action: Action,
        viewer: UserId,
        target: UserId,
    ) -> Result<(), ServiceError> {
        if viewer == target {
            return Err(ServiceError::SelfRelation(action));
        }
        self.shared.writes.submit(self, Request { action, viewer, target }).await
    }

    /// Holds the group's pairs for the whole write, so that writes to one pair reach the
    /// database and the cache in the same order. The requests name distinct pairs.
    #[instrument(skip_all, fields(writes = requests.len()))]
    pub(super) async fn write_group(&self, requests: &[Request]) -> Outcomes {
        let pairs: Vec<(UserId, UserId)> = requests.iter().map(|r| (r.viewer, r.target)).collect();
        let mut lock = match self.round_trip(self.shared.store.lock_pairs(&pairs)).await {
            Ok(lock) => lock,
            Err(err) => return failed(requests, err),
        };
        let mut marks = Marks::Untried;
        let mut written = self.write_locked(&mut lock, requests, &mut marks).await;
        for _ in 0..DEADLOCK_RETRIES {
            match &written {
                Err(err) if err.is_conflict() => {
                    tracing::info!(writes = requests.len(), "write group lost a deadlock; again");
                    written = self.write_locked(&mut lock, requests, &mut marks).await;
                }
                _ => break,
            }
        }
        let unchanged = vec![Vec::new(); requests.len()];
        let changed = written.as_ref().map_or(&unchanged, |w| &w.changed);
        let uncounted = self.finish_cache(&pairs, changed, marks).await;
        self.meter.database();
        lock.release().await;
        match written {
            Ok(Written { outcomes, events, .. }) => {
                self.announce(events).await;
                self.fill_counts_of(&uncounted).await;
                outcomes
            }
            Err(err) => failed(requests, err),
        }
    }

    /// Puts the counts of users that a write found missing from the legacy count zsets there,
    /// by the guarded fill of any read, before the writes answer: a legacy reader then sees
    /// the new counts at once, and the legacy app's own `ZINCRBY`s start from the true count.
    async fn fill_counts_of(&self, users: &[UserId]) {
        if users.is_empty() || self.readable_cache().is_none() {
            return;
        }
        if let Err(err) = self.counts(users).await {
            tracing::debug!(error = %err, "counts not filled after a write");
        }
    }

    async fn write_locked(
        &self,
        lock: &mut PairLock,
        requests: &[Request],
        marks: &mut Marks,
    ) -> Result<Written, ServiceError> {
        let mut tx = self.round_trip(lock.begin()).await?;
        let (snapshot, ()) =
            tokio::join!(self.read_snapshot(&mut tx, requests), self.mark_cache(requests, marks));
        let snapshot = snapshot?;
        let at = now();
        let store = &self.shared.store;
        let plans: Vec<Result<Vec<RelationChange>, ServiceError>> = requests
            .iter()
            .enumerate()
            .map(|(i, r)| plan(r, &snapshot, store.cut_time(distinct(at, i))))
            .collect();
        let changes: Vec<RelationChange> =
            plans.iter().flatten().flat_map(|changes| changes.iter().copied()).collect();
        let unmarked = *marks == Marks::Unset;
        let committed = match changes.is_empty() {
            true => Ok(Vec::new()),
            false => self.commit_changes(tx, &changes, unmarked).await,
        };
        let (committed, events) = match committed {
            Ok(events) => (Ok(()), events),
            Err(err) => (Err(err), Vec::new()),
        };
        match committed {
            Err(err) if err.is_conflict() => Err(err),
            committed => {
                let changed = plans
                    .iter()
                    .map(|plan| match (plan, &committed) {
                        (Ok(changes), Ok(())) => changes.clone(),
                        _ => Vec::new(),
                    })
                    .collect();
                let outcomes = plans.into_iter().map(|plan| verdict(plan, &committed)).collect();
                Ok(Written { outcomes, changed, events })
            }
        }
    }

    async fn read_snapshot(
        &self,
        tx: &mut PairTx<'_>,
        requests: &[Request],
    ) -> Result<Snapshot, ServiceError> {
        let targets: Vec<UserId> = requests.iter().map(|r| r.target).collect();
        let users = self.round_trip(tx.existing_users(&targets)).await?.into_iter().collect();
        let rows: Vec<(UserId, UserId)> =
            requests.iter().flat_map(|r| [(r.viewer, r.target), (r.target, r.viewer)]).collect();
        let stored = self.round_trip(tx.relations(&rows)).await?;
        let rows = stored.into_iter().map(|s| ((s.user, s.target), s.relation)).collect();
        Ok(Snapshot { users, rows })
    }

    /// Marks every pair of the group in the cache, once per group, while the group reads: no
    /// fill of their users may store until [`Service::finish_cache`]. Marking before knowing
    /// which pairs write costs a repeat's pair a mark and its lifting, and takes the mark's
    /// Redis round trip off the time the pairs are held.
    async fn mark_cache(&self, requests: &[Request], marks: &mut Marks) {
        let Some(cache) = self.shared.cache.as_ref().filter(|_| *marks == Marks::Untried) else {
            return;
        };
        self.meter.redis();
        let pairs: Vec<(UserId, UserId)> = requests.iter().map(|r| (r.viewer, r.target)).collect();
        *marks = match cache.begin_write(&pairs).await {
            true => Marks::Set,
            false => Marks::Unset,
        };
    }

    /// Writes the rows and the events they announce (the outbox), and commits them together;
    /// with `unmarked` (the cache could not be marked), also lists the users for repair
    /// (`repair.rs`), so that no instance keeps serving their old entries.
    async fn commit_changes(
        &self,
        mut tx: PairTx<'_>,
        changes: &[RelationChange],
        unmarked: bool,
    ) -> Result<Vec<FollowEvent>, ServiceError> {
        self.round_trip(tx.set_relations(changes)).await?;
        if unmarked {
            let mut users: Vec<UserId> = changes.iter().flat_map(|c| [c.user, c.target]).collect();
            users.sort_unstable();
            users.dedup();
            let at = now().timestamp_micros();
            self.round_trip(tx.list_for_repair(&users, at)).await?;
        }
        let events: Vec<NewEvent> = changes.iter().filter_map(NewEvent::of_change).collect();
        let recorded = match events.is_empty() {
            true => Vec::new(),
            false => self.round_trip(tx.record_events(&events)).await?,
        };
        self.round_trip(tx.commit()).await?;
        Ok(recorded)
    }

    /// Applies what committed to the cache and lifts the group's marks, before the pairs are
    /// let go. Returns the users whose changed counts the cache did not hold. Unmarked pairs'
    /// users are on the dirty list: their keys are forgotten, not updated.
    async fn finish_cache(
        &self,
        pairs: &[(UserId, UserId)],
        changed: &[Vec<RelationChange>],
        marks: Marks,
    ) -> Vec<UserId> {
        let Some(cache) = self.shared.cache.as_ref().filter(|_| marks == Marks::Set) else {
            return Vec::new();
        };
        self.meter.redis();
        let writes: Vec<PairWrite<'_>> = pairs
            .iter()
            .zip(changed)
            .map(|(&(a, b), changes)| PairWrite { a, b, changes })
            .collect();
        cache.finish_write(&writes).await
    }
}

/// The rows one request changes, given what the group read; an error refuses this request
/// alone.
fn plan(
    request: &Request,
    snapshot: &Snapshot,
    at: DateTime<Utc>,
) -> Result<Vec<RelationChange>, ServiceError> {
    let Request { action, viewer, target } = *request;
    if !snapshot.users.contains(&target) {
        return Err(ServiceError::UnknownUser(target));
    }
    let stored = |from, to| snapshot.rows.get(&(from, to)).copied().unwrap_or(Relation::None);
    let state = PairState { forward: stored(viewer, target), backward: stored(target, viewer) };
    let changes = rules::plan(action, state)?;
    Ok(changes.into_iter().map(|write| change(write, viewer, target, at)).collect())
}

/// A request's answer once the group's commit is known: a refusal or a repeat stands whatever
/// happened to the commit; a write shares the commit's fate.
fn verdict(
    plan: Result<Vec<RelationChange>, ServiceError>,
    committed: &Result<(), ServiceError>,
) -> Result<(), ServiceError> {
    match (plan?, committed) {
        (changes, Err(err)) if !changes.is_empty() => Err(err.clone()),
        _ => Ok(()),
    }
}

/// The time of the group's `i`-th write: one microsecond apart, so that the writes of one
/// group keep distinct list positions (and cached zset scores) instead of one tie.
fn distinct(at: DateTime<Utc>, i: usize) -> DateTime<Utc> {
    at + chrono::Duration::microseconds(i as i64)
}

/// The same failure for every request of the group.
fn failed(requests: &[Request], err: ServiceError) -> Outcomes {
    tracing::info!(error = %err, writes = requests.len(), "write group failed");
    vec![Err(err); requests.len()]
}

fn change(write: Write, viewer: UserId, target: UserId, at: DateTime<Utc>) -> RelationChange {
    match write {
        Write::Forward { from, to } => RelationChange { user: viewer, target, from, to, at },
        Write::Backward { from, to } => {
            RelationChange { user: target, target: viewer, from, to, at }
        }
    }
}

/// The time written to `update_time`, cut to the microseconds that every backend stores, so
/// that what the service returns or caches equals what a later read gets back.
fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::db::DbError;

    fn a_write() -> RelationChange {
        let id = |n| UserId::new(n).unwrap();
        let (from, to) = (Relation::None, Relation::Follow);
        RelationChange { user: id(1), target: id(2), from, to, at: now() }
    }

    #[test]
    fn a_failed_commit_fails_the_writes_and_leaves_refusals_and_repeats_alone() {
        let failed = Err(ServiceError::Unavailable(Arc::new(DbError::timed_out())));
        let write = verdict(Ok(vec![a_write()]), &failed);
        assert!(matches!(write, Err(ServiceError::Unavailable(_))));
        assert!(verdict(Ok(vec![]), &failed).is_ok(), "a repeat was already in effect");
        let refused = verdict(Err(ServiceError::BlockedByTarget), &failed);
        assert!(matches!(refused, Err(ServiceError::BlockedByTarget)));
        assert!(verdict(Ok(vec![a_write()]), &Ok(())).is_ok());
    }

    #[test]
    fn the_writes_of_one_group_get_distinct_times_in_order() {
        let at = now();
        let times: Vec<_> = (0..64).map(|i| distinct(at, i)).collect();
        assert!(times.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(times[0], at);
    }
}
