-- Four-eyes approval of the exact content (issue 17, docs/approval.md): one row per
-- request (`loa submit`, the dashboard's "request approval") and per approval (`loa
-- approve`, the dashboard's "approve") of one version of a campaign, named by its approval
-- hash (`campaign::approval_hash`: the campaign file, its templates, its data columns).
-- `approvers` is how many different approvers that version needs (2 when a step reaches
-- more recipients than `approval: { second_above: N }`), as counted when the row was made.
-- A version is approved once it was requested and enough accounts other than the
-- requester approved it. The same account acting twice on one version is one row.
-- The audit trail gains the two actions: `audit` is rebuilt as in 0010, with every row,
-- its index and both append-only triggers.
-- Never edit this file once applied: add a new migration instead.

CREATE TABLE approval (
    id           INTEGER NOT NULL PRIMARY KEY,
    campaign     TEXT    NOT NULL,
    content_hash TEXT    NOT NULL,
    action       TEXT    NOT NULL CHECK (action IN ('request', 'approve')),
    account      TEXT    NOT NULL,
    approvers    INTEGER NOT NULL CHECK (approvers >= 1) CHECK (approvers <= 2),
    at           INTEGER NOT NULL,
    UNIQUE (campaign, content_hash, action, account)
) STRICT;

CREATE TABLE audit_rebuilt (
    id           INTEGER NOT NULL PRIMARY KEY,
    at           INTEGER NOT NULL,
    actor        TEXT    NOT NULL,
    action       TEXT    NOT NULL CHECK (action IN ('launch', 'pause', 'resume', 'cancel',
                                                     'edit', 'retry', 'login', 'logout',
                                                     'user_add', 'user_passwd',
                                                     'user_disable', 'submit', 'approve')),
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
