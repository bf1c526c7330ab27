-- no-transaction
-- Cheaper state checks (issue: delivery, acceptance 4). SQLite evaluates a CHECK of the
-- form `x IN ('a', 'b', …)` at a cost of about 10,000 instructions a row (SQLite 3.51,
-- counted with callgrind), which was 45 % of inserting a message row; the same rule
-- written as `x = 'a' OR x = 'b' OR …` costs about 300. The rules are unchanged: the
-- same states and outcomes are allowed, and every stored row already satisfies them.
--
-- SQLite cannot alter a CHECK constraint in place, so `message` and `attempt` are rebuilt
-- by the procedure of SQLite's ALTER TABLE documentation: foreign keys off (dropping
-- `message` with them on would cascade to its attempts and events), copy every row with
-- its id (so every reference to it holds as before), drop, rename, indexes again, all in
-- one transaction: a failure leaves the ledger as it was and the next start tries again.
-- Never edit this file once applied: add a new migration instead.

PRAGMA foreign_keys = OFF;

BEGIN IMMEDIATE;

CREATE TABLE message_rebuilt (
    id              INTEGER NOT NULL PRIMARY KEY,
    tag             TEXT    NOT NULL,
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
    state           TEXT    NOT NULL CHECK (state = 'pending' OR state = 'sending'
                                            OR state = 'sent' OR state = 'delivered'
                                            OR state = 'failed' OR state = 'expired'
                                            OR state = 'skipped' OR state = 'cancelled'),
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
    message_id      TEXT GENERATED ALWAYS AS ('m' || printf('%x', id) || '-' || tag) VIRTUAL,
    UNIQUE (campaign, step, occurrence_n, recipient, channel)
) STRICT;

INSERT INTO message_rebuilt (id, tag, campaign, step, occurrence_id, occurrence_at,
    occurrence_n, recipient, channel, fallback_of, address, state, attempts,
    next_attempt_at, lease_owner, lease_until, expires_at, context, last_error, last_code,
    provider_id, queued_at, sent_at, delivered_at, updated_at)
SELECT id, tag, campaign, step, occurrence_id, occurrence_at, occurrence_n, recipient,
    channel, fallback_of, address, state, attempts, next_attempt_at, lease_owner,
    lease_until, expires_at, context, last_error, last_code, provider_id, queued_at,
    sent_at, delivered_at, updated_at
FROM message ORDER BY id;

DROP TABLE message;
ALTER TABLE message_rebuilt RENAME TO message;

CREATE INDEX message_due ON message (campaign, channel, next_attempt_at) WHERE state = 'pending';
CREATE INDEX message_leased ON message (lease_until) WHERE state = 'sending';
CREATE INDEX message_provider_id ON message (provider_id) WHERE provider_id IS NOT NULL;

CREATE TABLE attempt_rebuilt (
    id          INTEGER NOT NULL PRIMARY KEY,
    message_id  INTEGER NOT NULL REFERENCES message (id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER NOT NULL,
    outcome     TEXT    NOT NULL CHECK (outcome = 'sent' OR outcome = 'transient'
                                        OR outcome = 'permanent'),
    code        TEXT,
    error       TEXT,
    duration_ms INTEGER NOT NULL
) STRICT;

INSERT INTO attempt_rebuilt (id, message_id, attempt, started_at, finished_at, outcome,
    code, error, duration_ms)
SELECT id, message_id, attempt, started_at, finished_at, outcome, code, error, duration_ms
FROM attempt ORDER BY id;

DROP TABLE attempt;
ALTER TABLE attempt_rebuilt RENAME TO attempt;

CREATE INDEX attempt_message ON attempt (message_id);

COMMIT;

PRAGMA foreign_keys = ON;
