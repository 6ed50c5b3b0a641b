//! The one write path: a lock that holds a group of pairs of users still from before the rules
//! read their relations until after the cache has been brought in line with the commit, and the
//! transaction taken under it. A group is any number of pairs written together, so that
//! concurrent writes share one lock statement, one read of each kind, one upsert and one commit.
//!
//! Holding the pairs past the commit is what keeps the cache exact: two writes to one pair apply
//! their cache changes in the order they committed. Writes to different pairs touch different
//! zset members, and count increments commute, so they need no order between them.

use std::sync::Arc;

use sqlx::pool::PoolConnection;
use sqlx::{MySql, Postgres, Sqlite, Transaction};

use super::dialect::{pair_lock_key, Statements};
use super::read::{stored_relation, RelationRow, StoredRelation};
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
    /// Those of `ids` that `user_basic` has.
    pub(crate) async fn existing_users(&mut self, ids: &[UserId]) -> Result<Vec<UserId>, DbError> {
        let statements: &'c Statements = self.sql;
        let sql = &statements.existing_users;
        let rows: Vec<(i64,)> = for_backend!(&mut self.tx, Tx(tx) as D => {
            sqlx::query_as(sql).bind(D::ids(ids)).fetch_all(&mut **tx).await?
        });
        Ok(rows.into_iter().filter_map(|(id,)| UserId::new(id).ok()).collect())
    }

    /// The stored rows `user → target` of each of `rows`, including those with no relation; a
    /// row that does not exist is simply absent.
    pub(crate) async fn relations(
        &mut self,
        rows: &[(UserId, UserId)],
    ) -> Result<Vec<StoredRelation>, DbError> {
        let (users, targets): (Vec<UserId>, Vec<UserId>) = rows.iter().copied().unzip();
        let statements: &'c Statements = self.sql;
        let sql = &statements.pair_relations;
        let found: Vec<RelationRow> = for_backend!(&mut self.tx, Tx(tx) as D => {
            let query = sqlx::query_as(sql).bind(D::ids(&users)).bind(D::ids(&targets));
            query.fetch_all(&mut **tx).await?
        });
        Ok(found.into_iter().filter_map(stored_relation).collect())
    }

    /// Writes each change's row, creating it on first use. No two changes may name the same
    /// row.
    ///
    /// The triggers on `user_relation` move the users' counters (`followgraph_counts`); the
    /// counters are locked first, all in id order, so that two groups, or a group and another
    /// writer, cannot take them in opposite orders and deadlock.
    pub(crate) async fn set_relations(
        &mut self,
        changes: &[RelationChange],
    ) -> Result<(), DbError> {
        let mut users: Vec<UserId> = changes.iter().flat_map(|c| [c.user, c.target]).collect();
        users.sort_unstable();
        users.dedup();
        let statements: &'c Statements = self.sql;
        let (lock, upsert) = (&statements.lock_counters, &statements.set_relations);
        for_backend!(&mut self.tx, Tx(tx) as D => {
            sqlx::query(lock).bind(D::ids(&users)).execute(&mut **tx).await?;
            D::set_relations(tx, upsert, changes).await?
        });
        Ok(())
    }

    /// Makes the writes durable; the pairs stay locked until the lock is released.
    pub(crate) async fn commit(self) -> Result<(), DbError> {
        for_backend!(self.tx, Tx(tx) => tx.commit().await?);
        Ok(())
    }
}
