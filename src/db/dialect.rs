//! The seam between the operations and the SQL backends: what each backend says its own way, and
//! every statement written once over those differences.
//!
//! A backend differs in four things only: how a list of ids is bound and read back as rows, how
//! a group's rows are upserted, how the pairs of a write group are locked, and the time type
//! (with the integer types its columns decode as).
//! [`Dialect`] names them; [`Statements`] builds every statement from them once, when the pool
//! opens; the operations (`read.rs`, `lists.rs`, `pair.rs`, `accounts.rs` …) are written once in
//! `for_backend!`, which compiles each of them for every backend.
//!
//! Every time crosses the seam as `DateTime<Utc>`: PostgreSQL's `timestamptz`; on SQLite the RFC
//! 3339 text in UTC that sqlx writes (its order is the time's order); on MySQL the legacy
//! `DATETIME` in the server's local time and whole seconds, converted in SQL ([`Dialect::utc`]).
//! Times the service writes are cut to the backend's step ([`Dialect::TIME_STEP_MICROS`]) first,
//! so that what it returns and caches equals what a later read gets back.

use std::future::Future;

use sqlx::pool::PoolConnection;
use sqlx::{Database, Transaction};

use super::DbError;
use crate::domain::event::FollowEvent;
use crate::domain::ids::UserId;
use crate::domain::page::Side;
use crate::domain::relation::RelationChange;

/// What a SQL backend says its own way. Implemented by each backend's handle (its pools and
/// statements); its items are only ever called where the backend is known, so none of them
/// needs to be generic over the driver.
pub(super) trait Dialect {
    /// The sqlx driver.
    type Db: Database;
    /// How a list of ids binds as one parameter.
    type Ids;

    /// An integer column or expression as the driver decodes into `i64` (MySQL's unsigned ids and
    /// `tinyint(1)` would not be).
    fn int(expr: &str) -> String;
    /// A time column or expression as a time in UTC.
    fn utc(expr: &str) -> String;
    /// The smallest step of the stored times, in microseconds.
    const TIME_STEP_MICROS: i64;
    /// The `n`-th parameter of a statement whose every parameter is bound once, in order.
    fn param(n: usize) -> String;
    /// The predicate "`column` is one of the ids bound at `$n`".
    fn id_in(column: &str, n: usize) -> String;
    /// A `FROM` item `alias(id)`: one row per id bound at `$n`.
    fn id_rows(n: usize, alias: &str) -> String;
    /// A `FROM` item `alias(u, t)`: the i-th ids bound at `$n` and `$n + 1`, side by side.
    fn pair_rows(n: usize, alias: &str) -> String;
    /// The join that reads `pair_rows` first and looks each pair up in the table's unique index.
    /// (Also any join that must read its left side first and probe the right side's unique
    /// index with each row, which the planners do not always choose.)
    const PAIR_JOIN: &'static str;
    /// The source of the upsert (`VALUES …` or `SELECT …`): rows of `(user, target, relation,
    /// create_time, update_time)` from the parameters [`Dialect::set_relations`] binds.
    const UPSERT_SOURCE: &'static str;
    /// What the upsert does to an existing row: set `relation` and `update_time`.
    const UPSERT_UPDATE: &'static str;
    /// What inserting an existing counter row does: an update that changes nothing, which
    /// locks it (PostgreSQL, MySQL); nothing on SQLite, whose one writer needs no lock.
    const COUNTER_LOCK: &'static str;
    /// For each owner bound at `$1`, its first `$4` entries of `side` after the cursor
    /// `($2, $3)`, in list order, as `(owner, other, update_time)`.
    fn pages(side: Side) -> String;
    /// A `DELETE` of the rows of `table`, aliased `q`, that join the `FROM` item `source` on
    /// `on`, looked up by the table's primary key (MariaDB before 11.1 scans, and locks, a whole
    /// table for `DELETE … WHERE (a, b) IN (SELECT …)`).
    fn delete_joined(table: &str, source: &str, on: &str) -> String;
    /// What inserting a row whose `user_id` exists does: set `columns` to the inserted values
    /// (listing a user already on the repair list takes the newer time; settings are replaced).
    fn on_user_conflict_set(columns: &[&str]) -> String;
    /// The source of the events insert: rows of `(user_id, seq, kind, actor_id, at_micros)`
    /// from the parameters [`Dialect::insert_events`] binds.
    const EVENT_SOURCE: &'static str;
    /// Deletes one batch of the oldest events before the time bound once (`$1`, microseconds),
    /// none of them its user's latest ([`old_events`]).
    fn drop_old_events() -> String;

