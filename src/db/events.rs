//! The event outbox (`followgraph_events`, `migrations/*/0003_events.sql`): events recorded by
//! the write group with its rows, read back by subscriptions that resume or catch up, and
//! dropped once past their retention.

use chrono::{DateTime, Utc};

use super::pair::{PairTx, Tx};
use super::{DbError, Dialect, Store};
use crate::domain::event::{EventParts, FollowEvent, NewEvent};
use crate::domain::ids::UserId;

/// `seq, kind, actor_id, at_micros`, read by position.
type EventRow = (i64, i64, i64, i64);

impl PairTx<'_> {
    /// Numbers `events` after each user's last recorded event and writes them, in the group's
    /// transaction. The caller holds the users' counter rows (`lock_counters`), as
    /// every writer of events does from before it reads the last numbers until it commits, so
    /// numbers follow the order of the commits.
    pub(crate) async fn record_events(
        &mut self,
        events: &[NewEvent],
    ) -> Result<Vec<FollowEvent>, DbError> {
        let mut users: Vec<UserId> = events.iter().map(|e| e.user).collect();
        users.sort_unstable();
        users.dedup();
        let sql = self.sql;
        let last: Vec<(i64, i64)> = for_backend!(&mut self.tx, Tx(tx) as D => {
            let query = sqlx::query_as(&sql.last_event_seqs).bind(D::ids(&users));
            query.fetch_all(&mut **tx).await?
        });
        let mut next: std::collections::HashMap<UserId, u64> =
            users.iter().map(|&user| (user, 1)).collect();
        for (user, seq) in last {
            if let (Ok(user), Ok(seq)) = (UserId::new(user), u64::try_from(seq)) {
                next.insert(user, seq + 1);
            }
        }
        let numbered: Vec<FollowEvent> = events
            .iter()
            .map(|&event| {
                let slot = next.entry(event.user).or_insert(1);
                *slot += 1;
                FollowEvent { seq: *slot - 1, event }
            })
            .collect();
        for_backend!(&mut self.tx, Tx(tx) as D => {
            D::insert_events(tx, &sql.insert_events, &numbered).await?
        });
        Ok(numbered)
    }
}

impl Store {
    /// Up to `limit` of `user`'s events after `after`, in order.
    pub(crate) async fn events_after(
        &self,
        user: UserId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<FollowEvent>, DbError> {
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<EventRow> = for_backend!(self, Store(db) => {
            let query = sqlx::query_as(&db.sql().events_after).bind(user.get());
            query.bind(after).bind(limit).fetch_all(db.reader()).await?
        });
        let event = |(seq, kind, actor, at_micros): EventRow| {
            FollowEvent::from_parts(EventParts { user: user.get(), seq, kind, actor, at_micros })
        };
        Ok(rows.into_iter().filter_map(event).collect())
    }

    /// The number of each user's last recorded event; users with none are absent.
    pub(crate) async fn last_event_seqs(
        &self,
        users: &[UserId],
    ) -> Result<Vec<(UserId, u64)>, DbError> {
        let rows: Vec<(i64, i64)> = for_backend!(self, Store(db) as D => {
            let query = sqlx::query_as(&db.sql().last_event_seqs).bind(D::ids(users));
            query.fetch_all(db.reader()).await?
        });
        Ok(rows
            .into_iter()
            .filter_map(|(user, seq)| Some((UserId::new(user).ok()?, u64::try_from(seq).ok()?)))
            .collect())
    }

    /// Deletes up to one batch of events older than `before`, oldest first, keeping each user's
    /// latest (its number must not be given again); returns how many went. A short statement
    /// that touches only old rows, so that writers recording new events never wait on it.
    pub(crate) async fn drop_old_events(&self, before: DateTime<Utc>) -> Result<u64, DbError> {
        let done = for_backend!(self, Store(db) => {
            let query = sqlx::query(&db.sql().drop_old_events).bind(before.timestamp_micros());
            query.execute(db.writer()).await?.rows_affected()
        });
        Ok(done)
    }
}
