//! What MySQL (8, and MariaDB 10.11) says its own way, on the legacy tables as the legacy
//! `init.sql` made them: unsigned ids and `tinyint(1)` relations read back as signed integers,
//! `DATETIME` in the server's local time and whole seconds converted to and from UTC in SQL,
//! id lists bound as one JSON array read with `JSON_TABLE`, a group's rows upserted in one
//! statement from one JSON array, pages numbered with a window function (MariaDB has no
//! LATERAL), and the pairs of a write group held with named locks (`GET_LOCK`).
//!
//! MySQL binds `?` in the order the parameters appear, so every statement here names each
//! parameter once, in the order the operations bind them.

use chrono::{DateTime, Utc};
use sqlx::migrate::Migrator;
use sqlx::pool::PoolConnection;
use sqlx::{Connection, MySql, MySqlPool, Row, Transaction};

use super::dialect::{columns, old_events, Dialect, Statements};
use super::DbError;
use crate::domain::event::FollowEvent;
use crate::domain::ids::UserId;
use crate::domain::page::Side;
use crate::domain::relation::RelationChange;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/mysql");

/// How long a write waits for another writer's named lock before it answers "unavailable": the
/// same bound as PostgreSQL's statement timeout.
const LOCK_WAIT_SECS: u32 = 5;

/// One named lock per key of the group, taken in the order of the (sorted) array. Named locks
/// are the session's, so the pairs stay held past the commit while the cache catches up, as
/// PostgreSQL's advisory locks do; row locks would end with the transaction, and a pair's rows
/// may not exist yet.
const LOCK_PAIRS: &str = "SELECT GET_LOCK(CONCAT('followgraph:pair:', k), ?) AS got \
     FROM JSON_TABLE(?, '$[*]' COLUMNS (k BIGINT PATH '$')) AS pair_keys";
/// The write path's connection holds no named lock but its group's.
const UNLOCK_PAIRS: &str = "SELECT RELEASE_ALL_LOCKS()";

/// The isolation of the session's next transaction, and of that one only.
const READ_COMMITTED_NEXT: &str = "SET TRANSACTION ISOLATION LEVEL READ COMMITTED";

/// A UTC time bound as a parameter, as the server's local `DATETIME`. The far-future cursor of a
/// first page may not fit a zone ahead of UTC; it is then the largest `DATETIME`.
const LOCAL_PARAM: &str =
    "COALESCE(CONVERT_TZ(?, '+00:00', @@session.time_zone), '9999-12-31 23:59:59')";

/// The MySQL backend: one pool for reads and writes, and its statements.
#[derive(Clone, Debug)]
pub(crate) struct MysqlBackend {
    pub(super) pool: MySqlPool,
    /// When one of the pool's connections was last found broken (`connect.rs`).
    pub(super) broken: std::sync::Arc<super::connect::Breakage>,
    pub(super) sql: std::sync::Arc<Statements>,
}

/// `JSON_TABLE` over the id array bound at one parameter, as `alias(id)`, with the array's
/// order as `i`.
fn json_ids(alias: &str, column: &str) -> String {
    format!("JSON_TABLE(?, '$[*]' COLUMNS (i FOR ORDINALITY, {column} BIGINT PATH '$')) AS {alias}")
}

impl Dialect for MysqlBackend {
    type Db = MySql;
    type Ids = String;

    fn int(expr: &str) -> String {
        format!("CAST({expr} AS SIGNED)")
    }

    fn utc(expr: &str) -> String {
        format!("CONVERT_TZ({expr}, @@session.time_zone, '+00:00')")
    }

    const TIME_STEP_MICROS: i64 = 1_000_000;

    fn param(_n: usize) -> String {
        "?".to_owned()
    }

    fn id_in(column: &str, _n: usize) -> String {
        format!("{column} IN (SELECT id FROM {})", json_ids("ids", "id"))
    }

    fn id_rows(_n: usize, alias: &str) -> String {
        json_ids(alias, "id")
    }

    /// Two `JSON_TABLE`s joined on their order.
    fn pair_rows(_n: usize, alias: &str) -> String {
        format!(
            "(SELECT a.u, b.t FROM {} JOIN {} ON a.i = b.i) AS {alias}",
            json_ids("a", "u"),
            json_ids("b", "t")
        )
    }

    /// `STRAIGHT_JOIN` is MySQL's way to fix the join order: the pairs are the outer loop.
    const PAIR_JOIN: &'static str = "STRAIGHT_JOIN";

