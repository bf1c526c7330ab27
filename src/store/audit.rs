//! `audit`: an append-only trail of what staff did — launch, pause, resume, cancel, edit,
//! retry, log in and out — with the actor, the UTC time, the campaign, its content hash
//! and audience size (docs/reliability.md#r15).
//!
//! Rows are only ever inserted: SQLite triggers (migration 0005) abort any UPDATE or
//! DELETE on the table, whoever issues it.

use anyhow::Context;
use sqlx::Row;

use super::{Millis, Store, to_u64};

/// What was done, as stored in `audit.action`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditAction {
    Launch,
    Pause,
    Resume,
    Cancel,
    Edit,
    Retry,
    Login,
    Logout,
    /// `loa user add` (issue 17); the detail names the account and its role.
    UserAdd,
    /// `loa user passwd`; the detail names the account, never the password.
    UserPasswd,
    /// `loa user disable`; the detail names the account.
    UserDisable,
    /// `loa submit` or the dashboard's "request approval"; the actor is the account.
    Submit,
    /// `loa approve` or the dashboard's "approve"; the actor is the account.
    Approve,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Launch => "launch",
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Cancel => "cancel",
            Self::Edit => "edit",
            Self::Retry => "retry",
            Self::Login => "login",
            Self::Logout => "logout",
            Self::UserAdd => "user_add",
            Self::UserPasswd => "user_passwd",
            Self::UserDisable => "user_disable",
            Self::Submit => "submit",
            Self::Approve => "approve",
        }
    }
}

/// One entry to append.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry<'a> {
    /// Who: an account name, `token` (a `LOA_ADMIN_TOKEN` login), `cli:<user>`; never a
    /// recipient.
    pub actor: &'a str,
    pub action: AuditAction,
    pub campaign: Option<&'a str>,
    /// [`super::content_hash`] of the campaign file acted on.
    pub content_hash: Option<&'a str>,
    /// Recipients the action concerns, when known.
    pub audience: Option<u64>,
    pub detail: Option<&'a str>,
}

/// One stored audit row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRow {
    pub id: i64,
    pub at: Millis,
    pub actor: String,
    pub action: String,
    pub campaign: Option<String>,
    pub content_hash: Option<String>,
    pub audience: Option<u64>,
    pub detail: Option<String>,
}

impl Store {
    /// Appends `entry` at `now`; durable on return. Returns the row id.
    pub async fn audit(&self, entry: &AuditEntry<'_>, now: Millis) -> anyhow::Result<i64> {
        let audience = entry
            .audience
            .map(i64::try_from)
            .transpose()
            .context("audience size out of range")?;
        let mut w = self.write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO audit (at, actor, action, campaign, content_hash, audience, detail) \
             VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(now)
        .bind(entry.actor)
        .bind(entry.action.as_str())
        .bind(entry.campaign)
        .bind(entry.content_hash)
        .bind(audience)
        .bind(entry.detail)
        .fetch_one(&mut *w.tx)
        .await
        .context("appending to the audit trail")?;
        w.commit().await?;
        Ok(id)
    }

    /// The audit trail, oldest first; one campaign's when given.
    pub async fn audit_log(&self, campaign: Option<&str>) -> anyhow::Result<Vec<AuditRow>> {
        let rows = sqlx::query(
            "SELECT id, at, actor, action, campaign, content_hash, audience, detail FROM audit \
             WHERE ? IS NULL OR campaign = ? ORDER BY id",
        )
        .bind(campaign)
        .bind(campaign)
        .fetch_all(self.pool())
        .await
        .context("reading the audit trail")?;
        rows.iter()
            .map(|row| {
                Ok(AuditRow {
                    id: row.try_get("id")?,
                    at: row.try_get("at")?,
                    actor: row.try_get("actor")?,
                    action: row.try_get("action")?,
                    campaign: row.try_get("campaign")?,
                    content_hash: row.try_get("content_hash")?,
                    audience: row.try_get::<Option<i64>, _>("audience")?.map(to_u64),
                    detail: row.try_get("detail")?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    fn launch(campaign: &str) -> AuditEntry<'_> {
        AuditEntry {
            actor: "cán bộ truyền thông",
            action: AuditAction::Launch,
            campaign: Some(campaign),
            content_hash: Some("9f2c"),
            audience: Some(312),
            detail: None,
        }
    }

    #[tokio::test]
    async fn each_action_appends_exactly_one_row_with_its_facts() {
        let (_dir, store) = open().await;
        store.audit(&launch("c"), T0).await.unwrap();
        let pause = AuditEntry {
            action: AuditAction::Pause,
            audience: None,
            ..launch("c")
        };
        store.audit(&pause, T0 + MINUTE).await.unwrap();
        store
            .audit(&launch("other"), T0 + 2 * MINUTE)
            .await
            .unwrap();
        let rows = store.audit_log(Some("c")).await.unwrap();
        let seen: Vec<(&str, Millis, Option<u64>)> = rows
            .iter()
            .map(|r| (r.action.as_str(), r.at, r.audience))
            .collect();
        assert_eq!(
            seen,
            vec![("launch", T0, Some(312)), ("pause", T0 + MINUTE, None)]
        );
        assert_eq!(rows[0].actor, "cán bộ truyền thông");
        assert_eq!(rows[0].content_hash.as_deref(), Some("9f2c"));
        assert_eq!(store.audit_log(None).await.unwrap().len(), 3);
    }

    #[tokio::test]
    async fn audit_rows_cannot_be_updated_or_deleted_even_by_loa_itself() {
        let (_dir, store) = open().await;
        store.audit(&launch("c"), T0).await.unwrap();
        for sql in [
            "UPDATE audit SET actor = 'someone else'",
            "DELETE FROM audit",
            "UPDATE audit SET at = 0 WHERE id = 1",
        ] {
            let err = sqlx::query(sql).execute(store.pool()).await.unwrap_err();
            assert!(err.to_string().contains("append-only"), "{sql}: {err}");
        }
        let rows = store.audit_log(None).await.unwrap();
        assert_eq!(
            (rows.len(), rows[0].actor.as_str()),
            (1, "cán bộ truyền thông")
        );
    }
}
