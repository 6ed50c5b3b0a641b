//! Storage: the legacy tables on PostgreSQL (production) or SQLite (the embedded default).
//!
//! sqlx's checked macros bind one crate to one database, so the store is a closed enum over the
//! two pools with runtime queries. Statements that both dialects accept are written once
//! (sqlx binds `$N` on SQLite too); the few that differ (id lists, locking) live in
//! `postgres.rs` and `sqlite.rs`. One behaviour suite runs against both, so they cannot drift.

/// Defines the following-side and follower-side versions of one SQL template over
/// `(owner column, other column)`: a user's followings are rows it owns (`user_id`), its
/// followers rows that point at it (`target_user_id`).
macro_rules! for_both_sides {
    ($template:ident, $following:ident, $followers:ident $(, $extra:literal)*) => {
        pub const $following: &str = $template!("user_id", "target_user_id" $(, $extra)*);
        pub const $followers: &str = $template!("target_user_id", "user_id" $(, $extra)*);
    };
}

/// Every entry of many users' lists; `$ids` is the dialect's "owner is one of `$1`".
macro_rules! lists_sql {
    ($owner:literal, $other:literal, $ids:literal) => {
        concat!(
            "SELECT ",
            $owner,
            " AS owner, ",
            $other,
            " AS other, update_time ",
            "FROM user_relation WHERE ",
            $owner,
            $ids,
            " AND relation = 1"
        )
    };
}

mod connect;
pub mod demo;
mod error;
mod lists;
mod pair;
mod postgres;
mod read;
mod sqlite;

pub use connect::StoreOptions;
pub use error::DbError;
pub use lists::OwnedEntry;
pub use pair::{PairLock, PairTx};
pub use read::StoredRelation;

use sqlx::{PgPool, SqlitePool};

/// A handle to the database; cheap to clone (pools are reference counted).
#[derive(Clone, Debug)]
pub enum Store {
    Postgres(PgPool),
    Sqlite(SqlitePools),
}

/// SQLite allows one writer at a time: a one-connection pool queues writes in the process
/// instead of letting them spin on `SQLITE_BUSY`, while reads run in parallel under WAL.
#[derive(Clone, Debug)]
pub struct SqlitePools {
    pub read: SqlitePool,
    pub write: SqlitePool,
}

impl Store {
    /// Applies the pending migrations of this backend.
    pub async fn migrate(&self) -> Result<(), DbError> {
        match self {
            Store::Postgres(pool) => postgres::MIGRATOR.run(pool).await?,
            Store::Sqlite(db) => sqlite::MIGRATOR.run(&db.write).await?,
        }
        Ok(())
    }

    /// Answers when the database serves a trivial query.
    pub async fn ping(&self) -> Result<(), DbError> {
        match self {
            Store::Postgres(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop)?,
            Store::Sqlite(db) => sqlx::query("SELECT 1").execute(&db.read).await.map(drop)?,
        }
        Ok(())
    }

    /// Closes every connection; pending acquires fail.
    pub async fn close(&self) {
        match self {
            Store::Postgres(pool) => pool.close().await,
            Store::Sqlite(db) => {
                db.read.close().await;
                db.write.close().await;
            }
        }
    }

    /// Open and idle connections, for the metrics.
    pub fn pool_usage(&self) -> (usize, usize) {
        let usage = |size: u32, idle: usize| (size as usize, idle);
        match self {
            Store::Postgres(pool) => usage(pool.size(), pool.num_idle()),
            Store::Sqlite(db) => {
                usage(db.read.size() + db.write.size(), db.read.num_idle() + db.write.num_idle())
            }
        }
    }

    /// Which backend this is, for logs and readiness.
    pub fn backend(&self) -> &'static str {
        match self {
            Store::Postgres(_) => "postgres",
            Store::Sqlite(_) => "sqlite",
        }
    }
}
