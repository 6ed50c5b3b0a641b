-- The service's own state for locked accounts (SPEC §14), beside the legacy tables and never in
-- them: the legacy app reads and writes user_relation as before and never sees a request as a
-- follow.
--
-- A user's settings; a user without a row has the defaults (not locked).
CREATE TABLE IF NOT EXISTS followgraph_accounts (
    user_id INTEGER PRIMARY KEY,
    locked  INTEGER NOT NULL DEFAULT 0
);

-- Pending follow requests to locked accounts, one per (requester, target). Written and deleted
-- by the write group under the pair's lock, with the pair's user_relation rows, so a request
-- and a follow of one pair never both exist. Times are microseconds since the Unix epoch.
CREATE TABLE IF NOT EXISTS followgraph_follow_requests (
    target_id        INTEGER NOT NULL,
    requester_id     INTEGER NOT NULL,
    requested_micros INTEGER NOT NULL,
    PRIMARY KEY (target_id, requester_id)
);

-- followRequests pages a target's requests newest first.
CREATE INDEX IF NOT EXISTS followgraph_follow_requests_by_time
    ON followgraph_follow_requests (target_id, requested_micros, requester_id);
