//! `TestDatabase`: a fresh database per test, owned by the test, with a pool of the test's own
//! for assertions. The tests never reach into the app's pools: what they check is what any other
//! client of the database would see.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::mysql::MySqlPoolOptions;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{
    Connection, MySqlConnection, MySqlPool, PgConnection, PgPool, SqliteConnection, SqlitePool,
};
use tempfile::TempDir;

/// Which database a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    /// MariaDB (or MySQL) with the legacy tables made by the legacy `init.sql`.
    Mysql,
}

/// One `user_relation` row as stored.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct RelationRow {
    pub relation: i64,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

/// A database made for one test; dropped with it (PostgreSQL, MySQL) or with its directory
/// (SQLite).
pub enum TestDatabase {
    Sqlite { url: String, pool: SqlitePool, _dir: TempDir },
    Postgres { url: String, name: String, pool: PgPool },
    Mysql { url: String, name: String, pool: MySqlPool },
}

/// Runs the same statement on whichever pool the test database has.
macro_rules! on_pool {
    ($database:expr, $pool:ident => $body:expr) => {
        match $database {
            TestDatabase::Sqlite { pool: $pool, .. } => $body,
            TestDatabase::Postgres { pool: $pool, .. } => $body,
            TestDatabase::Mysql { pool: $pool, .. } => $body,
        }
    };
}