    /// One JSON array of `[user, target, relation, "YYYY-MM-DD HH:MM:SS" in UTC]`.
    const UPSERT_SOURCE: &'static str = "SELECT c.u, c.t, c.r, \
         CONVERT_TZ(c.at, '+00:00', @@session.time_zone), \
         CONVERT_TZ(c.at, '+00:00', @@session.time_zone) \
         FROM JSON_TABLE(?, '$[*]' COLUMNS (u BIGINT UNSIGNED PATH '$[0]', \
         t BIGINT UNSIGNED PATH '$[1]', r TINYINT PATH '$[2]', at DATETIME PATH '$[3]')) AS c";

    const UPSERT_UPDATE: &'static str =
        "ON DUPLICATE KEY UPDATE relation = VALUES(relation), update_time = VALUES(update_time)";

    const COUNTER_LOCK: &'static str = "ON DUPLICATE KEY UPDATE following = following";

    fn delete_joined(table: &str, source: &str, on: &str) -> String {
        format!("DELETE q FROM {table} AS q JOIN {source} ON {on}")
    }

    fn on_user_conflict_set(columns: &[&str]) -> String {
        let set: Vec<String> = columns.iter().map(|c| format!("{c} = VALUES({c})")).collect();
        format!("ON DUPLICATE KEY UPDATE {}", set.join(", "))
    }

    const EVENT_SOURCE: &'static str = "SELECT e.u, e.s, e.k, e.a, e.t FROM JSON_TABLE(?, '$[*]' \
         COLUMNS (u BIGINT PATH '$[0]', s BIGINT PATH '$[1]', k SMALLINT PATH '$[2]', \
         a BIGINT PATH '$[3]', t BIGINT PATH '$[4]')) AS e";

    /// MySQL cannot delete from a table that a subquery of the same statement reads, but it
    /// can join a derived table, which `LIMIT` keeps materialized.
    fn drop_old_events() -> String {
        format!(
            "DELETE e FROM followgraph_events e JOIN ({}) AS d \
             ON e.user_id = d.user_id AND e.seq = d.seq",
            old_events("?")
        )
    }

    /// A window function numbers each owner's entries in list order and keeps the first `limit`;
    /// the cursor comes in through a one-row table, so that each parameter appears once.
    fn pages(side: Side) -> String {
        let (owner, other) = columns(side);
        format!(
            "SELECT owner, other, update_time FROM (SELECT CAST(r.{owner} AS SIGNED) AS owner, \
             CAST(r.{other} AS SIGNED) AS other, {} AS update_time, \
             ROW_NUMBER() OVER (PARTITION BY r.{owner} ORDER BY r.update_time DESC, r.{other}) AS n \
             FROM {} JOIN user_relation r ON r.{owner} = u.id \
             CROSS JOIN (SELECT {LOCAL_PARAM} AS at, ? AS other) AS cursor_at \
             WHERE r.relation = 1 AND r.update_time <= cursor_at.at AND (r.update_time < cursor_at.at \
             OR r.{other} > cursor_at.other)) AS ranked \
             WHERE n <= ?",
            Self::utc("r.update_time"),
            json_ids("u", "id")
        )
    }

    /// Checks the legacy tables first: the service adds its indexes to them, never creates or
    /// changes them.
    async fn migrate(&self) -> Result<(), DbError> {
        check_legacy_tables(&self.pool).await?;
        Ok(MIGRATOR.run(&self.pool).await?)
    }

    fn ids(ids: &[UserId]) -> String {
        let ids: Vec<i64> = ids.iter().map(|id| id.get()).collect();
        serde_json::Value::from(ids).to_string()
    }

    fn reader(&self) -> &MySqlPool {
        &self.pool
    }

    fn writer(&self) -> &MySqlPool {
        &self.pool
    }

    fn sql(&self) -> &Statements {
        &self.sql
    }

    async fn lock(&self, keys: &[i64]) -> Result<PoolConnection<MySql>, DbError> {
        let mut conn = self.pool.acquire().await?;
        let taken = sqlx::query(LOCK_PAIRS)
            .bind(LOCK_WAIT_SECS)
            .bind(serde_json::Value::from(keys).to_string())
            .fetch_all(&mut *conn)
            .await;
        let all = |rows: &[sqlx::mysql::MySqlRow]| {
            rows.iter().all(|row| row.try_get::<Option<i64>, _>("got").ok().flatten() == Some(1))
        };
        match taken {
            Ok(rows) if all(&rows) => Ok(conn),
            // A lock not had in time (another writer of the pair holds it that long), or an
            // error part way: closing the session releases whatever it took.
            Ok(_) => {
                drop(conn.detach());
                Err(DbError::timed_out())
            }
            Err(err) => {
                drop(conn.detach());
                Err(err.into())
            }
        }
    }

