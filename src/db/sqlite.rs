//! What SQLite says differently: id lists bind as one JSON array read with `json_each`, and
//! writes are serialized by the single writer connection taking the file lock up front.

use sqlx::migrate::Migrator;

pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// `IMMEDIATE` takes the file's write lock at `BEGIN`, so the rules read a state that no other
/// process can change before the transaction commits (this process has one writer connection).
pub const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

pub const EXISTING_USERS: &str =
    "SELECT user_id FROM user_basic WHERE user_id IN (SELECT value FROM json_each($1))";

/// The rows named by `$1`, a JSON array of `[user, target]`; `CROSS JOIN` keeps the list as the
/// outer loop, so each row is one lookup in the pair's unique index.
pub const PAIR_RELATIONS: &str = "SELECT r.user_id, r.target_user_id, r.relation \
     FROM json_each($1) AS p CROSS JOIN user_relation r \
     ON r.user_id = json_extract(p.value, '$[0]') AND r.target_user_id = json_extract(p.value, '$[1]')";

/// One row; a group runs it once per row, in process.
pub const SET_RELATION: &str = "INSERT INTO user_relation \
     (user_id, target_user_id, relation, create_time, update_time) VALUES ($1, $2, $3, $4, $4) \
     ON CONFLICT (user_id, target_user_id) \
     DO UPDATE SET relation = excluded.relation, update_time = excluded.update_time";

pub const USERS: &str = "SELECT user_id, user_name, profile_photo FROM user_basic \
     WHERE user_id IN (SELECT value FROM json_each($1))";

pub const COUNTS: &str = "SELECT u.value AS user_id, \
     (SELECT count(*) FROM user_relation r WHERE r.user_id = u.value AND r.relation = 1) AS following, \
     (SELECT count(*) FROM user_relation r WHERE r.target_user_id = u.value AND r.relation = 1) AS followers \
     FROM json_each($1) AS u";

pub const RELATIONS_WITH: &str = "SELECT user_id, target_user_id, relation FROM user_relation \
     WHERE user_id = $1 AND target_user_id IN (SELECT value FROM json_each($2)) AND relation <> 0 \
     UNION ALL \
     SELECT user_id, target_user_id, relation FROM user_relation \
     WHERE target_user_id = $1 AND user_id IN (SELECT value FROM json_each($2)) AND relation <> 0";

/// Pages of many users' lists in one query. SQLite has no LATERAL, so a window function numbers
/// each user's entries in list order and keeps the first `$4`.
macro_rules! pages_sql {
    ($owner:literal, $other:literal) => {
        concat!(
            "SELECT owner, other, update_time FROM (SELECT ",
            $owner,
            " AS owner, ",
            $other,
            " AS other, update_time, ROW_NUMBER() OVER (PARTITION BY ",
            $owner,
            " ORDER BY update_time DESC, ",
            $other,
            ") AS n FROM user_relation ",
            "WHERE ",
            $owner,
            " IN (SELECT value FROM json_each($1)) AND relation = 1 ",
            "AND (update_time < $2 OR (update_time = $2 AND ",
            $other,
            " > $3))) WHERE n <= $4"
        )
    };
}

for_both_sides!(pages_sql, FOLLOWING_PAGES, FOLLOWERS_PAGES);

for_both_sides!(
    lists_sql,
    FOLLOWING_LISTS,
    FOLLOWERS_LISTS,
    " IN (SELECT value FROM json_each($1))"
);