impl TestDatabase {
    /// An empty database; `None` when PostgreSQL is asked for but absent outside CI (in CI, `CI`
    /// is set and an absent server fails the test).
    pub async fn create(backend: Backend) -> Option<TestDatabase> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                let options = SqliteConnectOptions::from_str(&url)
                    .expect("sqlite url")
                    .create_if_missing(true)
                    .busy_timeout(Duration::from_secs(10));
                let pool = SqlitePoolOptions::new().max_connections(2).connect_lazy_with(options);
                Some(TestDatabase::Sqlite { url, pool, _dir: dir })
            }
            Backend::Postgres => {
                let (url, name) = fresh_postgres_database().await?;
                let pool = PgPoolOptions::new().max_connections(4).connect_lazy(&url).unwrap();
                Some(TestDatabase::Postgres { url, name, pool })
            }
            Backend::Mysql => Self::create_mysql_on(&mysql_admin_url()).await,
        }
    }

    /// A MySQL database with the legacy tables on the server of `admin_url` (another than
    /// the shared one).
    pub async fn create_mysql_on(admin_url: &str) -> Option<TestDatabase> {
        let (url, name) = fresh_mysql_database(admin_url).await?;
        let pool = MySqlPoolOptions::new().max_connections(4).connect_lazy(&url).unwrap();
        Some(TestDatabase::Mysql { url, name, pool })
    }

    pub fn url(&self) -> &str {
        match self {
            TestDatabase::Sqlite { url, .. }
            | TestDatabase::Postgres { url, .. }
            | TestDatabase::Mysql { url, .. } => url,
        }
    }

    /// The PostgreSQL database's name, if this is one.
    pub fn postgres_name(&self) -> Option<&str> {
        match self {
            TestDatabase::Postgres { name, .. } => Some(name),
            TestDatabase::Sqlite { .. } | TestDatabase::Mysql { .. } => None,
        }
    }

    /// Inserts one row into `user_basic`, the way the legacy user service would.
    /// On MySQL the legacy schema also needs a unique `mobile`, made from the id.
    pub async fn insert_user(&self, id: i64, name: &str) {
        let sql = self.pick(
            "INSERT INTO user_basic (user_id, user_name) VALUES ($1, $2)",
            "INSERT INTO user_basic (user_id, user_name, mobile) \
             VALUES (?, ?, LPAD(MOD(?, 100000000000), 11, '0'))",
        );
        on_pool!(self, pool => {
            let query = sqlx::query(sql).bind(id).bind(name);
            let query = if self.is_mysql() { query.bind(id) } else { query };
            query.execute(pool).await.map(drop)
        })
        .expect("insert user");
    }

    /// The step of the stored times: a microsecond, or a second for the legacy MySQL
    /// `DATETIME`. Two writes further apart than this get different times.
    pub fn time_step(&self) -> Duration {
        if self.is_mysql() {
            Duration::from_secs(1)
        } else {
            Duration::from_micros(1)
        }
    }

    fn is_mysql(&self) -> bool {
        matches!(self, TestDatabase::Mysql { .. })
    }

    /// `generic` on PostgreSQL and SQLite, `mysql` on MySQL (which binds `?` and converts the
    /// legacy local `DATETIME` and unsigned ids).
    fn pick<'a>(&self, generic: &'a str, mysql: &'a str) -> &'a str {
        if self.is_mysql() {
            mysql
        } else {
            generic
        }
    }

    /// Runs one statement as another client of the database would (a DDL change, a legacy
    /// write), with `i64` parameters.
    pub async fn run_with(&self, sql: &str, params: &[i64]) {
        on_pool!(self, pool => {
            let mut query = sqlx::query(sql);
            for &param in params {
                query = query.bind(param);
            }
            query.execute(pool).await.map(drop)
        })
        .unwrap_or_else(|err| panic!("{sql}: {err}"));
    }

    /// [`TestDatabase::run_with`] without parameters.
    pub async fn run(&self, sql: &str) {
        self.run_with(sql, &[]).await;
    }

    /// The first column of each row of a query that selects text.
    pub async fn strings(&self, sql: &str) -> Vec<String> {
        let rows: Vec<(String,)> =
            on_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await)
                .unwrap_or_else(|err| panic!("{sql}: {err}"));
        rows.into_iter().map(|(text,)| text).collect()
    }

    /// The first two columns of each row of a query that selects integers.
    pub async fn pairs(&self, sql: &str) -> Vec<(i64, i64)> {
        on_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await)
            .unwrap_or_else(|err| panic!("{sql}: {err}"))
    }

    /// Inserts a follow row with the given time, as a legacy bulk import would.
    pub async fn insert_follow(&self, user: i64, target: i64, at: DateTime<Utc>) {
        let sql = self.pick(
            "INSERT INTO user_relation (user_id, target_user_id, relation, create_time, update_time) \
             SELECT $1, $2, 1, at, at FROM (SELECT $3 AS at) AS t",
            "INSERT INTO user_relation (user_id, target_user_id, relation, create_time, update_time) \
             SELECT ?, ?, 1, at, at FROM (SELECT CONVERT_TZ(?, '+00:00', @@session.time_zone) AS at) AS t",
        );
        on_pool!(self, pool => {
            sqlx::query(sql).bind(user).bind(target).bind(at).execute(pool).await.map(drop)
        })
        .expect("insert follow");
    }

    /// Every row `user → target` (the unique constraint allows at most one).
    pub async fn relation_rows(&self, user: i64, target: i64) -> Vec<RelationRow> {
        let sql = self.pick(
            "SELECT CAST(relation AS BIGINT) AS relation, create_time, update_time \
             FROM user_relation WHERE user_id = $1 AND target_user_id = $2",
            "SELECT CAST(relation AS SIGNED) AS relation, \
             CONVERT_TZ(create_time, @@session.time_zone, '+00:00') AS create_time, \
             CONVERT_TZ(update_time, @@session.time_zone, '+00:00') AS update_time \
             FROM user_relation WHERE user_id = ? AND target_user_id = ?",
        );
        on_pool!(self, pool => sqlx::query_as(sql).bind(user).bind(target).fetch_all(pool).await)
            .expect("read relation")
    }

    /// How many relation rows involve `user` on either side.
    pub async fn rows_touching(&self, user: i64) -> i64 {
        let sql = self.pick(
            "SELECT count(*) FROM user_relation WHERE $1 IN (user_id, target_user_id)",
            "SELECT count(*) FROM user_relation WHERE ? IN (user_id, target_user_id)",
        );
        let (n,): (i64,) =
            on_pool!(self, pool => sqlx::query_as(sql).bind(user).fetch_one(pool).await)
                .expect("count rows");
        n
    }

    /// The user's `(following, followers)` as the service's counters hold them (0 when it has
    /// no counter row).
    pub async fn stored_counts(&self, user: i64) -> (i64, i64) {
        let sql = self.pick(
            "SELECT following, followers FROM followgraph_counts WHERE user_id = $1",
            "SELECT following, followers FROM followgraph_counts WHERE user_id = ?",
        );
        let row: Option<(i64, i64)> =
            on_pool!(self, pool => sqlx::query_as(sql).bind(user).fetch_optional(pool).await)
                .expect("read counters");
        row.unwrap_or_default()
    }

    /// SPEC §12: every user's counters equal its rows.
    pub async fn assert_counts_match(&self, users: &[i64]) {
        for &user in users {
            let rows = (self.list(user, true).await.len(), self.list(user, false).await.len());
            let (following, followers) = self.stored_counts(user).await;
            assert_eq!((following as usize, followers as usize), rows, "counters of {user}");
        }
    }

    /// A user's followings (or followers) with their times, in no particular order.
    pub async fn list(&self, user: i64, following: bool) -> Vec<(i64, DateTime<Utc>)> {
        let sql = match (following, self.is_mysql()) {
            (true, false) => {
                "SELECT target_user_id, update_time FROM user_relation \
                 WHERE user_id = $1 AND relation = 1"
            }
            (false, false) => {
                "SELECT user_id, update_time FROM user_relation \
                 WHERE target_user_id = $1 AND relation = 1"
            }
            (true, true) => {
                "SELECT CAST(target_user_id AS SIGNED), \
                 CONVERT_TZ(update_time, @@session.time_zone, '+00:00') FROM user_relation \
                 WHERE user_id = ? AND relation = 1"
            }
            (false, true) => {
                "SELECT CAST(user_id AS SIGNED), \
                 CONVERT_TZ(update_time, @@session.time_zone, '+00:00') FROM user_relation \
                 WHERE target_user_id = ? AND relation = 1"
            }
        };
        on_pool!(self, pool => sqlx::query_as(sql).bind(user).fetch_all(pool).await)
            .expect("read list")
    }

    /// Another writer holding a lock that the app's write of `user → target` must wait for:
    /// the row's lock in an open transaction on PostgreSQL and MySQL (the row must exist), the file's
    /// write lock on SQLite, as another process writing would.
    pub async fn block_writes(&self, user: i64, target: i64) -> WriteBlocker {
        match self {
            TestDatabase::Postgres { url, .. } => {
                let mut blocker = PgConnection::connect(url).await.unwrap();
                sqlx::query("BEGIN").execute(&mut blocker).await.unwrap();
                let sql = "SELECT 1 FROM user_relation \
                           WHERE user_id = $1 AND target_user_id = $2 FOR UPDATE";
                sqlx::query(sql).bind(user).bind(target).execute(&mut blocker).await.unwrap();
                WriteBlocker::Postgres(blocker)
            }
            TestDatabase::Sqlite { url, .. } => {
                let mut blocker = SqliteConnection::connect(url).await.unwrap();
                sqlx::query("BEGIN EXCLUSIVE").execute(&mut blocker).await.unwrap();
                WriteBlocker::Sqlite(blocker)
            }
            TestDatabase::Mysql { url, .. } => {
                let mut blocker = MySqlConnection::connect(url).await.unwrap();
                sqlx::query("BEGIN").execute(&mut blocker).await.unwrap();
                let sql = "SELECT 1 FROM user_relation \
                           WHERE user_id = ? AND target_user_id = ? FOR UPDATE";
                sqlx::query(sql).bind(user).bind(target).execute(&mut blocker).await.unwrap();
                WriteBlocker::Mysql(blocker)
            }
        }
    }

    /// Ends every session on this database but the one asking, as a server restart or an
    /// operator would (PostgreSQL, MySQL); returns how many it ended.
    pub async fn end_other_sessions(&self) -> usize {
        match self {
            TestDatabase::Sqlite { .. } => panic!("SQLite has no sessions to end"),
            TestDatabase::Postgres { pool, .. } => {
                let end = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                           WHERE datname = current_database() AND pid <> pg_backend_pid()";
                let ended: Vec<(bool,)> = sqlx::query_as(end).fetch_all(pool).await.expect("end");
                ended.len()
            }
            TestDatabase::Mysql { pool, .. } => {
                let mut conn = pool.acquire().await.expect("a connection");
                let others = "SELECT id FROM information_schema.processlist \
                              WHERE db = DATABASE() AND id <> CONNECTION_ID()";
                let ids: Vec<(i64,)> =
                    sqlx::query_as(others).fetch_all(&mut *conn).await.expect("sessions");
                for (id,) in &ids {
                    let kill = format!("KILL CONNECTION {id}");
                    sqlx::query(&kill).execute(&mut *conn).await.expect("kill");
                }
                ids.len()
            }
        }
    }

    /// Renames this PostgreSQL database, first ending every session on it (pools reconnect on
    /// their own, so the rename is retried until no session is left in between).
    pub async fn rename_postgres(&self, from: &str, to: &str) {
        let mut admin = PgConnection::connect(&postgres_admin_url()).await.expect("admin");
        for _ in 0..50 {
            let end = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1";
            sqlx::query(end).bind(from).execute(&mut admin).await.expect("terminate");
            let rename = format!("ALTER DATABASE {from} RENAME TO {to}");
            if sqlx::query(&rename).execute(&mut admin).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("could not rename {from}");
    }
}

