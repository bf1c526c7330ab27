//! `approval`: four-eyes approval rows on SQLite (see [`crate::store::approval`]).

use anyhow::Context;

use super::SqliteLedger;
use crate::store::approval::{ApprovalAct, Stored};
use crate::store::{ApprovalStep, Millis};

impl SqliteLedger {
    /// Inserts the request or approval of `step` and, when it is new, its audit row, in
    /// one transaction.
    pub(crate) async fn approval_row(
        &self,
        step: &ApprovalStep<'_>,
        act: ApprovalAct,
        now: Millis,
    ) -> anyhow::Result<()> {
        let mut w = self.write().await?;
        let done = sqlx::query(
            "INSERT INTO approval (campaign, content_hash, action, account, approvers, at) \
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(step.campaign)
        .bind(step.hash)
        .bind(act.action())
        .bind(step.account)
        .bind(i64::from(step.needed.clamp(1, 2)))
        .bind(now)
        .execute(&mut *w.tx)
        .await
        .context("recording the approval")?;
        if done.rows_affected() > 0 {
            sqlx::query(
                "INSERT INTO audit (at, actor, action, campaign, content_hash, detail) \
                 VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(now)
            .bind(step.account)
            .bind(act.audit().as_str())
            .bind(step.campaign)
            .bind(step.hash)
            .bind(act.detail(step.account))
            .execute(&mut *w.tx)
            .await
            .context("appending to the audit trail")?;
        }
        w.commit().await
    }

    /// The rows of the version `hash` of `campaign`, oldest first.
    pub(crate) async fn approval_rows(
        &self,
        campaign: &str,
        hash: &str,
    ) -> anyhow::Result<Vec<Stored>> {
        sqlx::query_as(
            "SELECT action, account, approvers, at FROM approval \
             WHERE campaign = ? AND content_hash = ? ORDER BY id",
        )
        .bind(campaign)
        .bind(hash)
        .fetch_all(self.pool())
        .await
        .context("reading the approvals")
    }

    /// The versions of `campaign` anyone approved, the one approved last first.
    pub(crate) async fn approved_hashes(&self, campaign: &str) -> anyhow::Result<Vec<String>> {
        sqlx::query_scalar(
            "SELECT content_hash FROM approval WHERE campaign = ? AND action = 'approve' \
             GROUP BY content_hash ORDER BY max(id) DESC",
        )
        .bind(campaign)
        .fetch_all(self.pool())
        .await
        .context("reading the approvals")
    }
}
