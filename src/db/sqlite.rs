//! What SQLite says its own way: id lists bind as one JSON array read with `json_each`, a group's
//! rows are written one statement each (in process, so cheap), a window function numbers each
//! owner's entries for a page, and writes are serialized by the single writer connection taking
//! the file lock up front.

use sqlx::migrate::Migrator;
use sqlx::pool::PoolConnection;
use sqlx::{Connection, Sqlite, SqlitePool, Transaction};

use super::dialect::{after_cursor, columns, old_events, Dialect, Statements};
use super::postgres::ON_CONFLICT_UPDATE;
use super::DbError;
use crate::domain::event::FollowEvent;
use crate::domain::ids::UserId;
use crate::domain::page::Side;
use crate::domain::relation::RelationChange;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// `IMMEDIATE` takes the file's write lock at `BEGIN`, so the rules read a state that no other
/// process can change before the transaction commits (this process has one writer connection).
const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

/// The SQLite backend. SQLite allows one writer at a time: a one-connection pool queues writes
/// in the process instead of letting them spin on `SQLITE_BUSY`, while reads run in parallel
/// under WAL.
#[derive(Clone, Debug)]
pub(crate) struct SqliteBackend {
    pub(super) read: SqlitePool,
    pub(super) write: SqlitePool,
    pub(super) sql: std::sync::Arc<Statements>,
}

impl Dialect for SqliteBackend {
    type Db = Sqlite;
    type Ids = String;

    fn int(expr: &str) -> String {
        expr.to_owned()
    }

    fn utc(expr: &str) -> String {
        expr.to_owned()
    }

    const TIME_STEP_MICROS: i64 = 1;

    fn param(n: usize) -> String {
        format!("${n}")
    }

    fn id_in(column: &str, n: usize) -> String {
        format!("{column} IN (SELECT value FROM json_each(${n}))")
    }

    fn id_rows(n: usize, alias: &str) -> String {
        format!("(SELECT value AS id FROM json_each(${n})) AS {alias}")
    }

    /// Two JSON arrays joined on their index (`key`).
    fn pair_rows(n: usize, alias: &str) -> String {
        format!(
            "(SELECT a.value AS u, b.value AS t FROM json_each(${n}) AS a \
             JOIN json_each(${}) AS b ON a.key = b.key) AS {alias}",
            n + 1
        )
    }

    /// `CROSS JOIN` is SQLite's way to fix the join order: the pairs are the outer loop.
    const PAIR_JOIN: &'static str = "CROSS JOIN";

    const UPSERT_SOURCE: &'static str = "VALUES ($1, $2, $3, $4, $4)";

    const UPSERT_UPDATE: &'static str = ON_CONFLICT_UPDATE;

    const COUNTER_LOCK: &'static str = "ON CONFLICT (user_id) DO NOTHING";

    fn delete_joined(table: &str, source: &str, on: &str) -> String {
        format!(
            "DELETE FROM {table} WHERE rowid IN \
             (SELECT q.rowid FROM {source} CROSS JOIN {table} AS q ON {on})"
        )
    }

    fn on_user_conflict_set(columns: &[&str]) -> String {
        let set: Vec<String> = columns.iter().map(|c| format!("{c} = excluded.{c}")).collect();
        format!("ON CONFLICT (user_id) DO UPDATE SET {}", set.join(", "))
    }

    const EVENT_SOURCE: &'static str = "VALUES ($1, $2, $3, $4, $5)";

    fn drop_old_events() -> String {
        format!("DELETE FROM followgraph_events WHERE (user_id, seq) IN ({})", old_events("$1"))
    }

    /// SQLite has no LATERAL, so a window function numbers each owner's entries in list order
    /// and keeps the first `$4`.
    fn pages(side: Side) -> String {
        let (owner, other) = columns(side);
        format!(
            "SELECT owner, other, update_time FROM (SELECT {owner} AS owner, {other} AS other, \
             update_time, ROW_NUMBER() OVER (PARTITION BY {owner} \
             ORDER BY update_time DESC, {other}) AS n FROM user_relation \
             WHERE {} AND relation = 1 AND {}) WHERE n <= $4",
            Self::id_in(owner, 1),
            after_cursor(other)
        )
    }

    async fn migrate(&self) -> Result<(), DbError> {
        Ok(MIGRATOR.run(self.writer()).await?)
    }

    fn ids(ids: &[UserId]) -> String {
        let ids: Vec<i64> = ids.iter().map(|id| id.get()).collect();
        serde_json::Value::from(ids).to_string()
    }

    fn reader(&self) -> &SqlitePool {
        &self.read
    }

    fn writer(&self) -> &SqlitePool {
        &self.write
    }

    fn sql(&self) -> &Statements {
        &self.sql
    }

    /// The single writer connection is the lock: holding it holds every pair.
    async fn lock(&self, _keys: &[i64]) -> Result<PoolConnection<Sqlite>, DbError> {
        Ok(self.write.acquire().await?)
    }

    async fn begin_write(
        conn: &mut PoolConnection<Sqlite>,
    ) -> Result<Transaction<'_, Sqlite>, sqlx::Error> {
        conn.begin_with(BEGIN_WRITE).await
    }

    /// The writer's transaction: no other writer runs until it commits.
    async fn begin_recount(
        conn: &mut PoolConnection<Sqlite>,
    ) -> Result<Transaction<'_, Sqlite>, sqlx::Error> {
        conn.begin_with(BEGIN_WRITE).await
    }

    /// One statement per row, in process.
    async fn set_relations(
        tx: &mut Transaction<'_, Sqlite>,
        sql: &str,
        changes: &[RelationChange],
    ) -> Result<(), sqlx::Error> {
        for c in changes {
            let query = sqlx::query(sql).bind(c.user.get()).bind(c.target.get());
            query.bind(c.to.code()).bind(c.at).execute(&mut **tx).await?;
        }
        Ok(())
    }

    async fn insert_events(
        tx: &mut Transaction<'_, Sqlite>,
        sql: &str,
        events: &[FollowEvent],
    ) -> Result<(), sqlx::Error> {
        for e in events {
            let query = sqlx::query(sql).bind(e.event.user.get()).bind(e.seq as i64);
            let query = query.bind(e.event.kind.code()).bind(e.event.actor.get());
            query.bind(e.event.at.timestamp_micros()).execute(&mut **tx).await?;
        }
        Ok(())
    }

    async fn unlock(_conn: &mut PoolConnection<Sqlite>) -> bool {
        true
    }

    /// The connection holds nothing once its transaction has ended.
    const CLOSE_UNRELEASED: bool = false;
}
