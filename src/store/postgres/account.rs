//! `account`: staff accounts on PostgreSQL (see [`crate::store::account`]).

use anyhow::Context;

use super::PgLedger;
use crate::account::{PasswordHash, Role};
use crate::store::account::{COLUMNS, Stored, account_row};
use crate::store::{AccountError, AccountRow, Millis};

impl PgLedger {
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
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING",
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
            sqlx::query("UPDATE account SET password_hash = $1, password_at = $2 WHERE name = $3")
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
            "UPDATE account SET disabled_at = COALESCE(disabled_at, $1) WHERE name = $2 \
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
        let sql = format!("SELECT {COLUMNS} FROM account WHERE name = $1");
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
