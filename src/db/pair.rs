//! The one write path: a lock that holds a group of pairs of users still from before the rules
//! read their relations until after the cache has been brought in line with the commit, and the
//! transaction taken under it. A group is any number of pairs written together, so that
//! concurrent writes share one lock statement, one read of each kind, one upsert and one commit.
//!
//! Holding the pairs past the commit is what keeps the cache exact: two writes to one pair apply
//! their cache changes in the order they committed. Writes to different pairs touch different
//! zset members, and count increments commute, so they need no order between them.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::pool::PoolConnection;
use sqlx::{MySql, Postgres, Sqlite, Transaction};

use super::dialect::{pair_lock_key, Statements};
use super::read::{PairRows, RelationRow};
use super::{DbError, Dialect, Store};
use crate::domain::ids::UserId;
use crate::domain::relation::RelationChange;

/// A connection that holds a group of pairs until [`PairLock::release`].
///
/// PostgreSQL: session-level advisory locks on the pairs' keys. SQLite: the single writer
/// connection itself. If the lock is dropped without being released (a panic, a shutdown), a
/// connection that may still hold locks past its transaction (PostgreSQL's session) is taken
/// out of the pool and closed, which ends the session and so the locks, rather than returned.
pub(crate) struct PairLock {
    conn: Option<LockedConn>,
    sql: Arc<Statements>,
}

enum LockedConn {
    Postgres(PoolConnection<Postgres>),
    Sqlite(PoolConnection<Sqlite>),
    Mysql(PoolConnection<MySql>),
}

/// An open transaction under a [`PairLock`], with the statements of its backend.
pub(crate) struct PairTx<'c> {
    pub(super) tx: Tx<'c>,
    pub(super) sql: &'c Statements,
}

pub(super) enum Tx<'c> {
    Postgres(Transaction<'c, Postgres>),
    Sqlite(Transaction<'c, Sqlite>),
    Mysql(Transaction<'c, MySql>),
}

impl Store {
    /// Waits for every pair in `pairs` (bounded by the statement timeout) and holds them all.
    /// The keys are taken in ascending order, so two groups that share pairs cannot deadlock.
    pub(crate) async fn lock_pairs(&self, pairs: &[(UserId, UserId)]) -> Result<PairLock, DbError> {
        let mut keys: Vec<i64> = pairs.iter().map(|&(a, b)| pair_lock_key(a, b)).collect();
        keys.sort_unstable();
        keys.dedup();
        let conn = for_backend!(self, Store(db) into LockedConn => db.lock(&keys).await?);
        let sql = for_backend!(self, Store(db) => Arc::clone(&db.sql));
        Ok(PairLock { conn: Some(conn), sql })
    }
}

impl PairLock {
    /// Begins the write transaction on the locked connection.
    pub(crate) async fn begin(&mut self) -> Result<PairTx<'_>, DbError> {
        let Some(conn) = self.conn.as_mut() else {
            return Err(DbError::Query(sqlx::Error::PoolClosed));
        };
        let tx = for_backend!(conn, LockedConn(conn) into Tx as D => D::begin_write(conn).await?);
        Ok(PairTx { tx, sql: &self.sql })
    }

    /// Lets other writers of the pairs go on.
    pub(crate) async fn release(mut self) {
        let released = match self.conn.as_mut() {
            Some(conn) => for_backend!(conn, LockedConn(conn) as D => D::unlock(conn).await),
            None => true,
        };
        if released {
            self.conn = None; // returned to the pool; otherwise Drop closes it
        }
    }
}

impl Drop for PairLock {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            for_backend!(conn, LockedConn(conn) as D => {
                if D::CLOSE_UNRELEASED {
                    drop(conn.detach());
                }
            })
        }
    }
}

