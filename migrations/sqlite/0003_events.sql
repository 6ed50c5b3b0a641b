-- The event outbox (SPEC §10): one row per event, written by the write group in the
-- transaction of the change it tells of, so that an acknowledged follow never loses its event
-- and a rolled-back one never has one.
--
-- `seq` numbers the events about one user 1, 2, 3 … in commit order: every writer of a user's
-- events holds the user's counter row (followgraph_counts) from before it reads the user's
-- last `seq` until it commits. A subscriber resumes after a `seq` and sees from the numbers
-- whether it missed one. The retention cleanup keeps each user's latest event, so a number is
-- never given twice. Times are microseconds since the Unix epoch, the same on every backend.
CREATE TABLE IF NOT EXISTS followgraph_events (
    user_id   INTEGER  NOT NULL,
    seq       INTEGER  NOT NULL,
    kind      INTEGER  NOT NULL,
    actor_id  INTEGER  NOT NULL,
    at_micros INTEGER  NOT NULL,
    PRIMARY KEY (user_id, seq)
);

-- The retention cleanup walks the oldest events first.
CREATE INDEX IF NOT EXISTS followgraph_events_by_time ON followgraph_events (at_micros);
