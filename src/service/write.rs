//! Applying an action: lock the pair, check, plan, write, commit.

use chrono::{DateTime, Utc};
use tracing::instrument;

use super::rules::{self, Action, Write};
use super::{Service, ServiceError};
use crate::domain::ids::UserId;
use crate::domain::relation::RelationChange;

impl Service {
    /// Applies `action` by `viewer` on `target` under the SPEC §4 rules. Every action is
    /// idempotent: repeating one that is already in effect writes nothing and succeeds.
    pub async fn apply(
        &self,
        action: Action,
        viewer: UserId,
        target: UserId,
    ) -> Result<(), ServiceError> {
        self.act(action, viewer, target).await.map(drop)
    }

    /// Runs one action in one transaction that holds the pair, so that concurrent actions on the
    /// same two users apply one after the other and the rules always see the committed state.
    /// Returns the row changes committed (none for a repeat).
    #[instrument(skip(self), fields(viewer = %viewer, target = %target), err(level = "info"))]
    async fn act(
        &self,
        action: Action,
        viewer: UserId,
        target: UserId,
    ) -> Result<Vec<RelationChange>, ServiceError> {
        if viewer == target {
            return Err(ServiceError::SelfRelation(action));
        }
        let mut tx = self.store.lock_pair(viewer, target).await?;
        if !tx.user_exists(target).await? {
            return Err(ServiceError::UnknownUser(target));
        }
        let state = tx.pair_state(viewer, target).await?;
        let at = now();
        let changes: Vec<RelationChange> = rules::plan(action, state)?
            .into_iter()
            .map(|write| change(write, viewer, target, at))
            .collect();
        for c in &changes {
            tx.set_relation(c.user, c.target, c.to, c.at).await?;
        }
        tx.commit().await?;
        Ok(changes)
    }
}

fn change(write: Write, viewer: UserId, target: UserId, at: DateTime<Utc>) -> RelationChange {
    match write {
        Write::Forward { from, to } => RelationChange {
            user: viewer,
            target,
            from,
            to,
            at,
        },
        Write::Backward { from, to } => RelationChange {
            user: target,
            target: viewer,
            from,
            to,
            at,
        },
    }
}

/// The time written to `update_time`, cut to the microseconds that every backend stores, so
/// that what the service returns or caches equals what a later read gets back.
fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}