    /// Brings the schema to what the service needs: the backend's migrations
    /// (`migrations/<backend>/`), after checking the legacy tables where they are not ours.
    fn migrate(&self) -> impl Future<Output = Result<(), DbError>> + Send;
    /// `ids` in the form [`Dialect::Ids`] binds.
    fn ids(ids: &[UserId]) -> Self::Ids;

    /// The pool that serves reads.
    fn reader(&self) -> &sqlx::Pool<Self::Db>;
    /// The pool the write path takes its locked connection from.
    fn writer(&self) -> &sqlx::Pool<Self::Db>;
    /// This backend's statements, built once.
    fn sql(&self) -> &Statements;

    /// A connection of the writer pool that holds every pair of a group (keys from
    /// [`pair_lock_key`], sorted and without repeats) until [`Dialect::unlock`].
    fn lock(
        &self,
        keys: &[i64],
    ) -> impl Future<Output = Result<PoolConnection<Self::Db>, DbError>> + Send;
    /// Begins the write transaction on a locked connection.
    fn begin_write(
        conn: &mut PoolConnection<Self::Db>,
    ) -> impl Future<Output = Result<Transaction<'_, Self::Db>, sqlx::Error>> + Send;
    /// Begins a recount's transaction: its statements must each see every commit made before
    /// they start (read committed, or SQLite's single writer), and read rows without locking
    /// them.
    fn begin_recount(
        conn: &mut PoolConnection<Self::Db>,
    ) -> impl Future<Output = Result<Transaction<'_, Self::Db>, sqlx::Error>> + Send;
    /// Writes a group's rows with the statement [`Statements::set_relations`], their times
    /// already cut to [`Dialect::TIME_STEP_MICROS`].
    fn set_relations(
        tx: &mut Transaction<'_, Self::Db>,
        sql: &str,
        changes: &[RelationChange],
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;
    /// Writes numbered events with the statement [`Statements::insert_events`].
    fn insert_events(
        tx: &mut Transaction<'_, Self::Db>,
        sql: &str,
        events: &[FollowEvent],
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;
    /// Releases what [`Dialect::lock`] took, on its connection; `false` when the connection
    /// cannot be trusted to hold nothing afterwards (then it is closed, not returned).
    fn unlock(conn: &mut PoolConnection<Self::Db>) -> impl Future<Output = bool> + Send;
    /// Whether a locked connection dropped without [`Dialect::unlock`] must be closed: it may
    /// still hold locks that outlive the transaction.
    const CLOSE_UNRELEASED: bool;
}

/// Every statement of the operations, in one backend's dialect. Each is written once here.
#[derive(Debug)]
pub(super) struct Statements {
    pub(crate) users: String,
    pub(crate) counts: String,
    pub(crate) existing_users: String,
    pub(crate) pair_relations: String,
    pub(crate) open_requests: String,
    pub(crate) end_requests: String,
    pub(crate) requests_page: String,
    pub(crate) request_count: String,
    pub(crate) account_settings: String,
    pub(crate) known_followers: String,
    pub(crate) set_locked: String,
    pub(crate) set_visibility: String,
    pub(crate) set_relations: String,
    pub(crate) lock_counters: String,
    pub(crate) recount_ids: String,
    pub(crate) recount_set: String,
    pub(crate) first_count_advance: String,
    pub(crate) last_event_seqs: String,
    pub(crate) insert_events: String,
    pub(crate) events_after: String,
    pub(crate) drop_old_events: String,
    pub(crate) list_for_repair: String,
    pub(crate) users_to_repair: String,
    pub(crate) repaired: String,
    following_pages: String,
    followers_pages: String,
    following_lists: String,
    followers_lists: String,
}

impl Statements {
    pub(crate) fn new<D: Dialect>() -> Statements {
        let lists = |side| {
            let (owner, other) = columns(side);
            format!(
                "SELECT {} AS owner, {} AS other, {} AS update_time FROM user_relation \
                 WHERE {} AND relation = 1",
                D::int(owner),
                D::int(other),
                D::utc("update_time"),
                D::id_in(owner, 1)
            )
        };
        Statements {
            users: format!(
                "SELECT {} AS user_id, user_name, profile_photo FROM user_basic WHERE {}",
                D::int("user_id"),
                D::id_in("user_id", 1)
            ),
            counts: format!(
                "SELECT {} AS user_id, COALESCE(c.following, 0) AS following, \
                 COALESCE(c.followers, 0) AS followers \
                 FROM {} LEFT JOIN followgraph_counts c ON c.user_id = u.id",
                D::int("u.id"),
                D::id_rows(1, "u")
            ),
            existing_users: format!(
                "SELECT {} AS user_id, {} AS locked FROM user_basic u \
                 LEFT JOIN followgraph_accounts a ON a.user_id = u.user_id WHERE {}",
                D::int("u.user_id"),
                D::int("COALESCE(a.locked, 0)"),
                D::id_in("u.user_id", 1)
            ),
            pair_relations: format!(
                "SELECT {} AS user_id, {} AS target_user_id, {} AS relation, {} AS request \
                 FROM {} {} user_relation r ON r.user_id = p.u AND r.target_user_id = p.t \
                 UNION ALL SELECT {}, {}, {}, {} \
                 FROM {} {} followgraph_follow_requests q \
                 ON q.target_id = pq.t AND q.requester_id = pq.u",
                D::int("r.user_id"),
                D::int("r.target_user_id"),
                D::int("r.relation"),
                D::int("0"),
                D::pair_rows(1, "p"),
                D::PAIR_JOIN,
                D::int("q.requester_id"),
                D::int("q.target_id"),
                D::int("0"),
                D::int("1"),
                D::pair_rows(3, "pq"),
                D::PAIR_JOIN
            ),
            open_requests: format!(
                "INSERT INTO followgraph_follow_requests \
                 (requester_id, target_id, requested_micros) SELECT p.u, p.t, {} FROM {}",
                D::param(1),
                D::pair_rows(2, "p")
            ),
            end_requests: D::delete_joined(
                "followgraph_follow_requests",
                &D::pair_rows(1, "p"),
                "q.target_id = p.t AND q.requester_id = p.u",
            ),
            requests_page: format!(
                "SELECT {}, {} FROM {REQUESTERS} \
                 WHERE target_id = {} AND requested_micros <= {} \
                 AND (requested_micros < {} OR requester_id > {}) \
                 ORDER BY requested_micros DESC, requester_id LIMIT {}",
                D::int("requester_id"),
                D::int("requested_micros"),
                D::param(1),
                D::param(2),
                D::param(3),
                D::param(4),
                D::param(5)
            ),
            request_count: format!(
                "SELECT {} FROM {REQUESTERS} WHERE target_id = {}",
                D::int("COUNT(*)"),
                D::param(1)
            ),
            known_followers: format!(
                "SELECT {} AS owner, {} AS other, {} AS update_time \
                 FROM user_relation v {} user_relation f ON f.user_id = v.target_user_id \
                 WHERE v.user_id = {} AND v.relation = 1 AND {} AND f.relation = 1",
                D::int("f.target_user_id"),
                D::int("f.user_id"),
                D::utc("f.update_time"),
                D::PAIR_JOIN,
                D::param(1),
                D::id_in("f.target_user_id", 2)
            ),
            account_settings: format!(
                "SELECT {}, {}, {}, {} FROM followgraph_accounts WHERE {}",
                D::int("user_id"),
                D::int("locked"),
                D::int("followers_visibility"),
                D::int("following_visibility"),
                D::id_in("user_id", 1)
            ),
            set_locked: format!(
                "INSERT INTO followgraph_accounts (user_id, locked) VALUES ({}, {}) {}",
                D::param(1),
                D::param(2),
                D::on_user_conflict_set(&["locked"])
            ),
            set_visibility: format!(
                "INSERT INTO followgraph_accounts \
                 (user_id, followers_visibility, following_visibility) VALUES ({}, {}, {}) {}",
                D::param(1),
                D::param(2),
                D::param(3),
                D::on_user_conflict_set(&["followers_visibility", "following_visibility"])
            ),
            set_relations: format!(
                "INSERT INTO user_relation \
                 (user_id, target_user_id, relation, create_time, update_time) {} {}",
                D::UPSERT_SOURCE,
                D::UPSERT_UPDATE
            ),
            lock_counters: format!(
                "INSERT INTO followgraph_counts (user_id) SELECT u.id FROM {} WHERE true \
                 ORDER BY u.id {}",
                D::id_rows(1, "u"),
                D::COUNTER_LOCK
            ),
            recount_ids: recount_ids::<D>(),
            recount_set: recount_set::<D>(),
            first_count_advance: format!(
                "UPDATE followgraph_first_count SET after_user_id = {}",
                D::param(1)
            ),
            last_event_seqs: format!(
                "SELECT {} AS user_id, {} AS seq FROM followgraph_events WHERE {} \
                 GROUP BY user_id",
                D::int("user_id"),
                D::int("MAX(seq)"),
                D::id_in("user_id", 1)
            ),
            insert_events: format!(
                "INSERT INTO followgraph_events (user_id, seq, kind, actor_id, at_micros) {}",
                D::EVENT_SOURCE
            ),
            events_after: format!(
                "SELECT {}, {}, {}, {} FROM followgraph_events \
                 WHERE user_id = {} AND seq > {} ORDER BY seq LIMIT {}",
                D::int("seq"),
                D::int("kind"),
                D::int("actor_id"),
                D::int("at_micros"),
                D::param(1),
                D::param(2),
                D::param(3)
            ),
            drop_old_events: D::drop_old_events(),
            list_for_repair: format!(
                "INSERT INTO followgraph_cache_repair (user_id, listed_at) SELECT u.id, {} \
                 FROM {} WHERE true {}",
                D::param(1),
                D::id_rows(2, "u"),
                D::on_user_conflict_set(&["listed_at"])
            ),
            users_to_repair: format!(
                "SELECT {}, {} FROM followgraph_cache_repair ORDER BY user_id LIMIT 1000",
                D::int("user_id"),
                D::int("listed_at")
            ),
            repaired: format!(
                "DELETE FROM followgraph_cache_repair WHERE user_id = {} AND listed_at = {}",
                D::param(1),
                D::param(2)
            ),
            following_pages: D::pages(Side::Following),
            followers_pages: D::pages(Side::Followers),
            following_lists: lists(Side::Following),
            followers_lists: lists(Side::Followers),
        }
    }

    /// Pages of many owners' lists; see [`Dialect::pages`].
    pub(crate) fn pages(&self, side: Side) -> &str {
        match side {
            Side::Following => &self.following_pages,
            Side::Followers => &self.followers_pages,
        }
    }

    /// Every entry of many owners' lists, as `(owner, other, update_time)`.
    pub(crate) fn lists(&self, side: Side) -> &str {
        match side {
            Side::Following => &self.following_lists,
            Side::Followers => &self.followers_lists,
        }
    }
}

/// The pending requests whose requesters are still in `user_basic`, so that a page of them
/// and their count agree.
const REQUESTERS: &str =
    "followgraph_follow_requests JOIN user_basic ON user_basic.user_id = requester_id";

/// Most events one statement of the retention cleanup deletes.
const EVENT_CLEANUP_BATCH: usize = 1000;

/// The retention cleanup's choice of rows: one batch of the oldest events before `{before}`,
/// none of them its user's latest.
pub(super) fn old_events(before: &str) -> String {
    format!(
        "SELECT o.user_id, o.seq FROM followgraph_events o WHERE o.at_micros < {before} \
         AND EXISTS (SELECT 1 FROM followgraph_events n WHERE n.user_id = o.user_id AND n.seq > o.seq) \
         ORDER BY o.at_micros LIMIT {EVENT_CLEANUP_BATCH}"
    )
}

/// Most users a recount's batch takes: each batch is one short transaction, so that writers of
/// its users wait at most for one batch's count (a star's million rows take about 0.1 s).
pub(super) const RECOUNT_BATCH: usize = 1000;

/// The next [`RECOUNT_BATCH`] user ids above the one bound three times (`$1`–`$3`), in order:
/// every user with rows either way or a counter. Each branch stops after a batch's worth of
/// distinct ids in its index, so a batch reads about as many index entries as its users' rows.
fn recount_ids<D: Dialect>() -> String {
    let after = |n, column: &str, table: &str, distinct: &str| {
        format!(
            "SELECT id FROM (SELECT {distinct} {column} AS id FROM {table} WHERE {column} > {} \
             ORDER BY id LIMIT {RECOUNT_BATCH}) AS {table}_{n}",
            D::param(n)
        )
    };
    format!(
        "SELECT {} AS id FROM ({} UNION {} UNION {}) AS ids ORDER BY id LIMIT {RECOUNT_BATCH}",
        D::int("id"),
        after(1, "user_id", "user_relation", "DISTINCT"),
        after(2, "target_user_id", "user_relation", "DISTINCT"),
        after(3, "user_id", "followgraph_counts", "")
    )
}

/// Sets the counters of the users bound at `$1` that differ from their committed rows; the
/// rows it changes are the differences found.
/// Sets the counters of a batch's users (bound at `$3`, between `$1` and `$2`, its first and
/// last ids) to their rows' counts where they differ. The range bounds the counters read to the
/// batch's part of the primary key: MySQL and MariaDB do not turn `IN (subquery)` into index
/// lookups in an UPDATE, so without it each batch scanned every counter (the first count of
/// 100,000 users slowed from 1 s a batch to 7).
fn recount_set<D: Dialect>() -> String {
    let count = |column| {
        format!(
            "(SELECT COUNT(*) FROM user_relation r \
             WHERE r.{column} = followgraph_counts.user_id AND r.relation = 1)"
        )
    };
    let (following, followers) = (count("user_id"), count("target_user_id"));
    format!(
        "UPDATE followgraph_counts SET following = {following}, followers = {followers} \
         WHERE user_id BETWEEN {} AND {} AND {} \
         AND (following <> {following} OR followers <> {followers})",
        D::param(1),
        D::param(2),
        D::id_in("user_id", 3)
    )
}

/// `(owner column, other column)` of a side: a user's followings are rows it owns (`user_id`),
/// its followers rows that point at it (`target_user_id`).
pub(super) fn columns(side: Side) -> (&'static str, &'static str) {
    match side {
        Side::Following => ("user_id", "target_user_id"),
        Side::Followers => ("target_user_id", "user_id"),
    }
}

/// The keyset condition of a page: entries strictly after the cursor `($2, $3)` in list order
/// (newest first, ties by the other user's id), for `other` the other user's column.
///
/// The first term alone bounds the index range: with only the disjunction, PostgreSQL starts at
/// the top of the owner's index entries and filters every entry before the cursor (a page
/// 10,000 pages deep in a star's followers read 200,000 entries and cost 50 first pages).
pub(super) fn after_cursor(other: &str) -> String {
    format!("update_time <= $2 AND (update_time < $2 OR {other} > $3)")
}

/// One 64-bit key for the unordered pair, the same whichever user acts. A collision only makes
/// two pairs wait for each other.
pub(super) fn pair_lock_key(a: UserId, b: UserId) -> i64 {
    let (low, high) = if a < b { (a.get(), b.get()) } else { (b.get(), a.get()) };
    low.wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as i64) ^ high
}