/// See [`TestDatabase::block_writes`].
pub enum WriteBlocker {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
    Mysql(MySqlConnection),
}

impl WriteBlocker {
    /// Rolls the blocking transaction back: the waiting write goes on.
    pub async fn release(self) {
        let rolled_back = match self {
            WriteBlocker::Postgres(mut conn) => {
                sqlx::query("ROLLBACK").execute(&mut conn).await.map(drop)
            }
            WriteBlocker::Sqlite(mut conn) => {
                sqlx::query("ROLLBACK").execute(&mut conn).await.map(drop)
            }
            WriteBlocker::Mysql(mut conn) => {
                sqlx::query("ROLLBACK").execute(&mut conn).await.map(drop)
            }
        };
        rolled_back.expect("rollback");
    }
}

impl Drop for TestDatabase {
    /// Drops the PostgreSQL or MySQL database, also when the test panicked. `Drop` cannot await on the
    /// test's runtime, so a thread with a runtime of its own does it.
    fn drop(&mut self) {
        let (name, mysql) = match self {
            TestDatabase::Postgres { name, .. } => (name.clone(), false),
            TestDatabase::Mysql { name, .. } => (name.clone(), true),
            TestDatabase::Sqlite { .. } => return,
        };
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
            let runtime = runtime.expect("runtime");
            if mysql {
                runtime.block_on(drop_mysql_database(&name));
            } else {
                runtime.block_on(drop_database(&name));
            }
        });
        let _ = dropped.join();
    }
}

