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
use crate::domain::relation::{
    FollowState, PairState, Relation, RelationChange, RequestChange, RequestStep,
};

/// How often a group that lost a deadlock (MySQL: InnoDB rolled it back) runs again before its
/// writes answer "unavailable". Its pairs stay locked meanwhile, so it rereads the same state.
const DEADLOCK_RETRIES: usize = 4;

/// Each request's outcome (where the follow it acted on stands), in the order of the requests.
type Outcomes = Vec<Result<FollowState, ServiceError>>;

/// A group's outcomes, and the rows each request's write changed (none for a refusal, a repeat
/// or a failed commit), in the order of the requests, and the events it committed.
struct Written {
    outcomes: Outcomes,
    changed: Vec<Vec<RelationChange>>,
    events: Vec<FollowEvent>,
}

/// What the group read under its lock: the targets that exist (and whether each is locked),
/// every stored row and every pending request between the pairs' users.
struct Snapshot {
    users: HashMap<UserId, bool>,
    rows: HashMap<(UserId, UserId), Relation>,
    requests: HashSet<(UserId, UserId)>,
}

/// What one request of the group writes, and where its follow stands afterwards.
struct Planned {
    rows: Vec<RelationChange>,
    requests: Vec<RequestChange>,
    state: FollowState,
}

