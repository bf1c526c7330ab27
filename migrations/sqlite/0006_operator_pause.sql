-- Operator pauses (issue 4, the dashboard): a campaign paused from the dashboard stays
-- paused across restarts and overrides the YAML's `status: active` without editing the
-- file. One row per paused campaign; resuming deletes it (the audit trail keeps history).
-- Never edit this file once applied: add a new migration instead.

CREATE TABLE campaign_pause (
    campaign  TEXT    NOT NULL PRIMARY KEY REFERENCES campaign (id),
    paused_at INTEGER NOT NULL,
    by        TEXT    NOT NULL
) STRICT;