impl<'c> PairTx<'c> {
    /// Those of `ids` that `user_basic` has, each with whether its account is locked.
    pub(crate) async fn existing_users(
        &mut self,
        ids: &[UserId],
    ) -> Result<Vec<(UserId, bool)>, DbError> {
        let statements: &'c Statements = self.sql;
        let sql = &statements.existing_users;
        let rows: Vec<(i64, i64)> = for_backend!(&mut self.tx, Tx(tx) as D => {
            sqlx::query_as(sql).bind(D::ids(ids)).fetch_all(&mut **tx).await?
        });
        let user = |(id, locked): (i64, i64)| Some((UserId::new(id).ok()?, locked != 0));
        Ok(rows.into_iter().filter_map(user).collect())
    }

    /// The stored rows `user → target` of each of `rows`, including those with no relation, and
    /// the pending requests `user → target` among them; a row that does not exist is absent.
    pub(crate) async fn relations(
        &mut self,
        rows: &[(UserId, UserId)],
    ) -> Result<PairRows, DbError> {
        let (users, targets): (Vec<UserId>, Vec<UserId>) = rows.iter().copied().unzip();
        let statements: &'c Statements = self.sql;
        let sql = &statements.pair_relations;
        let found: Vec<RelationRow> = for_backend!(&mut self.tx, Tx(tx) as D => {
            let (users, targets) = (D::ids(&users), D::ids(&targets));
            let query = sqlx::query_as(sql).bind(users.clone()).bind(targets.clone());
            query.bind(users).bind(targets).fetch_all(&mut **tx).await?
        });
        Ok(PairRows::of_rows(found))
    }

    /// Opens the requests `(requester, target)` of `opened` at `at` and deletes those of
    /// `ended`. The pairs are locked and were read without these requests (or with them), so
    /// neither statement meets a conflict.
    pub(crate) async fn set_requests(
        &mut self,
        opened: &[(UserId, UserId)],
        ended: &[(UserId, UserId)],
        at: DateTime<Utc>,
    ) -> Result<(), DbError> {
        let statements: &'c Statements = self.sql;
        for_backend!(&mut self.tx, Tx(tx) as D => {
            if !opened.is_empty() {
                let (requesters, targets): (Vec<UserId>, Vec<UserId>) =
                    opened.iter().copied().unzip();
                let query = sqlx::query(&statements.open_requests).bind(at.timestamp_micros());
                let query = query.bind(D::ids(&requesters)).bind(D::ids(&targets));
                query.execute(&mut **tx).await?;
            }
            if !ended.is_empty() {
                let (requesters, targets): (Vec<UserId>, Vec<UserId>) =
                    ended.iter().copied().unzip();
                let query = sqlx::query(&statements.end_requests);
                let query = query.bind(D::ids(&requesters)).bind(D::ids(&targets));
                query.execute(&mut **tx).await?;
            }
        });
        Ok(())
    }

    /// Locks the counters (`followgraph_counts`) of `users` (sorted, without repeats), making
    /// them where missing, all in id order. Every write that moves counters or numbers events
    /// takes them first, so that two groups, or a group and another writer, cannot take them in
    /// opposite orders and deadlock.
    pub(crate) async fn lock_counters(&mut self, users: &[UserId]) -> Result<(), DbError> {
        let statements: &'c Statements = self.sql;
        for_backend!(&mut self.tx, Tx(tx) as D => {
            let query = sqlx::query(&statements.lock_counters).bind(D::ids(users));
            query.execute(&mut **tx).await?;
        });
        Ok(())
    }

    /// Writes each change's row, creating it on first use. No two changes may name the same
    /// row. The triggers on `user_relation` move the users' counters, which the caller has
    /// locked ([`PairTx::lock_counters`]).
    pub(crate) async fn set_relations(
        &mut self,
        changes: &[RelationChange],
    ) -> Result<(), DbError> {
        let upsert = &self.sql.set_relations;
        for_backend!(&mut self.tx, Tx(tx) as D => D::set_relations(tx, upsert, changes).await?);
        Ok(())
    }

    /// Makes the writes durable; the pairs stay locked until the lock is released.
    pub(crate) async fn commit(self) -> Result<(), DbError> {
        for_backend!(self.tx, Tx(tx) => tx.commit().await?);
        Ok(())
    }
}
