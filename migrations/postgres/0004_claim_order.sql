-- The claim's order in its index (PostgreSQL only; the SQLite set needs no counterpart).
-- A claim takes a channel's due rows oldest first, `ORDER BY next_attempt_at, id`. Every
-- SQLite index ends in the row id by itself, so SQLite's message_due (campaign, channel,
-- next_attempt_at) already hands the rows over in that order; PostgreSQL's does not, and
-- a claim then sorted every due row of its channel, which all share one due time when an
-- occurrence is enqueued (69 ms a claim with 150,000 due, 0.4 ms with `id` in the index,
-- measured). tests/it/store_schema_parity.rs reads a non-unique index ending in the row id
-- as SQLite's implicit one.
DROP INDEX message_due;
CREATE INDEX message_due ON message (campaign, channel, next_attempt_at, id)
    WHERE state = 'pending';
