//! Opening pools with the settings that make outages fail fast.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::pool::PoolConnectionMetadata;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, Database};

use super::dialect::Statements;
use super::{DbError, MysqlBackend, PgBackend, SqliteBackend, Store};

/// Pool settings. The acquire timeout bounds how long a request waits when the database is
/// gone or saturated, so an outage answers "unavailable" in seconds instead of hanging.
#[derive(Debug, Clone)]
pub(crate) struct StoreOptions {
    pub(crate) max_connections: u32,
    pub(crate) acquire_timeout: Duration,
    pub(crate) statement_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(3),
            statement_timeout: Duration::from_secs(5),
        }
    }
}

/// A pooled PostgreSQL connection idle for longer than this is pinged before it is handed out.
/// sqlx's default pings on every acquire: a round trip in front of every query, which under
/// load cost as much as the queries themselves. (sqlx also pings each connection as it goes
/// back to the pool, off the request's path.) A connection that is busy has just proved itself;
/// one broken while busy fails its request (503) and is closed, as any connection error does.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

impl Store {
    /// Opens a pool for a `postgres://`, `mysql://` or `sqlite:` URL. Connections are made lazily, so a
    /// service can start while its database is still coming up and heal when it arrives.
    pub(crate) fn connect(url: &str, options: &StoreOptions) -> Result<Self, DbError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            connect_postgres(url, options).map(Store::Postgres)
        } else if url.starts_with("mysql://") || url.starts_with("mariadb://") {
            connect_mysql(url, options).map(Store::Mysql)
        } else if url.starts_with("sqlite:") {
            connect_sqlite(url, options).map(Store::Sqlite)
        } else {
            Err(DbError::Url("expected postgres://…, mysql://… or sqlite:…".into()))
        }
    }
}

fn connect_postgres(url: &str, options: &StoreOptions) -> Result<PgBackend, DbError> {
    let timeout_ms = options.statement_timeout.as_millis().to_string();
    let connect = PgConnectOptions::from_str(url)
        .map_err(|e| DbError::Url(e.to_string()))?
        .options([("statement_timeout", timeout_ms.as_str())]);
    let pool = PgPoolOptions::new()
        .max_connections(options.max_connections)
        .acquire_timeout(options.acquire_timeout)
        .test_before_acquire(false)
        .before_acquire(ping_if_idle::<sqlx::Postgres>)
        .connect_lazy_with(connect);
    Ok(PgBackend { pool, sql: Arc::new(Statements::new::<PgBackend>()) })
}

/// Pings a pooled connection before handing it out only if it has been idle for
/// [`PING_IF_IDLE_FOR`].
fn ping_if_idle<DB: Database>(
    conn: &mut DB::Connection,
    meta: PoolConnectionMetadata,
) -> BoxFuture<'_, Result<bool, sqlx::Error>> {
    Box::pin(async move {
        if meta.idle_for >= PING_IF_IDLE_FOR {
            conn.ping().await?;
        }
        Ok(true)
    })
}

/// Each MySQL session waits for a row lock as long as PostgreSQL lets a statement run, and reads
/// committed rows only: under the pair locks no write needs REPEATABLE READ's gap locks, which
/// are what makes InnoDB deadlock between writes of different pairs.
fn connect_mysql(url: &str, options: &StoreOptions) -> Result<MysqlBackend, DbError> {
    let url = url.replacen("mariadb://", "mysql://", 1);
    let connect = MySqlConnectOptions::from_str(&url).map_err(|e| DbError::Url(e.to_string()))?;
    let lock_wait = options.statement_timeout.as_secs().max(1);
    let pool = MySqlPoolOptions::new()
        .max_connections(options.max_connections)
        .acquire_timeout(options.acquire_timeout)
        .test_before_acquire(false)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                let session = format!("SET SESSION innodb_lock_wait_timeout = {lock_wait}");
                sqlx::query(&session).execute(&mut *conn).await?;
                let isolation = "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED";
                sqlx::query(isolation).execute(&mut *conn).await?;
                Ok(())
            })
        })
        .before_acquire(ping_if_idle::<sqlx::MySql>)
        .connect_lazy_with(connect);
    Ok(MysqlBackend { pool, sql: Arc::new(Statements::new::<MysqlBackend>()) })
}

fn connect_sqlite(url: &str, options: &StoreOptions) -> Result<SqliteBackend, DbError> {
    let connect = SqliteConnectOptions::from_str(url)
        .map_err(|e| DbError::Url(e.to_string()))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(options.statement_timeout);
    let write = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(options.acquire_timeout)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_lazy_with(connect.clone());
    // An in-memory database exists once per connection, so it must be the writer's one.
    let read = if is_in_memory(url) {
        write.clone()
    } else {
        SqlitePoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_lazy_with(connect)
    };
    Ok(SqliteBackend { read, write, sql: Arc::new(Statements::new::<SqliteBackend>()) })
}

fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}
