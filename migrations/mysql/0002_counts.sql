-- Following and follower counts per user, kept by the database itself (SPEC §12): reading a
-- user's counts is one primary-key lookup however many followers it has, and every row change
-- is counted, whoever makes it (the service or the legacy app). The service's own table and
-- triggers: no legacy column, constraint or row format changes.
--
-- MySQL has row-level triggers only: a statement moves a counter once per row it changes (the
-- rows of one statement share the counter's lock, so a group following one star waits on it
-- once). Each trigger touches its two counters in id order, and the service locks all of a
-- group's counters in id order before its upsert, so writers cannot deadlock on counters.
CREATE TABLE IF NOT EXISTS followgraph_counts (
    user_id   BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    following BIGINT NOT NULL DEFAULT 0,
    followers BIGINT NOT NULL DEFAULT 0
) ENGINE = InnoDB;

CREATE TRIGGER followgraph_count_inserts AFTER INSERT ON user_relation FOR EACH ROW
    INSERT INTO followgraph_counts (user_id, following, followers)
    SELECT id, f, g FROM (
        SELECT NEW.user_id AS id, 1 AS f, 0 AS g
        UNION ALL
        SELECT NEW.target_user_id, 0, 1
    ) AS changes
    WHERE NEW.relation = 1
    ORDER BY id
    ON DUPLICATE KEY UPDATE
        following = following + VALUES(following), followers = followers + VALUES(followers);

CREATE TRIGGER followgraph_count_updates AFTER UPDATE ON user_relation FOR EACH ROW
    INSERT INTO followgraph_counts (user_id, following, followers)
    SELECT id, SUM(f), SUM(g) FROM (
        SELECT OLD.user_id AS id, -(OLD.relation = 1) AS f, 0 AS g
        UNION ALL
        SELECT OLD.target_user_id, 0, -(OLD.relation = 1)
        UNION ALL
        SELECT NEW.user_id, NEW.relation = 1, 0
        UNION ALL
        SELECT NEW.target_user_id, 0, NEW.relation = 1
    ) AS changes
    GROUP BY id HAVING SUM(f) <> 0 OR SUM(g) <> 0
    ORDER BY id
    ON DUPLICATE KEY UPDATE
        following = following + VALUES(following), followers = followers + VALUES(followers);

CREATE TRIGGER followgraph_count_deletes AFTER DELETE ON user_relation FOR EACH ROW
    INSERT INTO followgraph_counts (user_id, following, followers)
    SELECT id, f, g FROM (
        SELECT OLD.user_id AS id, -1 AS f, 0 AS g
        UNION ALL
        SELECT OLD.target_user_id, 0, -1
    ) AS changes
    WHERE OLD.relation = 1
    ORDER BY id
    ON DUPLICATE KEY UPDATE
        following = following + VALUES(following), followers = followers + VALUES(followers);

-- The counters start from the rows that exist now: `followgraph migrate` (and `serve`, which
-- migrates first) counts them right after this migration, a batch of users per transaction
-- while writers go on, exact however they interleave (src/db/recount.rs). This row records how
-- far it got, so that a count cut off half-way resumes; it is deleted when the count is done.
CREATE TABLE followgraph_first_count (after_user_id BIGINT NOT NULL);
INSERT INTO followgraph_first_count (after_user_id) VALUES (0);