fn postgres_admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// Creates an empty database for one test. Databases left by killed runs are dropped once they
/// are an hour old, so the server does not fill up.
async fn fresh_postgres_database() -> Option<(String, String)> {
    let admin_url = postgres_admin_url();
    let mut admin = match PgConnection::connect(&admin_url).await {
        Ok(conn) => conn,
        Err(err) if std::env::var_os("CI").is_none() => {
            eprintln!("skipping a PostgreSQL test: {err} (set CI=1 to make this a failure)");
            return None;
        }
        Err(err) => panic!("PostgreSQL is required in CI: {err}"),
    };
    drop_stale_databases(&mut admin).await;
    let name = format!("fgtest_{}_{:08x}", Utc::now().timestamp(), rand::random::<u32>());
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.expect("create db");
    let base = admin_url.rsplit_once('/').map(|(base, _)| base).expect("url has a database");
    Some((format!("{base}/{name}"), name))
}

async fn drop_stale_databases(admin: &mut PgConnection) {
    let cutoff = Utc::now().timestamp() - 3600;
    let names: Vec<(String,)> =
        sqlx::query_as("SELECT datname FROM pg_database WHERE datname LIKE 'fgtest\\_%'")
            .fetch_all(&mut *admin)
            .await
            .expect("list databases");
    for (name,) in names {
        let stamp = name.split('_').nth(1).and_then(|s| s.parse::<i64>().ok());
        if stamp.is_some_and(|s| s < cutoff) {
            drop_database(&name).await;
        }
    }
}

async fn drop_database(name: &str) {
    if let Ok(mut admin) = PgConnection::connect(&postgres_admin_url()).await {
        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        let _ = sqlx::query(&sql).execute(&mut admin).await;
        let _ = admin.close().await;
    }
}

fn mysql_admin_url() -> String {
    std::env::var("TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_owned())
}

/// Creates a MySQL database for one test with the legacy tables as the legacy `init.sql` makes
/// them, on a server set as the legacy one is (`auto_increment_increment = 9`). Databases left by
/// killed runs are dropped once they are an hour old.
async fn fresh_mysql_database(admin_url: &str) -> Option<(String, String)> {
    let mut admin = match MySqlConnection::connect(admin_url).await {
        Ok(conn) => conn,
        Err(err) if std::env::var_os("CI").is_none() => {
            eprintln!("skipping a MySQL test: {err} (set CI=1 to make this a failure)");
            return None;
        }
        Err(err) => panic!("MySQL is required in CI: {err}"),
    };
    let stale: Vec<(String,)> = sqlx::query_as(
        "SELECT CAST(schema_name AS CHAR) FROM information_schema.schemata \
         WHERE schema_name LIKE 'fgtest\\_%'",
    )
    .fetch_all(&mut admin)
    .await
    .expect("list databases");
    let cutoff = Utc::now().timestamp() - 3600;
    for (name,) in stale {
        let stamp = name.split('_').nth(1).and_then(|s| s.parse::<i64>().ok());
        if stamp.is_some_and(|s| s < cutoff) {
            drop_mysql_database(&name).await;
        }
    }
    sqlx::query("SET GLOBAL auto_increment_increment = 9").execute(&mut admin).await.unwrap();
    let name = format!("fgtest_{}_{:08x}", Utc::now().timestamp(), rand::random::<u32>());
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.expect("create db");
    let base = admin_url.rsplit_once('/').map(|(base, _)| base).expect("url has a database");
    let url = format!("{base}/{name}");
    let mut conn = MySqlConnection::connect(&url).await.expect("connect");
    let legacy = include_str!("../../fixtures/legacy_mysql.sql");
    sqlx::raw_sql(legacy).execute(&mut conn).await.expect("legacy init.sql");
    Some((url, name))
}

async fn drop_mysql_database(name: &str) {
    if let Ok(mut admin) = MySqlConnection::connect(&mysql_admin_url()).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name}")).execute(&mut admin).await;
        let _ = admin.close().await;
    }
}
