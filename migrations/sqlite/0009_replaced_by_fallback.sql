-- no-transaction
-- A message whose recipient the step's fallback took over (issue 14, item 3): when none of
-- a step's channels could reach a recipient and the fallback channel has an address, the
-- step channels' `failed` messages become `replaced`. They are not failures any more: not
-- listed as such, and never retried (`loa retry` and the dashboard retry `failed` ones);
-- what happens to the recipient is the fallback message's own state.
--
-- SQLite cannot alter a CHECK constraint in place, so `message` is rebuilt as migration
-- 0007 did (the same procedure, the same columns and indexes, `pruned_at` of 0008 kept),
-- with one more state in the `=` chain. Every stored row already satisfies the new check.
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
                                            OR state = 'skipped' OR state = 'cancelled'
                                            OR state = 'replaced'),
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
    pruned_at       INTEGER,
    UNIQUE (campaign, step, occurrence_n, recipient, channel)
) STRICT;

INSERT INTO message_rebuilt (id, tag, campaign, step, occurrence_id, occurrence_at,
    occurrence_n, recipient, channel, fallback_of, address, state, attempts,
    next_attempt_at, lease_owner, lease_until, expires_at, context, last_error, last_code,
    provider_id, queued_at, sent_at, delivered_at, updated_at, pruned_at)
SELECT id, tag, campaign, step, occurrence_id, occurrence_at, occurrence_n, recipient,
    channel, fallback_of, address, state, attempts, next_attempt_at, lease_owner,
    lease_until, expires_at, context, last_error, last_code, provider_id, queued_at,
    sent_at, delivered_at, updated_at, pruned_at
FROM message ORDER BY id;

DROP TABLE message;
ALTER TABLE message_rebuilt RENAME TO message;

CREATE INDEX message_due ON message (campaign, channel, next_attempt_at) WHERE state = 'pending';
CREATE INDEX message_leased ON message (lease_until) WHERE state = 'sending';
CREATE INDEX message_provider_id ON message (provider_id) WHERE provider_id IS NOT NULL;

COMMIT;

PRAGMA foreign_keys = ON;
