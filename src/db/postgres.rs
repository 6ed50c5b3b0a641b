//! What PostgreSQL says its own way: id lists bind as one `bigint[]`, a group's rows go in one
//! statement as four arrays, a LATERAL subquery per owner walks its index for a page, and the
//! pairs of a write group are held with session-level advisory locks.

use sqlx::migrate::Migrator;
use sqlx::pool::PoolConnection;
use sqlx::{Connection, PgPool, Postgres, Transaction};

use super::dialect::{after_cursor, columns, old_events, Dialect, Statements};
use super::DbError;
use crate::domain::event::FollowEvent;
use crate::domain::ids::UserId;
use crate::domain::page::Side;
use crate::domain::relation::RelationChange;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// Serializes every write between two users, whichever of them acts. A row lock cannot do it:
/// the rows may not exist yet, and the rule "a blocked user cannot follow" reads the reverse row.
/// Session-level, because the pairs stay held after the commit while the cache catches up. `$1`
/// holds a group's keys, sorted; the subquery's order is the order the locks are taken in.
const LOCK_PAIRS: &str = "SELECT pg_advisory_lock(k) \
     FROM (SELECT k FROM unnest($1::bigint[]) AS keys(k) ORDER BY k) AS sorted";
/// The write path's connection holds no advisory lock but its group's.
const UNLOCK_PAIRS: &str = "SELECT pg_advisory_unlock_all()";

/// The upsert's update of an existing row, in the form PostgreSQL and SQLite share.
pub(super) const ON_CONFLICT_UPDATE: &str = "ON CONFLICT (user_id, target_user_id) \
     DO UPDATE SET relation = excluded.relation, update_time = excluded.update_time";

/// The PostgreSQL backend: one pool for reads and writes, and its statements.
#[derive(Clone, Debug)]
pub(crate) struct PgBackend {
    pub(super) pool: PgPool,
    /// When one of the pool's connections was last found broken (`connect.rs`).
    pub(super) broken: std::sync::Arc<super::connect::Breakage>,
    pub(super) sql: std::sync::Arc<Statements>,
}

impl Dialect for PgBackend {
    type Db = Postgres;
    type Ids = Vec<i64>;

    fn int(expr: &str) -> String {
        format!("{expr}::bigint")
    }

    fn utc(expr: &str) -> String {
        expr.to_owned()
    }

    const TIME_STEP_MICROS: i64 = 1;

    fn param(n: usize) -> String {
        format!("${n}")
    }

    fn id_in(column: &str, n: usize) -> String {
        format!("{column} = ANY(${n}::bigint[])")
    }

    fn id_rows(n: usize, alias: &str) -> String {
        format!("unnest(${n}::bigint[]) AS {alias}(id)")
    }

    fn pair_rows(n: usize, alias: &str) -> String {
        format!("unnest(${n}::bigint[], ${}::bigint[]) AS {alias}(u, t)", n + 1)
    }

    const PAIR_JOIN: &'static str = "JOIN";

    const UPSERT_SOURCE: &'static str = "SELECT u, t, r, at, at FROM \
         unnest($1::bigint[], $2::bigint[], $3::smallint[], $4::timestamptz[]) AS c(u, t, r, at)";

    const UPSERT_UPDATE: &'static str = ON_CONFLICT_UPDATE;

    const COUNTER_LOCK: &'static str =
        "ON CONFLICT (user_id) DO UPDATE SET following = followgraph_counts.following";

    fn delete_joined(table: &str, source: &str, on: &str) -> String {
        format!("DELETE FROM {table} AS q USING {source} WHERE {on}")
    }

    fn on_user_conflict_set(columns: &[&str]) -> String {
        let set: Vec<String> = columns.iter().map(|c| format!("{c} = excluded.{c}")).collect();
        format!("ON CONFLICT (user_id) DO UPDATE SET {}", set.join(", "))
    }

    const EVENT_SOURCE: &'static str = "SELECT * FROM \
         unnest($1::bigint[], $2::bigint[], $3::smallint[], $4::bigint[], $5::bigint[])";

