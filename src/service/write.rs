//! Applying an action: hold the pair, check, plan, write, commit, then bring the cache in line
//! before letting the pair go.

use chrono::{DateTime, Utc};
use tracing::instrument;

use super::rules::{self, Action, Write};
use super::{Service, ServiceError};
use crate::db::{PairLock, PairTx};
use crate::domain::ids::UserId;
use crate::domain::relation::RelationChange;

impl Service {
    /// Applies `action` by `viewer` on `target` under the SPEC §4 rules. Every action is
    /// idempotent: repeating one that is already in effect writes nothing and succeeds.
    ///
    /// The work runs in its own task: once started it finishes (commit and cache update) even
    /// if the client disconnects and the request's future is dropped.
    pub async fn apply(
        &self,
        action: Action,
        viewer: UserId,
        target: UserId,
    ) -> Result<(), ServiceError> {
        if viewer == target {
            return Err(ServiceError::SelfRelation(action));
        }
        let service = self.clone();
        let task = tokio::spawn(async move { service.act(action, viewer, target).await });
        task.await.map_err(|_| ServiceError::Aborted)?.map(drop)
    }

    /// Holds the pair for the whole write, so that writes to one pair reach the database and the
    /// cache in the same order. Returns the row changes committed (none for a repeat).
    #[instrument(skip(self), fields(viewer = %viewer, target = %target), err(level = "info"))]
    async fn act(
        &self,
        action: Action,
        viewer: UserId,
        target: UserId,
    ) -> Result<Vec<RelationChange>, ServiceError> {
        let mut lock = self.db(self.store.lock_pair(viewer, target)).await?;
        let outcome = self.write_locked(&mut lock, action, viewer, target).await;
        self.meter.database();
        lock.release().await;
        outcome
    }

    async fn write_locked(
        &self,
        lock: &mut PairLock,
        action: Action,
        viewer: UserId,
        target: UserId,
    ) -> Result<Vec<RelationChange>, ServiceError> {
        let mut tx = self.db(lock.begin()).await?;
        if !self.db(tx.user_exists(target)).await? {
            return Err(ServiceError::UnknownUser(target));
        }
        let state = self.db(tx.pair_state(viewer, target)).await?;
        let at = now();
        let changes: Vec<RelationChange> = rules::plan(action, state)?
            .into_iter()
            .map(|write| change(write, viewer, target, at))
            .collect();
        if changes.is_empty() {
            return Ok(changes);
        }
        if let Some(cache) = &self.cache {
            self.meter.redis();
            cache.begin_write(viewer, target).await;
        }
        let committed = self.commit(tx, &changes).await;
        if let Some(cache) = &self.cache {
            self.meter.redis();
            let applied: &[RelationChange] = if committed.is_ok() { &changes } else { &[] };
            cache.finish_write(viewer, target, applied).await;
        }
        committed.map(|()| changes)
    }

    async fn commit(
        &self,
        mut tx: PairTx<'_>,
        changes: &[RelationChange],
    ) -> Result<(), ServiceError> {
        for c in changes {
            self.db(tx.set_relation(c.user, c.target, c.to, c.at)).await?;
        }
        self.db(tx.commit()).await
    }
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
