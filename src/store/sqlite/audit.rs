//! `audit`: an append-only trail of what staff did — launch, pause, resume, cancel, edit,
//! retry, log in and out — with the actor, the UTC time, the campaign, its content hash
//! and audience size (docs/reliability.md#r15).
//!
//! Rows are only ever inserted: SQLite triggers (migration 0005) abort any UPDATE or
//! DELETE on the table, whoever issues it.

use anyhow::Context;
use sqlx::Row;

use super::SqliteLedger;
use crate::store::{AuditEntry, AuditRow, Millis, to_u64};

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
