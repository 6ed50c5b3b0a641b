-- Following and follower counts per user, kept by the database itself (SPEC §12): reading a
-- user's counts is one primary-key lookup however many followers it has, and every row change
-- is counted, whoever makes it (the service, the legacy app, a bulk import).
--
-- Statement-level triggers with transition tables: a statement that changes many rows (the
-- service's grouped upsert, a bulk insert) moves each user's counter once, by the sum of its
-- changes, not once per row, so a star followed by many at once is one update per group. The
-- service locks the counters of a group's users in id order before its upsert, and the upsert
-- here goes in id order too, so concurrent writers cannot deadlock on counters.
CREATE TABLE IF NOT EXISTS followgraph_counts (
    user_id   BIGINT PRIMARY KEY,
    following BIGINT NOT NULL DEFAULT 0,
    followers BIGINT NOT NULL DEFAULT 0
);

-- Adds follow changes (owner, target, +1 or -1) to both users' counters.
CREATE OR REPLACE FUNCTION followgraph_add_counts(owners BIGINT[], targets BIGINT[], deltas INT[])
RETURNS void LANGUAGE sql AS $$
    INSERT INTO followgraph_counts AS c (user_id, following, followers)
    SELECT id, sum(f), sum(g) FROM (
        SELECT o AS id, d AS f, 0 AS g FROM unnest(owners, deltas) AS x(o, d)
        UNION ALL
        SELECT t, 0, d FROM unnest(targets, deltas) AS y(t, d)
    ) AS changes
    GROUP BY id HAVING sum(f) <> 0 OR sum(g) <> 0
    ORDER BY id
    ON CONFLICT (user_id) DO UPDATE
        SET following = c.following + excluded.following,
            followers = c.followers + excluded.followers
$$;

CREATE OR REPLACE FUNCTION followgraph_count_inserts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM followgraph_add_counts(array_agg(user_id), array_agg(target_user_id), array_agg(1))
    FROM new_rows WHERE relation = 1;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION followgraph_count_updates() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM followgraph_add_counts(array_agg(o), array_agg(t), array_agg(d)) FROM (
        SELECT user_id AS o, target_user_id AS t, 1 AS d FROM new_rows WHERE relation = 1
        UNION ALL
        SELECT user_id, target_user_id, -1 FROM old_rows WHERE relation = 1
    ) AS changes;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION followgraph_count_deletes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM followgraph_add_counts(array_agg(user_id), array_agg(target_user_id), array_agg(-1))
    FROM old_rows WHERE relation = 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER followgraph_count_inserts AFTER INSERT ON user_relation
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION followgraph_count_inserts();
CREATE TRIGGER followgraph_count_updates AFTER UPDATE ON user_relation
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION followgraph_count_updates();
CREATE TRIGGER followgraph_count_deletes AFTER DELETE ON user_relation
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION followgraph_count_deletes();

-- The counters start from the rows that exist now: `followgraph migrate` (and `serve`, which
-- migrates first) counts them right after this migration, a batch of users per transaction
-- while writers go on, exact however they interleave (src/db/recount.rs). This row records how
-- far it got, so that a count cut off half-way resumes; it is deleted when the count is done.
CREATE TABLE followgraph_first_count (after_user_id BIGINT NOT NULL);
INSERT INTO followgraph_first_count (after_user_id) VALUES (0);
