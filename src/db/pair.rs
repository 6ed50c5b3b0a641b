//! The one write path: a transaction that holds a pair of users still while the service's rules
//! read their relations and write the outcome.

use chrono::{DateTime, Utc};
use sqlx::{Postgres, Sqlite, Transaction};

use super::{postgres, sqlite, DbError, Store};
use crate::domain::ids::UserId;
use crate::domain::relation::{PairState, Relation};

/// An open transaction in which no other writer can change the relations between two users.
pub enum PairTx {
    Postgres(Transaction<'static, Postgres>),
    Sqlite(Transaction<'static, Sqlite>),
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
    /// Begins a write transaction that excludes every other writer of the pair `{a, b}`.
    pub async fn lock_pair(&self, a: UserId, b: UserId) -> Result<PairTx, DbError> {
        match self {
            Store::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                let key = pair_lock_key(a, b);
                sqlx::query(postgres::LOCK_PAIR)
                    .bind(key)
                    .execute(&mut *tx)
                    .await?;
                Ok(PairTx::Postgres(tx))
            }
            Store::Sqlite(db) => Ok(PairTx::Sqlite(
                db.write.begin_with(sqlite::BEGIN_WRITE).await?,
            )),
        }
    }
}

impl PairTx {
    /// Whether `user_basic` has this user.
    pub async fn user_exists(&mut self, id: UserId) -> Result<bool, DbError> {
        let found: Option<(i64,)> = on_conn!(self, |conn| {
            sqlx::query_as(USER_EXISTS)
                .bind(id.get())
                .fetch_optional(conn)
                .await?
        });
        Ok(found.is_some())
    }

    /// The relations `user → target` and `target → user`; a missing row reads as none.
    pub async fn pair_state(&mut self, user: UserId, target: UserId) -> Result<PairState, DbError> {
        let rows: Vec<(i64, i16)> = on_conn!(self, |conn| {
            let q = sqlx::query_as(PAIR_STATE)
                .bind(user.get())
                .bind(target.get());
            q.fetch_all(conn).await?
        });
        let mut state = PairState {
            forward: Relation::None,
            backward: Relation::None,
        };
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
            let q = sqlx::query(SET_RELATION)
                .bind(user.get())
                .bind(target.get());
            q.bind(relation.code())
                .bind(at)
                .execute(conn)
                .await
                .map(drop)?
        });
        Ok(())
    }

    /// Makes the writes durable and releases the pair.
    pub async fn commit(self) -> Result<(), DbError> {
        match self {
            PairTx::Postgres(tx) => tx.commit().await?,
            PairTx::Sqlite(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

/// One 64-bit key for the unordered pair, the same whichever user acts.
fn pair_lock_key(a: UserId, b: UserId) -> i64 {
    let (low, high) = if a < b {
        (a.get(), b.get())
    } else {
        (b.get(), a.get())
    };
    low.wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as i64) ^ high
}
