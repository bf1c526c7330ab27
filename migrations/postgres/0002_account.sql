-- Staff accounts with roles (issue 17, docs/accounts.md): one row per account, its role,
-- its password as an Argon2id PHC string (never the password itself), and when it was
-- disabled. Accounts are never deleted: the audit trail names them. `password_at` is when
-- the password was last set; a dashboard session opened before it ends.
-- The audit trail gains the account commands (`loa user add`, `passwd`, `disable`): its
-- action check is replaced in place (the append-only triggers do not fire on ALTER).
-- Never edit this file once applied: add a new migration instead.

CREATE TABLE account (
    name          TEXT   NOT NULL PRIMARY KEY,
    role          TEXT   NOT NULL CHECK (role IN ('viewer', 'operator', 'approver', 'admin')),
    password_hash TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    password_at   BIGINT NOT NULL,
    disabled_at   BIGINT
);

ALTER TABLE audit DROP CONSTRAINT audit_action_check;
ALTER TABLE audit ADD CONSTRAINT audit_action_check
    CHECK (action IN ('launch', 'pause', 'resume', 'cancel', 'edit', 'retry', 'login',
                      'logout', 'user_add', 'user_passwd', 'user_disable'));
