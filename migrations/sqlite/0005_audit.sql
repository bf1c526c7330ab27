-- Who did what to which campaign, when, with which content (reliability-security §7
-- "Audit", R15). Append-only: the triggers below refuse every UPDATE and DELETE, so not
-- even loa's own connection can rewrite history. A retention policy for audit rows, if
-- one is ever needed, must come as a migration that says so.
-- Never edit this file once applied: add a new migration instead.

CREATE TABLE audit (
    id           INTEGER NOT NULL PRIMARY KEY,
    at           INTEGER NOT NULL,
    actor        TEXT    NOT NULL,
    action       TEXT    NOT NULL CHECK (action IN ('launch', 'pause', 'resume', 'cancel',
                                                     'edit', 'retry', 'login', 'logout')),
    campaign     TEXT,
    content_hash TEXT,
    audience     INTEGER CHECK (audience >= 0),
    detail       TEXT
) STRICT;

CREATE INDEX audit_campaign ON audit (campaign, at);

CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit rows are append-only');
END;

CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit rows are append-only');
END;
