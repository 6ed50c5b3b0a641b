-- The scale graph of bench/run, in a database `followgraph migrate` has just made: :n_users users,
-- :per_user follows of each (targets spread over everyone above the stars, no repeat), and users
-- 1..:stars followed by every user but themselves and the bench's viewers (ids ≡ :viewer_mod
-- mod :viewer_step), who follow and unfollow the stars during the run. Every row at a
-- pseudo-random time. Written with the counting triggers off and the secondary indexes dropped
-- (rebuilt after the rows, as a bulk load would be), then counted by the next `migrate`: the
-- progress row inserted at the end asks for the first count, which bench/run times.
SET session_replication_role = replica;
SET maintenance_work_mem = '1GB';

CREATE TEMP TABLE saved_indexes AS
SELECT indexdef FROM pg_indexes WHERE tablename = 'user_relation'
  AND indexname NOT IN ('user_relation_pkey', 'user_relation_pair');
ALTER TABLE user_relation DROP CONSTRAINT user_relation_pair;
SELECT format('DROP INDEX %s', indexname) FROM pg_indexes WHERE tablename = 'user_relation'
  AND indexname NOT IN ('user_relation_pkey', 'user_relation_pair') \gexec

INSERT INTO user_basic (user_id, user_name)
SELECT id, 'user ' || id FROM generate_series(1, :n_users) AS id;

-- For user u the k-th target is u + k·33331 + (u·7919 mod 33331), wrapping: distinct for
-- distinct k and never u itself while :per_user · 33331 + 33331 < :n_users.
INSERT INTO user_relation (user_id, target_user_id, relation, create_time, update_time)
SELECT u, t, 1, at, at FROM (
  SELECT u, (u - 1 + k * 33331 + (u * 7919) % 33331) % :n_users + 1 AS t,
         timestamptz '2024-01-01 00:00:00+00'
           + ((u * 2654435761 + k * 40503) % 100000000) * interval '1 second' AS at
  FROM generate_series(1::bigint, :n_users) AS u, generate_series(1::bigint, :per_user) AS k
) AS pairs WHERE t > :stars
UNION ALL
SELECT u, s, 1, at, at FROM (
  SELECT u, s, timestamptz '2024-01-01 00:00:00+00'
           + ((u * 2654435761 + s * 40503) % 100000000) * interval '1 second' AS at
  FROM generate_series(1::bigint, :stars) AS s, generate_series(1::bigint, :n_users) AS u
) AS star_rows WHERE u <> s AND u % :viewer_step <> :viewer_mod;

ALTER TABLE user_relation ADD CONSTRAINT user_relation_pair UNIQUE (user_id, target_user_id);
SELECT indexdef FROM saved_indexes \gexec
INSERT INTO followgraph_first_count (after_user_id) VALUES (0);
VACUUM ANALYZE user_basic;
VACUUM ANALYZE user_relation;
