-- The message ledger (SPEC §5-§6; reliability plan §8).
--
-- Times are UTC epoch milliseconds (INTEGER); states are TEXT with CHECK
-- constraints; table names are singular. The PostgreSQL schema mirrors this
-- one column for column (BIGINT times, identity keys). Never edit this file
-- once applied: add a new migration instead.

CREATE TABLE campaign (
    id           TEXT    NOT NULL PRIMARY KEY,
    title        TEXT    NOT NULL,
    status       TEXT    NOT NULL CHECK (status IN ('draft', 'active', 'paused', 'done')),
    content_hash TEXT    NOT NULL,
    file         TEXT    NOT NULL,
    loaded_at    INTEGER NOT NULL
) STRICT;

-- One row per (campaign, step, n): an occurrence is expanded into messages
-- once. enqueued_at is set only after every message of it is inserted, so a
-- crash half-way through expansion re-runs the idempotent insert.
CREATE TABLE occurrence (
    id          INTEGER NOT NULL PRIMARY KEY,
    campaign    TEXT    NOT NULL REFERENCES campaign (id),
    step        TEXT    NOT NULL,
    n           INTEGER NOT NULL CHECK (n >= 0),
    at          INTEGER NOT NULL,
    enqueued_at INTEGER,
    UNIQUE (campaign, step, n)
) STRICT;

-- One row per (campaign, step, occurrence, recipient, channel), ever.
-- attempts is the fencing token: a claim increments it, and every later write
-- is conditional on (id, attempts, lease_owner).
CREATE TABLE message (
    id              INTEGER NOT NULL PRIMARY KEY,
    message_id      TEXT    NOT NULL,
    campaign        TEXT    NOT NULL REFERENCES campaign (id),
    step            TEXT    NOT NULL,
    occurrence_id   INTEGER NOT NULL REFERENCES occurrence (id),
    occurrence_at   INTEGER NOT NULL,
    occurrence_n    INTEGER NOT NULL CHECK (occurrence_n >= 0),
    recipient       TEXT    NOT NULL,
    channel         TEXT    NOT NULL,
    -- message.id of the row this one stands in for; informative, so no
    -- foreign key (which would need one more index to delete parents).
    fallback_of     INTEGER,
    address         TEXT,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'delivered',
                                                      'failed', 'expired', 'skipped', 'cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at INTEGER NOT NULL,
    lease_owner     TEXT,
    lease_until     INTEGER,
    expires_at      INTEGER NOT NULL,
    context         TEXT    NOT NULL,
    last_error      TEXT,
    last_code       TEXT,
    provider_id     TEXT,
    queued_at       INTEGER NOT NULL,
    sent_at         INTEGER,
    delivered_at    INTEGER,
    updated_at      INTEGER NOT NULL,
    UNIQUE (campaign, step, occurrence_n, recipient, channel)
) STRICT;

-- A named index rather than an inline UNIQUE, so that a later migration can replace it
-- (an inline constraint's index cannot be dropped without rebuilding the table). It is
-- the most expensive part of a large insert: message ids are hashes, so each batch
-- writes pages all over this index.
CREATE UNIQUE INDEX message_message_id ON message (message_id);

CREATE INDEX message_claim ON message (state, next_attempt_at);

CREATE TABLE attempt (
    id          INTEGER NOT NULL PRIMARY KEY,
    message_id  INTEGER NOT NULL REFERENCES message (id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER NOT NULL,
    outcome     TEXT    NOT NULL CHECK (outcome IN ('sent', 'transient', 'permanent')),
    code        TEXT,
    error       TEXT,
    duration_ms INTEGER NOT NULL
) STRICT;

CREATE INDEX attempt_message ON attempt (message_id);

-- Every state change of a message, with its time (SPEC §6).
CREATE TABLE message_event (
    id         INTEGER NOT NULL PRIMARY KEY,
    message    INTEGER NOT NULL REFERENCES message (id) ON DELETE CASCADE,
    at         INTEGER NOT NULL,
    from_state TEXT,
    to_state   TEXT    NOT NULL,
    detail     TEXT
) STRICT;

CREATE INDEX message_event_message ON message_event (message);

-- Small durable settings, e.g. a Zalo refresh token persisted before use.
CREATE TABLE kv (
    key        TEXT    NOT NULL PRIMARY KEY,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
