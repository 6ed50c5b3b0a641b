//! Opening pools with the settings that make outages fail fast.

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// A pooled connection (PostgreSQL, MySQL) idle this long is pinged before it is handed out.
/// sqlx's default pings on every acquire: a round trip in front of every query, which under
/// load cost as much as the queries themselves. (sqlx also pings each connection as it goes
/// back to the pool, off the request's path.) A connection that is busy has just proved itself;
/// one broken while busy fails its request (503) and is closed, as any connection error does.
/// A server restart or failover breaks every connection at once, so once one is found broken
/// ([`Breakage`]), the others are replaced.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

/// When a pool's connection was last found broken. A database restart, failover or
/// administrator breaks every pooled connection at once; without this each one idle for less
/// than [`PING_IF_IDLE_FOR`] would go out unpinged and fail a request of its own after the
/// database is back. Once one is found broken, every connection made before that is closed at
/// its next acquire and replaced by a new one: each once, as the new one is younger than the
/// finding. (A ping instead would have to be repeated at every acquire of a connection that
/// passed it, since nothing marks a connection as checked.)
#[derive(Debug)]
pub(crate) struct Breakage {
    since: Instant,
    /// Milliseconds from `since` to one past the last finding; 0: none yet.
    found_at: AtomicU64,
}

impl Breakage {
    fn new() -> Arc<Breakage> {
        Arc::new(Breakage { since: Instant::now(), found_at: AtomicU64::new(0) })
    }

    /// A connection of the pool was found broken now.
    pub(crate) fn found(&self) {
        let now = millis(self.since.elapsed()).saturating_add(1);
        self.found_at.fetch_max(now, Ordering::Relaxed);
    }

    /// Whether a connection `age` old was made before the last finding.
    fn predates(&self, age: Duration) -> bool {
        let made = millis(self.since.elapsed().saturating_sub(age));
        made < self.found_at.load(Ordering::Relaxed)
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

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
    let broken = Breakage::new();
    let pool = PgPoolOptions::new()
        .max_connections(options.max_connections)
        .acquire_timeout(options.acquire_timeout)
        .test_before_acquire(false)
        .before_acquire(check_before_use::<sqlx::Postgres>(&broken))
        .connect_lazy_with(connect);
    Ok(PgBackend { pool, broken, sql: Arc::new(Statements::new::<PgBackend>()) })
}

/// The check before a pooled connection is handed out: closed if it predates the last
/// connection found broken, pinged if it has been idle for [`PING_IF_IDLE_FOR`].
fn check_before_use<DB: Database>(
    broken: &Arc<Breakage>,
) -> impl Fn(&mut DB::Connection, PoolConnectionMetadata) -> BoxFuture<'_, Result<bool, sqlx::Error>>
       + Send
       + Sync
       + 'static {
    let broken = Arc::clone(broken);
    move |conn, meta| {
        let predates = broken.predates(meta.age);
        Box::pin(async move {
            if predates {
                return Ok(false);
            }
            if meta.idle_for >= PING_IF_IDLE_FOR {
                conn.ping().await?;
            }
            Ok(true)
        })
    }
}

/// Each MySQL session waits for a row lock as long as PostgreSQL lets a statement run, and reads
/// committed rows only: under the pair locks no write needs REPEATABLE READ's gap locks, which
/// are what makes InnoDB deadlock between writes of different pairs.
fn connect_mysql(url: &str, options: &StoreOptions) -> Result<MysqlBackend, DbError> {
    let url = url.replacen("mariadb://", "mysql://", 1);
    let connect = MySqlConnectOptions::from_str(&url).map_err(|e| DbError::Url(e.to_string()))?;
    let lock_wait = options.statement_timeout.as_secs().max(1);
    let broken = Breakage::new();
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
        .before_acquire(check_before_use::<sqlx::MySql>(&broken))
        .connect_lazy_with(connect);
    Ok(MysqlBackend { pool, broken, sql: Arc::new(Statements::new::<MysqlBackend>()) })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_connections_made_before_a_finding_are_replaced() {
        let broken = Breakage::new();
        assert!(!broken.predates(Duration::from_secs(3600)), "nothing found yet");
        std::thread::sleep(Duration::from_millis(5));
        broken.found();
        assert!(broken.predates(Duration::from_millis(5)), "made before the finding");
        std::thread::sleep(Duration::from_millis(5));
        assert!(!broken.predates(Duration::ZERO), "made after it");
    }
}
