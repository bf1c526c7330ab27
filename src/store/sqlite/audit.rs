//! `audit`: an append-only trail of what staff did — launch, pause, resume, cancel, edit,
//! retry, log in and out — with the actor, the UTC time, the campaign, its content hash
//! and audience size (docs/reliability.md#r15).
//!
//! Rows are only ever inserted: SQLite triggers (migration 0005) abort any UPDATE or
//! DELETE on the table, whoever issues it.

use anyhow::Context;
use sqlx::Row;

use super::SqliteLedger;
use crate::store::{Millis, to_u64};

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
        }
    }
}

/// One entry to append.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry<'a> {
    /// Who: a staff name, `cli:<user>`, `dashboard`; never a recipient.
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

impl SqliteLedger {
    /// Appends `entry` at `now`; durable on return. Returns the row id.
    pub(crate) async fn audit(&self, entry: &AuditEntry<'_>, now: Millis) -> anyhow::Result<i64> {
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
    pub(crate) async fn audit_log(&self, campaign: Option<&str>) -> anyhow::Result<Vec<AuditRow>> {
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
