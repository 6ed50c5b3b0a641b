//! The one write path: a lock that holds a pair of users still from before the rules read their
//! relations until after the cache has been brought in line with the commit, and the transaction
//! taken under it.
//!
//! Holding the pair past the commit is what keeps the cache exact: two writes to one pair apply
//! their cache changes in the order they committed. Writes to different pairs touch different
//! zset members, and count increments commute, so they need no order between them.

use chrono::{DateTime, Utc};
use sqlx::pool::PoolConnection;
use sqlx::{Connection, Postgres, Sqlite, Transaction};

use super::{postgres, sqlite, DbError, Store};
use crate::domain::ids::UserId;
use crate::domain::relation::{PairState, Relation};

/// A connection that holds the pair `{a, b}` until [`PairLock::release`].
///
/// PostgreSQL: a session-level advisory lock on the pair's key. SQLite: the single writer
/// connection itself. If the lock is dropped without being released (a panic, a shutdown), the
/// PostgreSQL connection is taken out of the pool and closed, which ends the session and so the
/// lock, rather than returning a connection that still holds it.
pub struct PairLock {
    conn: Option<LockedConn>,
    key: i64,
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

/// Runs one expression against the transaction's connection, whichever backend it is: the
/// statements below are written in the SQL both dialects share.
macro_rules! on_conn {
    ($tx:expr, |$conn:ident| $body:expr) => {
        match $tx {
            PairTx::Postgres(tx) => {
                let $conn = &mut **tx;
                $body
            }
            PairTx::Sqlite(tx) => {
                let $conn = &mut **tx;
                $body
            }
        }
    };
}

const USER_EXISTS: &str = "SELECT user_id FROM user_basic WHERE user_id = $1";

const PAIR_STATE: &str = "SELECT user_id, relation FROM user_relation \
     WHERE (user_id = $1 AND target_user_id = $2) OR (user_id = $2 AND target_user_id = $1)";

const SET_RELATION: &str = "INSERT INTO user_relation \
     (user_id, target_user_id, relation, create_time, update_time) VALUES ($1, $2, $3, $4, $4) \
     ON CONFLICT (user_id, target_user_id) \
     DO UPDATE SET relation = excluded.relation, update_time = excluded.update_time";

impl Store {
    /// Waits for the pair `{a, b}` (bounded by the statement timeout) and holds it.
    pub async fn lock_pair(&self, a: UserId, b: UserId) -> Result<PairLock, DbError> {
        let key = pair_lock_key(a, b);
        let conn = match self {
            Store::Postgres(pool) => {
                let mut conn = pool.acquire().await?;
                sqlx::query(postgres::LOCK_PAIR).bind(key).execute(&mut *conn).await?;
                LockedConn::Postgres(conn)
            }
            Store::Sqlite(db) => LockedConn::Sqlite(db.write.acquire().await?),
        };
        Ok(PairLock { conn: Some(conn), key })
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

    /// Lets other writers of the pair go on.
    pub async fn release(mut self) {
        if let Some(LockedConn::Postgres(conn)) = self.conn.as_mut() {
            let unlocked =
                sqlx::query(postgres::UNLOCK_PAIR).bind(self.key).execute(&mut **conn).await;
            if let Err(err) = unlocked {
                tracing::warn!(error = %err, "cannot unlock a pair; closing its connection");
                return; // Drop closes the connection, which releases the lock.
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
    /// Whether `user_basic` has this user.
    pub async fn user_exists(&mut self, id: UserId) -> Result<bool, DbError> {
        let found: Option<(i64,)> = on_conn!(self, |conn| {
            sqlx::query_as(USER_EXISTS).bind(id.get()).fetch_optional(conn).await?
        });
        Ok(found.is_some())
    }

    /// The relations `user → target` and `target → user`; a missing row reads as none.
    pub async fn pair_state(&mut self, user: UserId, target: UserId) -> Result<PairState, DbError> {
        let rows: Vec<(i64, i16)> = on_conn!(self, |conn| {
            let q = sqlx::query_as(PAIR_STATE).bind(user.get()).bind(target.get());
            q.fetch_all(conn).await?
        });
        let mut state = PairState { forward: Relation::None, backward: Relation::None };
        for (from, code) in rows {
            if from == user.get() {
                state.forward = Relation::from_code(code);
            } else {
                state.backward = Relation::from_code(code);
            }
        }
        Ok(state)
    }

    /// Writes the relation `user → target`, creating the row on first use.
    pub async fn set_relation(
        &mut self,
        user: UserId,
        target: UserId,
        relation: Relation,
        at: DateTime<Utc>,
    ) -> Result<(), DbError> {
        on_conn!(self, |conn| {
            let q = sqlx::query(SET_RELATION).bind(user.get()).bind(target.get());
            q.bind(relation.code()).bind(at).execute(conn).await.map(drop)?
        });
        Ok(())
    }

    /// Makes the writes durable; the pair stays locked until the lock is released.
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
