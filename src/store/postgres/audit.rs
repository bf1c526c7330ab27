//! `audit`: the append-only trail of what staff did (docs/reliability.md#r15). The
//! migration's triggers refuse every UPDATE, DELETE and TRUNCATE, whoever issues it.

use anyhow::Context;
use sqlx::Row;

use super::PgLedger;
use crate::store::{AuditEntry, AuditRow, Millis, to_u64};

impl PgLedger {
    pub(crate) async fn audit(&self, entry: &AuditEntry<'_>, now: Millis) -> anyhow::Result<i64> {
        let audience = entry
            .audience
            .map(i64::try_from)
            .transpose()
            .context("audience size out of range")?;
        let mut w = self.write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO audit (at, actor, action, campaign, content_hash, audience, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
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

    pub(crate) async fn audit_log(&self, campaign: Option<&str>) -> anyhow::Result<Vec<AuditRow>> {
        let rows = sqlx::query(
            "SELECT id, at, actor, action, campaign, content_hash, audience, detail FROM audit \
             WHERE $1::text IS NULL OR campaign = $1 ORDER BY id",
        )
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
