-- Following and follower counts per user, kept by the database itself (SPEC §12): reading a
-- user's counts is one primary-key lookup however many followers it has, and every row change
-- is counted, whoever makes it. SQLite has one writer at a time and row-level triggers only.
CREATE TABLE IF NOT EXISTS followgraph_counts (
    user_id   INTEGER PRIMARY KEY,
    following INTEGER NOT NULL DEFAULT 0,
    followers INTEGER NOT NULL DEFAULT 0
);

CREATE TRIGGER IF NOT EXISTS followgraph_count_inserts AFTER INSERT ON user_relation
WHEN NEW.relation = 1
BEGIN
    INSERT INTO followgraph_counts (user_id, following) VALUES (NEW.user_id, 1)
        ON CONFLICT (user_id) DO UPDATE SET following = following + 1;
    INSERT INTO followgraph_counts (user_id, followers) VALUES (NEW.target_user_id, 1)
        ON CONFLICT (user_id) DO UPDATE SET followers = followers + 1;
END;

CREATE TRIGGER IF NOT EXISTS followgraph_count_updates AFTER UPDATE ON user_relation
WHEN (OLD.relation = 1) <> (NEW.relation = 1)
  OR (NEW.relation = 1 AND (OLD.user_id <> NEW.user_id OR OLD.target_user_id <> NEW.target_user_id))
BEGIN
    INSERT INTO followgraph_counts (user_id, following) VALUES (OLD.user_id, -(OLD.relation = 1))
        ON CONFLICT (user_id) DO UPDATE SET following = following + excluded.following;
    INSERT INTO followgraph_counts (user_id, followers) VALUES (OLD.target_user_id, -(OLD.relation = 1))
        ON CONFLICT (user_id) DO UPDATE SET followers = followers + excluded.followers;
    INSERT INTO followgraph_counts (user_id, following) VALUES (NEW.user_id, NEW.relation = 1)
        ON CONFLICT (user_id) DO UPDATE SET following = following + excluded.following;
    INSERT INTO followgraph_counts (user_id, followers) VALUES (NEW.target_user_id, NEW.relation = 1)
        ON CONFLICT (user_id) DO UPDATE SET followers = followers + excluded.followers;
END;

CREATE TRIGGER IF NOT EXISTS followgraph_count_deletes AFTER DELETE ON user_relation
WHEN OLD.relation = 1
BEGIN
    UPDATE followgraph_counts SET following = following - 1 WHERE user_id = OLD.user_id;
    UPDATE followgraph_counts SET followers = followers - 1 WHERE user_id = OLD.target_user_id;
END;

-- The counters start from the rows that exist now: `followgraph migrate` (and `serve`, which
-- migrates first) counts them right after this migration, a batch of users per transaction
-- while writers go on, exact however they interleave (src/db/recount.rs). This row records how
-- far it got, so that a count cut off half-way resumes; it is deleted when the count is done.
CREATE TABLE IF NOT EXISTS followgraph_first_count (after_user_id BIGINT NOT NULL);
INSERT INTO followgraph_first_count (after_user_id) VALUES (0);
