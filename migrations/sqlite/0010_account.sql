-- Staff accounts with roles (issue 17, docs/accounts.md): one row per account, its role,
-- its password as an Argon2id PHC string (never the password itself), and when it was
-- disabled. Accounts are never deleted: the audit trail names them. `password_at` is when
-- the password was last set; a dashboard session opened before it ends.
-- The audit trail gains the account commands (`loa user add`, `passwd`, `disable`):
-- SQLite cannot alter a CHECK in place, so `audit` is rebuilt with every row, its index
-- and both append-only triggers (which DROP TABLE does not fire).
-- Never edit this file once applied: add a new migration instead.

CREATE TABLE account (
    name          TEXT    NOT NULL PRIMARY KEY,
    role          TEXT    NOT NULL CHECK (role IN ('viewer', 'operator', 'approver', 'admin')),
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    password_at   INTEGER NOT NULL,
    disabled_at   INTEGER
) STRICT;

CREATE TABLE audit_rebuilt (
    id           INTEGER NOT NULL PRIMARY KEY,
    at           INTEGER NOT NULL,
    actor        TEXT    NOT NULL,
    action       TEXT    NOT NULL CHECK (action IN ('launch', 'pause', 'resume', 'cancel',
                                                     'edit', 'retry', 'login', 'logout',
                                                     'user_add', 'user_passwd',
                                                     'user_disable')),
    campaign     TEXT,
    content_hash TEXT,
    audience     INTEGER CHECK (audience >= 0),
    detail       TEXT
) STRICT;

INSERT INTO audit_rebuilt (id, at, actor, action, campaign, content_hash, audience, detail)
SELECT id, at, actor, action, campaign, content_hash, audience, detail FROM audit ORDER BY id;

DROP TABLE audit;
ALTER TABLE audit_rebuilt RENAME TO audit;

CREATE INDEX audit_campaign ON audit (campaign, at);

CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit rows are append-only');
END;

CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit rows are append-only');
END;
