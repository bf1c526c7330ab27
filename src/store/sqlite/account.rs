//! `account`: staff accounts on SQLite (see [`crate::store::account`]).

use anyhow::Context;

use super::SqliteLedger;
use crate::account::{PasswordHash, Role};
use crate::store::account::{COLUMNS, Stored, account_row};
use crate::store::{AccountError, AccountRow, Millis};

impl SqliteLedger {
    pub(crate) async fn add_account(
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

    pub(crate) async fn set_password(
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

    pub(crate) async fn disable_account(&self, name: &str, now: Millis) -> anyhow::Result<bool> {
        let mut w = self.write().await?;
        let at: Option<Millis> = sqlx::query_scalar(
            "UPDATE account SET disabled_at = COALESCE(disabled_at, ?) WHERE name = ? \
             RETURNING disabled_at",
        )
        .bind(now)
        .bind(name)
        .fetch_optional(&mut *w.tx)
        .await
        .with_context(|| format!("disabling account {name:?}"))?;
        let Some(at) = at else {
            return Err(AccountError::Unknown(name.to_owned()).into());
        };
        w.commit().await?;
        Ok(at == now)
    }

    pub(crate) async fn account(&self, name: &str) -> anyhow::Result<Option<AccountRow>> {
        let sql = format!("SELECT {COLUMNS} FROM account WHERE name = ?");
        let row: Option<Stored> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(name)
            .fetch_optional(self.pool())
            .await
            .with_context(|| format!("reading account {name:?}"))?;
        row.map(account_row).transpose()
    }

    pub(crate) async fn accounts(&self) -> anyhow::Result<Vec<AccountRow>> {
        let sql = format!("SELECT {COLUMNS} FROM account ORDER BY name");
        let rows: Vec<Stored> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(self.pool())
            .await
            .context("reading the accounts")?;
        rows.into_iter().map(account_row).collect()
    }

    pub(crate) async fn has_accounts(&self) -> anyhow::Result<bool> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM account)")
            .fetch_one(self.pool())
            .await
            .context("reading the accounts")
    }
}

#[cfg(test)]
mod tests {
    use crate::store::Store;
    use crate::store::test_support::*;

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
}
