//! The one write path: a lock that holds a group of pairs of users still from before the rules
//! read their relations until after the cache has been brought in line with the commit, and the
//! transaction taken under it. A group is any number of pairs written together, so that
//! concurrent writes share one lock statement, one read of each kind, one upsert and one commit.
//!
//! Holding the pairs past the commit is what keeps the cache exact: two writes to one pair apply
//! their cache changes in the order they committed. Writes to different pairs touch different
//! zset members, and count increments commute, so they need no order between them.

use chrono::{DateTime, Utc};
use sqlx::pool::PoolConnection;
use sqlx::{Connection, Postgres, Sqlite, Transaction};

use super::read::{id_array, id_json, stored_relation, RelationRow, StoredRelation};
use super::{postgres, sqlite, DbError, Store};
use crate::domain::ids::UserId;
use crate::domain::relation::RelationChange;

/// A connection that holds a group of pairs until [`PairLock::release`].
///
/// PostgreSQL: session-level advisory locks on the pairs' keys. SQLite: the single writer
/// connection itself. If the lock is dropped without being released (a panic, a shutdown), the
/// PostgreSQL connection is taken out of the pool and closed, which ends the session and so the
/// locks, rather than returning a connection that still holds them.
pub struct PairLock {
    conn: Option<LockedConn>,
}

enum LockedConn {
    Postgres(PoolConnection<Postgres>),
    Sqlite(PoolConnection<Sqlite>),
}

/// An open transaction under a [`PairLock`].
pub enum PairTx<'c> {
    Postgres(Transaction<'c, Postgres>),
    Sqlite(Transaction<'c, Sqlite>),
}

impl Store {
    /// Waits for every pair in `pairs` (bounded by the statement timeout) and holds them all.
    /// The keys are taken in ascending order, so two groups that share pairs cannot deadlock.
    pub async fn lock_pairs(&self, pairs: &[(UserId, UserId)]) -> Result<PairLock, DbError> {
        let conn = match self {
            Store::Postgres(pool) => {
                let mut keys: Vec<i64> = pairs.iter().map(|&(a, b)| pair_lock_key(a, b)).collect();
                keys.sort_unstable();
                keys.dedup();
                let mut conn = pool.acquire().await?;
                let locked = sqlx::query(postgres::LOCK_PAIRS).bind(keys).execute(&mut *conn).await;
                if let Err(err) = locked {
                    // The statement may have taken some keys before it failed (a statement
                    // timeout): closing the session releases them, returning it would not.
                    drop(conn.detach());
                    return Err(err.into());
                }
                LockedConn::Postgres(conn)
            }
            Store::Sqlite(db) => LockedConn::Sqlite(db.write.acquire().await?),
        };
        Ok(PairLock { conn: Some(conn) })
    }
}

impl PairLock {
    /// Begins the write transaction on the locked connection.
    pub async fn begin(&mut self) -> Result<PairTx<'_>, DbError> {
        match self.conn.as_mut() {
            Some(LockedConn::Postgres(conn)) => Ok(PairTx::Postgres(conn.begin().await?)),
            Some(LockedConn::Sqlite(conn)) => {
                Ok(PairTx::Sqlite(conn.begin_with(sqlite::BEGIN_WRITE).await?))
            }
            None => Err(DbError::Query(sqlx::Error::PoolClosed)),
        }
    }

    /// Lets other writers of the pairs go on.
    pub async fn release(mut self) {
        if let Some(LockedConn::Postgres(conn)) = self.conn.as_mut() {
            let unlocked = sqlx::query(postgres::UNLOCK_PAIRS).execute(&mut **conn).await;
            if let Err(err) = unlocked {
                tracing::warn!(error = %err, "cannot unlock pairs; closing their connection");
                return; // Drop closes the connection, which releases the locks.
            }
        }
        self.conn = None;
    }
}

impl Drop for PairLock {
    fn drop(&mut self) {
        if let Some(LockedConn::Postgres(conn)) = self.conn.take() {
            drop(conn.detach());
        }
    }
}

impl PairTx<'_> {
    /// Those of `ids` that `user_basic` has.
    pub async fn existing_users(&mut self, ids: &[UserId]) -> Result<Vec<UserId>, DbError> {
        let rows: Vec<(i64,)> = match self {
            PairTx::Postgres(tx) => {
                let q = sqlx::query_as(postgres::EXISTING_USERS).bind(id_array(ids));
                q.fetch_all(&mut **tx).await?
            }
            PairTx::Sqlite(tx) => {
                let q = sqlx::query_as(sqlite::EXISTING_USERS).bind(id_json(ids));
                q.fetch_all(&mut **tx).await?
            }
        };
        Ok(rows.into_iter().filter_map(|(id,)| UserId::new(id).ok()).collect())
    }

    /// The stored rows `user → target` of each of `rows`, including those with no relation; a
    /// row that does not exist is simply absent.
    pub async fn relations(
        &mut self,
        rows: &[(UserId, UserId)],
    ) -> Result<Vec<StoredRelation>, DbError> {
        let (users, targets): (Vec<UserId>, Vec<UserId>) = rows.iter().copied().unzip();
        let found: Vec<RelationRow> = match self {
            PairTx::Postgres(tx) => {
                let q = sqlx::query_as(postgres::PAIR_RELATIONS);
                q.bind(id_array(&users)).bind(id_array(&targets)).fetch_all(&mut **tx).await?
            }
            PairTx::Sqlite(tx) => {
                let pairs: Vec<[i64; 2]> = rows.iter().map(|(u, t)| [u.get(), t.get()]).collect();
                let json = serde_json::Value::from(pairs).to_string();
                sqlx::query_as(sqlite::PAIR_RELATIONS).bind(json).fetch_all(&mut **tx).await?
            }
        };
        Ok(found.into_iter().filter_map(stored_relation).collect())
    }

    /// Writes each change's row, creating it on first use. No two changes may name the same
    /// row. PostgreSQL takes them in one statement; SQLite, in process, one statement each.
    pub async fn set_relations(&mut self, changes: &[RelationChange]) -> Result<(), DbError> {
        match self {
            PairTx::Postgres(tx) => {
                let column =
                    |f: fn(&RelationChange) -> i64| changes.iter().map(f).collect::<Vec<_>>();
                let codes: Vec<i16> = changes.iter().map(|c| c.to.code()).collect();
                let times: Vec<DateTime<Utc>> = changes.iter().map(|c| c.at).collect();
                sqlx::query(postgres::SET_RELATIONS)
                    .bind(column(|c| c.user.get()))
                    .bind(column(|c| c.target.get()))
                    .bind(codes)
                    .bind(times)
                    .execute(&mut **tx)
                    .await?;
            }
            PairTx::Sqlite(tx) => {
                for c in changes {
                    sqlx::query(sqlite::SET_RELATION)
                        .bind(c.user.get())
                        .bind(c.target.get())
                        .bind(c.to.code())
                        .bind(c.at)
                        .execute(&mut **tx)
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Makes the writes durable; the pairs stay locked until the lock is released.
    pub async fn commit(self) -> Result<(), DbError> {
        match self {
            PairTx::Postgres(tx) => tx.commit().await?,
            PairTx::Sqlite(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

/// One 64-bit key for the unordered pair, the same whichever user acts. A collision only makes
/// two pairs wait for each other.
fn pair_lock_key(a: UserId, b: UserId) -> i64 {
    let (low, high) = if a < b { (a.get(), b.get()) } else { (b.get(), a.get()) };
    low.wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as i64) ^ high
}
