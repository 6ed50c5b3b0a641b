-- On MySQL the legacy tables exist already (the legacy init.sql made them) and followgraph never
-- changes a legacy column, constraint or row format: `followgraph migrate` checks them first and
-- adds only what the service owns, listed in docs/operations.md with their reasons and costs.
--
-- Followings and followers pages, newest first with ties by id: without these, a page of a user
-- with many rows sorts all of them, and a followers page (no index on target_user_id at all)
-- scans the whole table. Built online: reads and writes go on while InnoDB builds them.
ALTER TABLE user_relation
    ADD INDEX followgraph_by_user (user_id, relation, update_time, target_user_id),
    ADD INDEX followgraph_by_target (target_user_id, relation, update_time, user_id),
    ALGORITHM = INPLACE, LOCK = NONE;
