//! What PostgreSQL says differently: id lists bind as one `bigint[]`, and the pairs of a write
//! group are serialized with session-level advisory locks.

use sqlx::migrate::Migrator;

pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// Serializes every write between two users, whichever of them acts. A row lock cannot do it:
/// the rows may not exist yet, and the rule "a blocked user cannot follow" reads the reverse row.
/// Session-level, because the pairs stay held after the commit while the cache catches up. `$1`
/// holds a group's keys, sorted; the subquery's order is the order the locks are taken in.
pub const LOCK_PAIRS: &str = "SELECT pg_advisory_lock(k) \
     FROM (SELECT k FROM unnest($1::bigint[]) AS keys(k) ORDER BY k) AS sorted";
/// The write path's connection holds no advisory lock but its group's.
pub const UNLOCK_PAIRS: &str = "SELECT pg_advisory_unlock_all()";

pub const EXISTING_USERS: &str = "SELECT user_id FROM user_basic WHERE user_id = ANY($1::bigint[])";

/// The rows `($1[i] → $2[i])` that exist.
pub const PAIR_RELATIONS: &str = "SELECT r.user_id, r.target_user_id, r.relation \
     FROM unnest($1::bigint[], $2::bigint[]) AS p(u, t) \
     JOIN user_relation r ON r.user_id = p.u AND r.target_user_id = p.t";

/// A group's rows in one statement: the columns bind as four arrays.
pub const SET_RELATIONS: &str = "INSERT INTO user_relation \
     (user_id, target_user_id, relation, create_time, update_time) \
     SELECT u, t, r, at, at FROM unnest($1::bigint[], $2::bigint[], $3::smallint[], $4::timestamptz[]) \
     AS c(u, t, r, at) \
     ON CONFLICT (user_id, target_user_id) \
     DO UPDATE SET relation = excluded.relation, update_time = excluded.update_time";

pub const USERS: &str = "SELECT user_id, user_name, profile_photo FROM user_basic \
     WHERE user_id = ANY($1::bigint[])";

pub const COUNTS: &str = "SELECT u.id AS user_id, \
     (SELECT count(*) FROM user_relation r WHERE r.user_id = u.id AND r.relation = 1) AS following, \
     (SELECT count(*) FROM user_relation r WHERE r.target_user_id = u.id AND r.relation = 1) AS followers \
     FROM unnest($1::bigint[]) AS u(id)";

pub const RELATIONS_WITH: &str = "SELECT user_id, target_user_id, relation FROM user_relation \
     WHERE user_id = $1 AND target_user_id = ANY($2::bigint[]) AND relation <> 0 \
     UNION ALL \
     SELECT user_id, target_user_id, relation FROM user_relation \
     WHERE target_user_id = $1 AND user_id = ANY($2::bigint[]) AND relation <> 0";

/// Pages of many users' lists in one query: a LATERAL subquery per user walks the
/// `(user, relation, update_time, other)` index and stops after `$4` rows.
macro_rules! pages_sql {
    ($owner:literal, $other:literal) => {
        concat!(
            "SELECT u.id AS owner, r.other, r.update_time FROM unnest($1::bigint[]) AS u(id) ",
            "CROSS JOIN LATERAL (SELECT ",
            $other,
            " AS other, update_time FROM user_relation ",
            "WHERE ",
            $owner,
            " = u.id AND relation = 1 ",
            "AND (update_time < $2 OR (update_time = $2 AND ",
            $other,
            " > $3)) ",
            "ORDER BY update_time DESC, ",
            $other,
            " LIMIT $4) AS r"
        )
    };
}

for_both_sides!(pages_sql, FOLLOWING_PAGES, FOLLOWERS_PAGES);

for_both_sides!(lists_sql, FOLLOWING_LISTS, FOLLOWERS_LISTS, " = ANY($1::bigint[])");
