-- Faster enqueue (issue: delivery, acceptance 4): the provider-facing message id is
-- derived from the row instead of being a second, randomly ordered unique key.
--
-- `tag` is a short hash of the message's identity (campaign, step, occurrence, recipient,
-- channel), computed when the row is inserted; `message_id` is `m<row id in hex>-<tag>`.
-- It is unique because row ids are, stable across retries and restarts because a row's id
-- never changes, and it leads back to its row through the primary key, so no index on
-- random hashes has to be kept up to date on every insert (that index cost more than half
-- of a large insert). The natural-key UNIQUE constraint still makes inserts idempotent.
--
-- Birth events are no longer written either: a message is born `pending` (or `skipped`,
-- with the reason in `last_error`) at `queued_at`; `message_event` records every change
-- after that.
DROP INDEX message_message_id;
ALTER TABLE message RENAME COLUMN message_id TO tag;
UPDATE message SET tag = substr(tag, 2, 16);
ALTER TABLE message ADD COLUMN message_id TEXT
    GENERATED ALWAYS AS ('m' || printf('%x', id) || '-' || tag) VIRTUAL;
DELETE FROM message_event WHERE from_state IS NULL;

-- The pump claims per campaign and channel, oldest due first: this index serves that
-- directly, instead of stepping over the due rows of every other (perhaps paused) channel.
-- It holds pending rows only, and leases have a small index of their own, so a message is
-- indexed as it becomes due, leaves at its claim, and its outcome touches no index of
-- states (a `sent` or `failed` row is in neither).
DROP INDEX message_claim;
CREATE INDEX message_due ON message (campaign, channel, next_attempt_at) WHERE state = 'pending';
CREATE INDEX message_leased ON message (lease_until) WHERE state = 'sending';
