//! `account`: staff accounts (issue 17, docs/accounts.md) — a name, a role, an Argon2id
//! password hash, and when the account was disabled.
//!
//! Rows are never deleted: the audit trail names accounts, so a name, once taken, stays
//! taken (a disabled account cannot log in, and its sessions end at their next request).
//! Names, roles and hashes are checked and made in [`crate::account`]; this file only
//! keeps them. Who changed an account goes to the audit trail (the caller writes that row).

use anyhow::Context;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{Millis, Store};
use crate::account::{PasswordHash, Role};

/// One account as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountRow {
    pub name: String,
    pub role: Role,
    /// Prints as `[REDACTED]`.
    pub password_hash: PasswordHash,
    pub created_at: Millis,
    /// When the password was last set: sessions opened before it end.
    pub password_at: Millis,
    pub disabled_at: Option<Millis>,
}

impl AccountRow {
    pub fn is_disabled(&self) -> bool {
        self.disabled_at.is_some()
    }
}

/// Why an account change was refused, for the command to say.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AccountError {
    #[error("account {0:?} already exists; change its password with `loa user passwd {0}`")]
    Exists(String),
    #[error("there is no account {0:?}; `loa user list` shows the accounts")]
    Unknown(String),
}

const COLUMNS: &str = "name, role, password_hash, created_at, password_at, disabled_at";

fn account_row(row: &SqliteRow) -> anyhow::Result<AccountRow> {
    let role: String = row.try_get("role")?;
    Ok(AccountRow {
        name: row.try_get("name")?,
        role: role
            .parse()
            .map_err(|e: String| anyhow::anyhow!("account.role: {e}"))?,
        password_hash: PasswordHash::from_stored(row.try_get("password_hash")?),
        created_at: row.try_get("created_at")?,
        password_at: row.try_get("password_at")?,
        disabled_at: row.try_get("disabled_at")?,
    })
}

