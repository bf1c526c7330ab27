-- The HTTP side (issue 4): suppressions recorded by unsubscribe links, callback ids
-- already seen (replay protection), and finding a message by its provider's id.
-- Never edit this file once applied: add a new migration instead.

-- Addresses that must not be sent to again (SPEC §6 `skipped`: opted out, suppressed).
-- One row per address, compared case-insensitively: suppressing too broadly is the safe
-- error. channel_kind NULL means every channel; message is the message_id whose link
-- (or receipt) caused it.
CREATE TABLE suppression (
    address      TEXT    NOT NULL COLLATE NOCASE PRIMARY KEY,
    channel_kind TEXT,
    reason       TEXT    NOT NULL CHECK (reason IN ('unsubscribed', 'bounced', 'complained',
                                                     'operator')),
    at           INTEGER NOT NULL,
    message      TEXT
) STRICT;

-- Delivery callbacks already applied, by source ('zalo', 'webhook/<channel>') and the
-- sender's id (webhook id header, Zalo msg_id): a replay finds its row and changes
-- nothing (reliability-security R12). Rows older than the signature tolerance can go.
CREATE TABLE callback_seen (
    source TEXT    NOT NULL,
    id     TEXT    NOT NULL,
    at     INTEGER NOT NULL,
    PRIMARY KEY (source, id)
) STRICT, WITHOUT ROWID;

CREATE INDEX callback_seen_at ON callback_seen (at);

-- Receipts that arrived before their message was recorded `sent` (the provider answered
-- the send and delivered while the batch was still being sent, or a rescued lease is
-- waiting to be retried). Applied, with their event, once the message is `sent`; dropped
-- if it ends in another state. One per message: the first wins.
CREATE TABLE receipt_early (
    message     INTEGER NOT NULL PRIMARY KEY REFERENCES message (id) ON DELETE CASCADE,
    source      TEXT    NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('delivered', 'failed')),
    at          INTEGER,
    error       TEXT,
    received_at INTEGER NOT NULL
) STRICT;

-- Zalo receipts may name a message by the provider's msg_id only. Partial, so rows
-- without a provider id (most of a fresh campaign) cost nothing here.
CREATE INDEX message_provider_id ON message (provider_id) WHERE provider_id IS NOT NULL;
