//! Storage: the legacy tables on PostgreSQL, on MySQL (the legacy app's own database, its tables
//! as they are), or on SQLite (the embedded default).
//!
//! sqlx binds a pool to one database, and its executor bounds make code generic over the driver
//! hard to read, so the store is a closed enum over the backends' handles and each operation is
//! written once inside [`for_backend!`], which compiles it for every backend with that backend's
//! [`Dialect`](dialect::Dialect) in scope. What the backends say differently is in `dialect.rs`
//! (the seam and every statement), `postgres.rs` and `sqlite.rs`; `docs/architecture.md` says
//! how to add one. One behaviour suite runs against all of them, so they cannot drift.

/// Runs `$body` for whichever backend `$value` (a `Store`, or a locked connection or transaction
/// of the write path) holds, with `$inner` bound to the variant's value and `$D` naming the
/// backend's handle type, whose [`Dialect`](dialect::Dialect) items the body calls; with
/// `into $out`, the result is wrapped in `$out`'s variant of the same backend. The body is
/// written once and type-checked for every backend; adding a backend adds one arm to each rule.
macro_rules! for_backend {
    ($value:expr, $enum:ident($inner:pat) => $body:expr) => {
        for_backend!($value, $enum($inner) as _Unnamed => $body)
    };
    ($value:expr, $enum:ident($inner:pat) into $out:ident => $body:expr) => {
        for_backend!($value, $enum($inner) into $out as _Unnamed => $body)
    };
    ($value:expr, $enum:ident($inner:pat) into $out:ident as $D:ident => $body:expr) => {
        match $value {
            $enum::Postgres($inner) => {
                type $D = $crate::db::postgres::PgBackend;
                $out::Postgres($body)
            }
            $enum::Sqlite($inner) => {
                type $D = $crate::db::sqlite::SqliteBackend;
                $out::Sqlite($body)
            }
            $enum::Mysql($inner) => {
                type $D = $crate::db::mysql::MysqlBackend;
                $out::Mysql($body)
            }
        }
    };
    ($value:expr, $enum:ident($inner:pat) as $D:ident => $body:expr) => {
        match $value {
            $enum::Postgres($inner) => {
                type $D = $crate::db::postgres::PgBackend;
                $body
            }
            $enum::Sqlite($inner) => {
                type $D = $crate::db::sqlite::SqliteBackend;
                $body
            }
            $enum::Mysql($inner) => {
                type $D = $crate::db::mysql::MysqlBackend;
                $body
            }
        }
    };
}

mod accounts;
mod connect;
pub(crate) mod demo;
mod dialect;
mod error;
mod events;
mod lists;
mod mysql;
mod pair;
mod postgres;
mod read;
mod recount;
mod repair;
mod sqlite;

pub(crate) use connect::StoreOptions;
pub(crate) use error::DbError;
pub(crate) use pair::{PairLock, PairTx};

use chrono::{DateTime, Utc};
use dialect::Dialect;
use mysql::MysqlBackend;
use postgres::PgBackend;
use sqlite::SqliteBackend;

/// A handle to the database; cheap to clone (pools and statements are reference counted).
#[derive(Clone, Debug)]
pub(crate) enum Store {
    Postgres(PgBackend),
    Sqlite(SqliteBackend),
    Mysql(MysqlBackend),
}

impl Store {
    /// Applies the pending migrations of this backend, then the batches of the counters' first
    /// count that a migration left to do (see `recount.rs`).
    pub(crate) async fn migrate(&self) -> Result<(), DbError> {
        for_backend!(self, Store(db) => db.migrate().await)?;
        self.finish_first_count().await
    }

    /// Answers when the database serves a trivial query.
    pub(crate) async fn ping(&self) -> Result<(), DbError> {
        let pinged: Result<(), DbError> = for_backend!(self, Store(db) => {
            sqlx::query("SELECT 1").execute(db.reader()).await.map(drop).map_err(DbError::from)
        });
        if let Err(err) = &pinged {
            self.note_failure(err);
        }
        pinged
    }

    /// Takes note of a failed call: if its connection was found broken, the pool's others are
    /// replaced at their next use (`connect.rs`, `Breakage`).
    pub(crate) fn note_failure(&self, err: &DbError) {
        if !err.broke_connection() {
            return;
        }
        match self {
            Store::Postgres(db) => db.broken.found(),
            Store::Mysql(db) => db.broken.found(),
            Store::Sqlite(_) => {} // a file: no server to restart
        }
    }

    /// Closes every connection; pending acquires fail.
    pub(crate) async fn close(&self) {
        for_backend!(self, Store(db) => {
            db.reader().close().await;
            db.writer().close().await;
        })
    }

    /// Open and idle connections, for the metrics.
    pub(crate) fn pool_usage(&self) -> (usize, usize) {
        for_backend!(self, Store(db) => {
            let (reader, writer) = (db.reader(), db.writer());
            let open = reader.size() as usize;
            let idle = reader.num_idle();
            if std::ptr::eq(reader, writer) {
                (open, idle)
            } else {
                (open + writer.size() as usize, idle + writer.num_idle())
            }
        })
    }

    /// Which backend this is, for logs and readiness.
    pub(crate) fn backend(&self) -> &'static str {
        match self {
            Store::Postgres(_) => "postgres",
            Store::Sqlite(_) => "sqlite",
            Store::Mysql(_) => "mysql",
        }
    }

    /// `at` cut to the step of the stored times (a microsecond; a second on MySQL), so that what
    /// the service returns and caches equals what a later read of the row gets back.
    pub(crate) fn cut_time(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        let step = for_backend!(self, Store(_) as D => D::TIME_STEP_MICROS);
        let micros = at.timestamp_micros();
        DateTime::from_timestamp_micros(micros - micros.rem_euclid(step)).unwrap_or(at)
    }
}
