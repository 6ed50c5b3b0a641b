//! What SQLite says differently: id lists bind as one JSON array read with `json_each`, and
//! writes are serialized by the single writer connection taking the file lock up front.

use sqlx::migrate::Migrator;

pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// `IMMEDIATE` takes the write lock at `BEGIN`, so the rules read a state no one else can
/// change before the transaction commits.
pub const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

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
