-- The SQL of one follow on its own, for pgbench: does the target exist, both directions of the
-- pair, then the upsert, in one transaction. It is what a follow costs when each one is its own
-- transaction. followgraph sends the same three statements once per *group* of concurrent
-- writes (src/db/pair.rs, with arrays), plus the pair locks, so under load it can pass this
-- ceiling: that is the point of grouping.
--
--   pgbench -n -M prepared -f bench/pgbench_follow.sql -D n_users=100000 …   (bench/run does it)
\set uid random(1, :n_users)
\set target random(1, :n_users)
-- Never oneself (the service refuses it before any SQL): the next user instead, as the wrk
-- scripts pick their targets.
\set target case when :target = :uid then :target % :n_users + 1 else :target end
BEGIN;
SELECT user_id FROM user_basic WHERE user_id = :target;
SELECT user_id, relation FROM user_relation
  WHERE (user_id = :uid AND target_user_id = :target) OR (user_id = :target AND target_user_id = :uid);
INSERT INTO user_relation (user_id, target_user_id, relation, create_time, update_time)
  VALUES (:uid, :target, 1, now(), now())
  ON CONFLICT (user_id, target_user_id)
  DO UPDATE SET relation = excluded.relation, update_time = excluded.update_time;
COMMIT;
