-- Users whose cached data may be stale (SPEC §13): a write that could not mark them in Redis
-- lists them here in its own transaction, so the list survives the Redis outage that caused
-- it and the instance that wrote it. Every instance reads the list and keeps reads of these
-- users off Redis until one of them has had their cached data forgotten and deleted the row.
CREATE TABLE followgraph_cache_repair (
    user_id   BIGINT PRIMARY KEY,
    -- When the write listed the user, µs: a row listed again meanwhile is not deleted with
    -- the older listing that was repaired.
    listed_at BIGINT NOT NULL
);
