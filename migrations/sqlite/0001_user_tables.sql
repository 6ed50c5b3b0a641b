-- The two legacy tables, mapped from the Toutiao MySQL schema to SQLite (the embedded default).
--
-- user_basic belongs to the legacy user service: followgraph reads it and writes it only when it
-- seeds demo users or tests. Every column past user_id and user_name is nullable or has a default.
CREATE TABLE IF NOT EXISTS user_basic (
    user_id         INTEGER PRIMARY KEY,
    account         TEXT,
    email           TEXT,
    status          INTEGER NOT NULL DEFAULT 1,
    mobile          TEXT,
    password        TEXT,
    user_name       TEXT    NOT NULL,
    profile_photo   TEXT,
    last_login      TEXT,
    is_media        INTEGER NOT NULL DEFAULT 0,
    article_count   INTEGER NOT NULL DEFAULT 0,
    following_count INTEGER NOT NULL DEFAULT 0,
    fans_count      INTEGER NOT NULL DEFAULT 0,
    like_count      INTEGER NOT NULL DEFAULT 0,
    read_count      INTEGER NOT NULL DEFAULT 0,
    introduction    TEXT,
    certificate     TEXT,
    is_verified     INTEGER NOT NULL DEFAULT 0
);

-- One row per ordered pair; relation 0 none, 1 follow, 2 blacklist; rows are never deleted.
-- Times are RFC 3339 text in UTC as sqlx writes chrono values; the format sorts as time does.
CREATE TABLE IF NOT EXISTS user_relation (
    relation_id    INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id        INTEGER NOT NULL,
    target_user_id INTEGER NOT NULL,
    relation       INTEGER NOT NULL DEFAULT 0 CHECK (relation IN (0, 1, 2)),
    create_time    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    update_time    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    CONSTRAINT user_relation_pair UNIQUE (user_id, target_user_id),
    CHECK (user_id <> target_user_id)
);

-- Followings, blacklist and counts of a user, newest first with ties by id.
CREATE INDEX IF NOT EXISTS user_relation_by_user
    ON user_relation (user_id, relation, update_time DESC, target_user_id);

-- Followers of a user.
CREATE INDEX IF NOT EXISTS user_relation_by_target
    ON user_relation (target_user_id, relation, update_time DESC, user_id);