    async fn begin_write(
        conn: &mut PoolConnection<MySql>,
    ) -> Result<Transaction<'_, MySql>, sqlx::Error> {
        conn.begin().await
    }

    /// Read committed for this transaction only: under MySQL's default (repeatable read) the
    /// count would read a snapshot older than the counter locks, and count with shared locks on
    /// every row it reads (a star's million).
    async fn begin_recount(
        conn: &mut PoolConnection<MySql>,
    ) -> Result<Transaction<'_, MySql>, sqlx::Error> {
        sqlx::query(READ_COMMITTED_NEXT).execute(&mut **conn).await?;
        conn.begin().await
    }

    async fn set_relations(
        tx: &mut Transaction<'_, MySql>,
        sql: &str,
        changes: &[RelationChange],
    ) -> Result<(), sqlx::Error> {
        let rows: Vec<serde_json::Value> = changes
            .iter()
            .map(|c| {
                let at = local_text(c.at);
                serde_json::json!([c.user.get(), c.target.get(), c.to.code(), at])
            })
            .collect();
        let rows = serde_json::Value::from(rows).to_string();
        sqlx::query(sql).bind(rows).execute(&mut **tx).await.map(drop)
    }

    async fn insert_events(
        tx: &mut Transaction<'_, MySql>,
        sql: &str,
        events: &[FollowEvent],
    ) -> Result<(), sqlx::Error> {
        let rows: Vec<serde_json::Value> = events
            .iter()
            .map(|e| {
                let (user, actor) = (e.event.user.get(), e.event.actor.get());
                let at = e.event.at.timestamp_micros();
                serde_json::json!([user, e.seq, e.event.kind.code(), actor, at])
            })
            .collect();
        let rows = serde_json::Value::from(rows).to_string();
        sqlx::query(sql).bind(rows).execute(&mut **tx).await.map(drop)
    }

    async fn unlock(conn: &mut PoolConnection<MySql>) -> bool {
        match sqlx::query(UNLOCK_PAIRS).execute(&mut **conn).await {
            Ok(_) => true,
            Err(err) => {
                tracing::warn!(error = %err, "cannot release pair locks; closing their connection");
                false
            }
        }
    }

    const CLOSE_UNRELEASED: bool = true;
}

/// A UTC time as `DATETIME` text (whole seconds: the service cuts its times to them first).
fn local_text(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// The legacy columns the service reads and writes, with the types it accepts for each.
const LEGACY_COLUMNS: &[(&str, &str, &[&str])] = &[
    ("user_basic", "user_id", &["bigint", "int"]),
    ("user_basic", "user_name", &["varchar", "char"]),
    ("user_basic", "profile_photo", &["varchar", "char"]),
    ("user_relation", "user_id", &["bigint", "int"]),
    ("user_relation", "target_user_id", &["bigint", "int"]),
    ("user_relation", "relation", &["tinyint", "smallint", "int"]),
    ("user_relation", "create_time", &["datetime", "timestamp"]),
    ("user_relation", "update_time", &["datetime", "timestamp"]),
];

/// Whether the legacy tables are there with compatible columns and the pair's unique key; the
/// error names everything that is missing or of another type.
async fn check_legacy_tables(pool: &MySqlPool) -> Result<(), DbError> {
    let found: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT CAST(table_name AS CHAR), CAST(column_name AS CHAR), CAST(data_type AS CHAR) \
         FROM information_schema.columns WHERE table_schema = DATABASE() \
         AND table_name IN ('user_basic', 'user_relation')",
    )
    .fetch_all(pool)
    .await?;
    let mut problems: Vec<String> = LEGACY_COLUMNS
        .iter()
        .filter_map(|&(table, column, types)| {
            let found = found.iter().find(|(t, c, _)| t == table && c == column);
            match found {
                None => Some(format!("{table}.{column} is missing")),
                Some((_, _, kind)) if !types.contains(&kind.as_str()) => {
                    Some(format!("{table}.{column} is {kind}, expected one of {types:?}"))
                }
                Some(_) => None,
            }
        })
        .collect();
    let (unique,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM information_schema.statistics WHERE table_schema = DATABASE() \
         AND table_name = 'user_relation' AND non_unique = 0 \
         AND ((column_name = 'user_id' AND seq_in_index = 1) \
         OR (column_name = 'target_user_id' AND seq_in_index = 2))",
    )
    .fetch_one(pool)
    .await?;
    if unique < 2 {
        problems.push("user_relation has no UNIQUE KEY (user_id, target_user_id)".to_owned());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(DbError::Schema(problems.join("; ")))
    }
}
