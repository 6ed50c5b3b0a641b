//! What PostgreSQL says differently: id lists bind as one `bigint[]`, and a pair of users is
//! serialized with a transaction-scoped advisory lock.

use sqlx::migrate::Migrator;

pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// Serializes every write between two users, whichever of them acts. A row lock cannot do it:
/// the rows may not exist yet, and the rule "a blocked user cannot follow" reads the reverse row.
/// The key mixes the unordered pair; a collision only makes two pairs wait for each other.
pub const LOCK_PAIR: &str = "SELECT pg_advisory_xact_lock($1)";

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
