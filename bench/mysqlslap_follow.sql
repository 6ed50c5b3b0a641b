SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED;
SET @uid = FLOOR(1 + RAND() * N_USERS), @target = FLOOR(1 + RAND() * N_USERS);
SET @target = IF(@target = @uid, @target % N_USERS + 1, @target);
START TRANSACTION;
SELECT user_id FROM user_basic WHERE user_id = @target;
SELECT user_id, relation FROM user_relation WHERE (user_id = @uid AND target_user_id = @target) OR (user_id = @target AND target_user_id = @uid);
INSERT INTO user_relation (user_id, target_user_id, relation, create_time, update_time) VALUES (@uid, @target, 1, NOW(), NOW()) ON DUPLICATE KEY UPDATE relation = VALUES(relation), update_time = VALUES(update_time);
COMMIT;