impl Planned {
    fn writes_nothing(&self) -> bool {
        self.rows.is_empty() && self.requests.is_empty()
    }
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
    ) -> Result<FollowState, ServiceError> {
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
        let plans: Vec<Result<Planned, ServiceError>> = requests
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let stamp = Stamp { row: store.cut_time(distinct(at, i)), request: at };
                plan(r, &snapshot, stamp)
            })
            .collect();
        let planned = || plans.iter().flatten();
        let changes: Vec<RelationChange> = planned().flat_map(|p| p.rows.iter().copied()).collect();
        let request_changes: Vec<RequestChange> =
            planned().flat_map(|p| p.requests.iter().copied()).collect();
        let unmarked = *marks == Marks::Unset;
        let committed = match changes.is_empty() && request_changes.is_empty() {
            true => Ok(Vec::new()),
            false => self.commit_changes(tx, &changes, &request_changes, unmarked).await,
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
                        (Ok(planned), Ok(())) => planned.rows.clone(),
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
        let requests = stored.requests.into_iter().collect();
        let rows = stored.relations.into_iter().map(|s| ((s.user, s.target), s.relation)).collect();
        Ok(Snapshot { users, rows, requests })
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

    /// Writes the rows, the requests and the events they announce (the outbox), and commits
    /// them together; with `unmarked` (the cache could not be marked), also lists the users for
    /// repair (`repair.rs`), so that no instance keeps serving their old entries.
    async fn commit_changes(
        &self,
        mut tx: PairTx<'_>,
        changes: &[RelationChange],
        request_changes: &[RequestChange],
        unmarked: bool,
    ) -> Result<Vec<FollowEvent>, ServiceError> {
        let rows = changes.iter().map(|c| (c.user, c.target));
        let requests = request_changes.iter().map(|c| (c.requester, c.target));
        self.round_trip(tx.lock_counters(&users_of(rows.clone().chain(requests)))).await?;
        if !changes.is_empty() {
            self.round_trip(tx.set_relations(changes)).await?;
        }
        if let Some(first) = request_changes.first() {
            let pairs = |opened: bool| -> Vec<(UserId, UserId)> {
                let of_kind = request_changes.iter().filter(|c| opened == c.is_opening());
                of_kind.map(|c| (c.requester, c.target)).collect()
            };
            // Every request of a group carries the group's time (`Stamp`).
            self.round_trip(tx.set_requests(&pairs(true), &pairs(false), first.at)).await?;
        }
        if unmarked {
            let at = now().timestamp_micros();
            self.round_trip(tx.list_for_repair(&users_of(rows), at)).await?;
        }
        let followed = changes.iter().filter_map(NewEvent::of_change);
        let requested = request_changes.iter().filter_map(NewEvent::of_request);
        let events: Vec<NewEvent> = followed.chain(requested).collect();
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

/// The rows and requests one request changes, given what the group read; an error refuses
/// this request alone.
fn plan(request: &Request, snapshot: &Snapshot, at: Stamp) -> Result<Planned, ServiceError> {
    let Request { action, viewer, target } = *request;
    let Some(&target_locked) = snapshot.users.get(&target) else {
        return Err(ServiceError::UnknownUser(target));
    };
    let stored = |from, to| snapshot.rows.get(&(from, to)).copied().unwrap_or(Relation::None);
    let state = PairState {
        forward: stored(viewer, target),
        backward: stored(target, viewer),
        forward_requested: snapshot.requests.contains(&(viewer, target)),
        backward_requested: snapshot.requests.contains(&(target, viewer)),
        target_locked,
    };
    let rules::Plan { writes, state } = rules::plan(action, state)?;
    let mut planned = Planned { rows: Vec::new(), requests: Vec::new(), state };
    for write in writes {
        match change(write, viewer, target, at) {
            Change::Row(row) => planned.rows.push(row),
            Change::Request(request) => planned.requests.push(request),
        }
    }
    Ok(planned)
}

/// A request's answer once the group's commit is known: a refusal or a repeat stands whatever
/// happened to the commit; a write shares the commit's fate.
fn verdict(
    plan: Result<Planned, ServiceError>,
    committed: &Result<(), ServiceError>,
) -> Result<FollowState, ServiceError> {
    match (plan?, committed) {
        (planned, Err(err)) if !planned.writes_nothing() => Err(err.clone()),
        (planned, _) => Ok(planned.state),
    }
}

/// The time of the group's `i`-th write: one microsecond apart, so that the writes of one
/// group keep distinct list positions (and cached zset scores) instead of one tie.
fn distinct(at: DateTime<Utc>, i: usize) -> DateTime<Utc> {
    at + chrono::Duration::microseconds(i as i64)
}

/// The users of `pairs`, sorted and each once: the order every lock of them is taken in.
fn users_of(pairs: impl Iterator<Item = (UserId, UserId)>) -> Vec<UserId> {
    let mut users: Vec<UserId> = pairs.flat_map(|(a, b)| [a, b]).collect();
    users.sort_unstable();
    users.dedup();
    users
}

/// The same failure for every request of the group.
fn failed(requests: &[Request], err: ServiceError) -> Outcomes {
    tracing::info!(error = %err, writes = requests.len(), "write group failed");
    vec![Err(err); requests.len()]
}

/// A planned write as the row or request it changes.
enum Change {
    Row(RelationChange),
    Request(RequestChange),
}

/// The times a request's writes carry. A row's is its own, one microsecond after the group's
/// previous row, cut to the backend's step (MySQL's legacy `DATETIME` keeps seconds). The
/// service's own tables keep microseconds on every backend, so a request keeps the group's
/// time whole: requests made within one second keep their order on MySQL too.
#[derive(Clone, Copy)]
struct Stamp {
    row: DateTime<Utc>,
    request: DateTime<Utc>,
}

fn change(write: Write, viewer: UserId, target: UserId, stamp: Stamp) -> Change {
    let at = stamp.row;
    let request =
        |requester, target, step| RequestChange { requester, target, step, at: stamp.request };
    match write {
        Write::Forward { from, to } => {
            Change::Row(RelationChange { user: viewer, target, from, to, at })
        }
        Write::Backward { from, to } => {
            Change::Row(RelationChange { user: target, target: viewer, from, to, at })
        }
        Write::OpenRequest => Change::Request(request(viewer, target, RequestStep::Opened)),
        Write::EndRequest { forward: true, step } => Change::Request(request(viewer, target, step)),
        Write::EndRequest { forward: false, step } => {
            Change::Request(request(target, viewer, step))
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

    fn planned(rows: Vec<RelationChange>) -> Result<Planned, ServiceError> {
        Ok(Planned { rows, requests: Vec::new(), state: FollowState::Following })
    }

    #[test]
    fn a_failed_commit_fails_the_writes_and_leaves_refusals_and_repeats_alone() {
        let failed = Err(ServiceError::Unavailable(Arc::new(DbError::timed_out())));
        let write = verdict(planned(vec![a_write()]), &failed);
        assert!(matches!(write, Err(ServiceError::Unavailable(_))));
        let repeat = verdict(planned(vec![]), &failed);
        assert_eq!(repeat.ok(), Some(FollowState::Following), "a repeat was already in effect");
        let refused = verdict(Err(ServiceError::BlockedByTarget), &failed);
        assert!(matches!(refused, Err(ServiceError::BlockedByTarget)));
        assert!(verdict(planned(vec![a_write()]), &Ok(())).is_ok());
    }

    #[test]
    fn the_writes_of_one_group_get_distinct_times_in_order() {
        let at = now();
        let times: Vec<_> = (0..64).map(|i| distinct(at, i)).collect();
        assert!(times.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(times[0], at);
    }
}