    fn drop_old_events() -> String {
        format!("DELETE FROM followgraph_events WHERE (user_id, seq) IN ({})", old_events("$1"))
    }

    /// A LATERAL subquery per owner walks the `(owner, relation, update_time, other)` index and
    /// stops after `$4` rows, however long the list.
    fn pages(side: Side) -> String {
        let (owner, other) = columns(side);
        format!(
            "SELECT u.id AS owner, r.other, r.update_time FROM unnest($1::bigint[]) AS u(id) \
             CROSS JOIN LATERAL (SELECT {other} AS other, update_time FROM user_relation \
             WHERE {owner} = u.id AND relation = 1 AND {} \
             ORDER BY update_time DESC, {other} LIMIT $4) AS r",
            after_cursor(other)
        )
    }

    async fn migrate(&self) -> Result<(), DbError> {
        Ok(MIGRATOR.run(self.writer()).await?)
    }

    fn ids(ids: &[UserId]) -> Vec<i64> {
        ids.iter().map(|id| id.get()).collect()
    }

    fn reader(&self) -> &PgPool {
        &self.pool
    }

    fn writer(&self) -> &PgPool {
        &self.pool
    }

    fn sql(&self) -> &Statements {
        &self.sql
    }

    async fn lock(&self, keys: &[i64]) -> Result<PoolConnection<Postgres>, DbError> {
        let mut conn = self.pool.acquire().await?;
        if let Err(err) = sqlx::query(LOCK_PAIRS).bind(keys).execute(&mut *conn).await {
            // The statement may have taken some keys before it failed (a statement timeout):
            // closing the session releases them, returning it would not.
            drop(conn.detach());
            return Err(err.into());
        }
        Ok(conn)
    }

    async fn begin_write(
        conn: &mut PoolConnection<Postgres>,
    ) -> Result<Transaction<'_, Postgres>, sqlx::Error> {
        conn.begin().await
    }

    /// Read committed is PostgreSQL's default.
    async fn begin_recount(
        conn: &mut PoolConnection<Postgres>,
    ) -> Result<Transaction<'_, Postgres>, sqlx::Error> {
        conn.begin().await
    }

    async fn set_relations(
        tx: &mut Transaction<'_, Postgres>,
        sql: &str,
        changes: &[RelationChange],
    ) -> Result<(), sqlx::Error> {
        let column = |f: fn(&RelationChange) -> i64| changes.iter().map(f).collect::<Vec<_>>();
        let codes: Vec<i16> = changes.iter().map(|c| c.to.code()).collect();
        let times: Vec<_> = changes.iter().map(|c| c.at).collect();
        sqlx::query(sql)
            .bind(column(|c| c.user.get()))
            .bind(column(|c| c.target.get()))
            .bind(codes)
            .bind(times)
            .execute(&mut **tx)
            .await
            .map(drop)
    }

    async fn insert_events(
        tx: &mut Transaction<'_, Postgres>,
        sql: &str,
        events: &[FollowEvent],
    ) -> Result<(), sqlx::Error> {
        let column = |f: fn(&FollowEvent) -> i64| events.iter().map(f).collect::<Vec<_>>();
        let kinds: Vec<i16> = events.iter().map(|e| e.event.kind.code()).collect();
        sqlx::query(sql)
            .bind(column(|e| e.event.user.get()))
            .bind(column(|e| e.seq as i64))
            .bind(kinds)
            .bind(column(|e| e.event.actor.get()))
            .bind(column(|e| e.event.at.timestamp_micros()))
            .execute(&mut **tx)
            .await
            .map(drop)
    }

    async fn unlock(conn: &mut PoolConnection<Postgres>) -> bool {
        match sqlx::query(UNLOCK_PAIRS).execute(&mut **conn).await {
            Ok(_) => true,
            Err(err) => {
                tracing::warn!(error = %err, "cannot unlock pairs; closing their connection");
                false
            }
        }
    }

    const CLOSE_UNRELEASED: bool = true;
}
