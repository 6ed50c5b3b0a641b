//! Counting the counters again from the rows: `followgraph recount`, and the first count that
//! fills `followgraph_counts` after the migration that creates it (SPEC §12).
//!
//! Both walk every user in id order, a batch of
//! [`RECOUNT_BATCH`](super::dialect::RECOUNT_BATCH) users per short transaction,
//! so that a table of tens of millions of rows is counted while the service and the legacy app
//! go on writing. A batch is exact however writers interleave with it: it locks its users'
//! counters in id order first (as every writer's trigger does before it moves one), then counts
//! the committed rows in a later statement. A writer that changed a row before the lock commits
//! before the batch gets it, so the count sees that row; a writer after the lock waits for the
//! batch and then moves the counter the batch set, by its own change. A deadlock with a legacy
//! writer that takes two counters out of order costs the batch a retry, nothing else.

use super::{DbError, Dialect, Store};
use crate::domain::ids::UserId;

/// How often a batch that lost a deadlock runs again before the recount gives up.
const BATCH_ATTEMPTS: usize = 4;

/// Batches between two progress lines in the log (100,000 users).
const PROGRESS_EVERY: u64 = 100;

/// What a recount found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Recount {
    /// Users whose counters were compared with their rows.
    pub(crate) users: u64,
    /// Users whose counters differed from their rows, and were set to them.
    pub(crate) repaired: u64,
}

/// Which walk a batch belongs to: the first count also records how far it got, in the same
/// transaction, so that a migration cut off half-way resumes after the last committed batch.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Walk {
    Recount,
    FirstCount,
}

impl Store {
    /// Compares every user's counters with its rows and sets those that differ.
    pub(crate) async fn recount(&self) -> Result<Recount, DbError> {
        self.walk(0, Walk::Recount).await
    }

    /// Finishes the first count of the counters, if the migration that created them left one
    /// to do: from the user after the last batch committed, then marks it done.
    pub(super) async fn finish_first_count(&self) -> Result<(), DbError> {
        let progress: Option<(i64,)> = for_backend!(self, Store(db) => {
            let query = sqlx::query_as("SELECT after_user_id FROM followgraph_first_count");
            query.fetch_optional(db.writer()).await?
        });
        let Some((after,)) = progress else { return Ok(()) };
        tracing::info!(after_user_id = after, "counting every user's follows for the first time");
        let counted = self.walk(after, Walk::FirstCount).await?;
        for_backend!(self, Store(db) => {
            sqlx::query("DELETE FROM followgraph_first_count").execute(db.writer()).await?;
        });
        tracing::info!(users = counted.users, "first count done");
        Ok(())
    }

    /// Runs the batches of users above `after` until none is left.
    async fn walk(&self, mut after: i64, walk: Walk) -> Result<Recount, DbError> {
        let mut total = Recount::default();
        let mut batches = 0u64;
        loop {
            let ids = self.recount_ids(after).await?;
            let Some(&last) = ids.last() else { return Ok(total) };
            let users: Vec<UserId> = ids.iter().filter_map(|&id| UserId::new(id).ok()).collect();
            total.repaired += self.batch_with_retries(&users, last, walk).await?;
            total.users += users.len() as u64;
            after = last;
            batches += 1;
            if batches % PROGRESS_EVERY == 0 {
                tracing::info!(users = total.users, repaired = total.repaired, after, "counting");
            }
        }
    }

    /// The next batch's user ids above `after`, in order.
    async fn recount_ids(&self, after: i64) -> Result<Vec<i64>, DbError> {
        let rows: Vec<(i64,)> = for_backend!(self, Store(db) => {
            let query = sqlx::query_as(&db.sql().recount_ids).bind(after).bind(after).bind(after);
            query.fetch_all(db.reader()).await?
        });
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    async fn batch_with_retries(
        &self,
        users: &[UserId],
        last: i64,
        walk: Walk,
    ) -> Result<u64, DbError> {
        let mut attempt = 1;
        loop {
            match self.batch(users, last, walk).await {
                Err(DbError::Conflict(err)) if attempt < BATCH_ATTEMPTS => {
                    tracing::debug!(%err, attempt, "recount batch lost a deadlock; again");
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    /// One batch in one transaction: lock the counters, set those that differ, and (for the
    /// first count) record the batch's last id. Returns how many differed.
    async fn batch(&self, users: &[UserId], last: i64, walk: Walk) -> Result<u64, DbError> {
        for_backend!(self, Store(db) as D => {
            let sql = db.sql();
            let mut conn = db.writer().acquire().await?;
            let mut tx = D::begin_recount(&mut conn).await?;
            sqlx::query(&sql.lock_counters).bind(D::ids(users)).execute(&mut *tx).await?;
            let (first, last) = (users.first().map_or(0, |u| u.get()), last);
            let set = sqlx::query(&sql.recount_set).bind(first).bind(last).bind(D::ids(users));
            let set = set.execute(&mut *tx).await?;
            if walk == Walk::FirstCount {
                sqlx::query(&sql.first_count_advance).bind(last).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(set.rows_affected())
        })
    }
}