impl Store {
    /// Adds an account at `now`. Fails with [`AccountError::Exists`] when the name is
    /// taken, by an enabled or a disabled account.
    pub async fn add_account(
        &self,
        name: &str,
        role: Role,
        hash: &PasswordHash,
        now: Millis,
    ) -> anyhow::Result<()> {
        let mut w = self.write().await?;
        let done = sqlx::query(
            "INSERT INTO account (name, role, password_hash, created_at, password_at) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(role.as_str())
        .bind(hash.as_stored())
        .bind(now)
        .bind(now)
        .execute(&mut *w.tx)
        .await
        .with_context(|| format!("adding account {name:?}"))?;
        if done.rows_affected() == 0 {
            return Err(AccountError::Exists(name.to_owned()).into());
        }
        w.commit().await
    }

    /// Replaces the password of account `name` at `now`; its open sessions end.
    pub async fn set_password(
        &self,
        name: &str,
        hash: &PasswordHash,
        now: Millis,
    ) -> anyhow::Result<()> {
        let mut w = self.write().await?;
        let done =
            sqlx::query("UPDATE account SET password_hash = ?, password_at = ? WHERE name = ?")
                .bind(hash.as_stored())
                .bind(now)
                .bind(name)
                .execute(&mut *w.tx)
                .await
                .with_context(|| format!("changing the password of account {name:?}"))?;
        if done.rows_affected() == 0 {
            return Err(AccountError::Unknown(name.to_owned()).into());
        }
        w.commit().await
    }

    /// Disables account `name` at `now`. Returns whether it was enabled until now
    /// (disabling twice keeps the first time).
    pub async fn disable_account(&self, name: &str, now: Millis) -> anyhow::Result<bool> {
        let mut w = self.write().await?;
        let done = sqlx::query(
            "UPDATE account SET disabled_at = COALESCE(disabled_at, ?) WHERE name = ? \
             RETURNING disabled_at",
        )
        .bind(now)
        .bind(name)
        .fetch_optional(&mut *w.tx)
        .await
        .with_context(|| format!("disabling account {name:?}"))?;
        let Some(row) = done else {
            return Err(AccountError::Unknown(name.to_owned()).into());
        };
        let at: Millis = row.try_get("disabled_at")?;
        w.commit().await?;
        Ok(at == now)
    }

    /// Account `name`, enabled or not.
    pub async fn account(&self, name: &str) -> anyhow::Result<Option<AccountRow>> {
        let sql = format!("SELECT {COLUMNS} FROM account WHERE name = ?");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(name)
            .fetch_optional(self.pool())
            .await
            .with_context(|| format!("reading account {name:?}"))?;
        row.as_ref().map(account_row).transpose()
    }

    /// Every account, by name.
    pub async fn accounts(&self) -> anyhow::Result<Vec<AccountRow>> {
        let sql = format!("SELECT {COLUMNS} FROM account ORDER BY name");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(self.pool())
            .await
            .context("reading the accounts")?;
        rows.iter().map(account_row).collect()
    }

    /// Whether any account exists, enabled or not: while none does, `LOA_ADMIN_TOKEN` is the
    /// way into the dashboard.
    pub async fn has_accounts(&self) -> anyhow::Result<bool> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM account)")
            .fetch_one(self.pool())
            .await
            .context("reading the accounts")
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    fn phc(text: &str) -> PasswordHash {
        PasswordHash::from_stored(format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA${text}"))
    }

    #[tokio::test]
    async fn an_account_is_added_once_listed_by_name_and_keeps_its_hash() {
        let (_dir, store) = open().await;
        assert!(!store.has_accounts().await.unwrap());
        store
            .add_account("lan", Role::Operator, &phc("a"), T0)
            .await
            .unwrap();
        store
            .add_account("binh", Role::Viewer, &phc("b"), T0 + 1)
            .await
            .unwrap();
        let again = store
            .add_account("lan", Role::Admin, &phc("c"), T0 + 2)
            .await;
        let err = again.unwrap_err();
        assert_eq!(
            err.downcast_ref::<AccountError>(),
            Some(&AccountError::Exists("lan".into()))
        );
        assert!(err.to_string().contains("loa user passwd lan"), "{err}");
        let all = store.accounts().await.unwrap();
        let names: Vec<(&str, Role)> = all.iter().map(|a| (a.name.as_str(), a.role)).collect();
        assert_eq!(names, [("binh", Role::Viewer), ("lan", Role::Operator)]);
        let lan = store.account("lan").await.unwrap().unwrap();
        assert_eq!((lan.password_hash, lan.password_at), (phc("a"), T0));
        assert!(store.has_accounts().await.unwrap());
        assert_eq!(store.account("nobody").await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_new_password_replaces_the_hash_and_disabling_keeps_the_first_time() {
        let (_dir, store) = open().await;
        store
            .add_account("lan", Role::Admin, &phc("a"), T0)
            .await
            .unwrap();
        store
            .set_password("lan", &phc("new"), T0 + MINUTE)
            .await
            .unwrap();
        assert!(store.disable_account("lan", T0 + 2 * MINUTE).await.unwrap());
        assert!(!store.disable_account("lan", T0 + 3 * MINUTE).await.unwrap());
        let lan = store.account("lan").await.unwrap().unwrap();
        assert_eq!(lan.password_hash, phc("new"));
        assert_eq!(lan.password_at, T0 + MINUTE);
        assert_eq!(lan.disabled_at, Some(T0 + 2 * MINUTE));
        assert!(lan.is_disabled());
        for unknown in [
            store
                .set_password("ghost", &phc("x"), T0)
                .await
                .unwrap_err(),
            store.disable_account("ghost", T0).await.unwrap_err(),
        ] {
            assert_eq!(
                unknown.downcast_ref::<AccountError>(),
                Some(&AccountError::Unknown("ghost".into()))
            );
        }
    }

    #[tokio::test]
    async fn the_audit_trail_rebuilt_for_the_account_commands_keeps_its_rows_and_triggers() {
        let dir = tempfile::tempdir().unwrap();
        ledger_before(
            &dir,
            "0010",
            &[
                "INSERT INTO audit (at, actor, action, campaign) VALUES (1, 'cli:an', 'launch', 'c')",
                "INSERT INTO audit (at, actor, action) VALUES (2, 'dashboard', 'login')",
            ],
        )
        .await;
        let store = Store::open(&url(&dir)).await.unwrap();
        let entry = crate::store::AuditEntry {
            actor: "cli:an",
            action: crate::store::AuditAction::UserAdd,
            campaign: None,
            content_hash: None,
            audience: None,
            detail: Some("account lan, role viewer"),
        };
        store.audit(&entry, 3).await.unwrap();
        let rows = store.audit_log(None).await.unwrap();
        let seen: Vec<(i64, &str, &str)> = rows
            .iter()
            .map(|r| (r.id, r.actor.as_str(), r.action.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                (1, "cli:an", "launch"),
                (2, "dashboard", "login"),
                (3, "cli:an", "user_add")
            ]
        );
        for sql in ["UPDATE audit SET actor = 'x'", "DELETE FROM audit"] {
            let err = sqlx::query(sql).execute(store.pool()).await.unwrap_err();
            assert!(err.to_string().contains("append-only"), "{sql}: {err}");
        }
        let campaign_index = count(
            &store,
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'audit_campaign'",
        )
        .await;
        assert_eq!(campaign_index, 1);
    }

    #[tokio::test]
    async fn the_ledger_refuses_a_role_it_does_not_know() {
        let (_dir, store) = open().await;
        let err = sqlx::query(
            "INSERT INTO account (name, role, password_hash, created_at, password_at) \
             VALUES ('x', 'root', 'h', 0, 0)",
        )
        .execute(store.pool())
        .await
        .unwrap_err();
        assert!(err.to_string().contains("CHECK"), "{err}");
    }
}
