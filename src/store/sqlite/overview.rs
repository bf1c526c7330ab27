//! What the staff dashboard reads (issue 4): the campaign rows, each campaign's message
//! totals and last activity, delivery figures per occurrence, the failed messages and what
//! reached each recipient of some steps (the types and the counting: [`overview`]).
//!
//! All reads on the pool, beside the writer (WAL); none changes a row.

use std::collections::HashMap;

use anyhow::Context;
use sqlx::Row;

use super::SqliteLedger;
use crate::store::overview::{self, FailedMessage, OccurrenceFigures};
use crate::store::{CampaignRow, StatusRow, to_u32, to_u64};

impl SqliteLedger {
    /// Every campaign row, by id.
    pub(crate) async fn campaign_rows(&self) -> anyhow::Result<Vec<CampaignRow>> {
        let rows =
            sqlx::query("SELECT id, title, status, content_hash, file FROM campaign ORDER BY id")
                .fetch_all(self.pool())
                .await
                .context("reading the campaigns")?;
        rows.iter().map(campaign_row).collect()
    }

    /// The campaign row `id`, if loaded once.
    pub(crate) async fn campaign_row(&self, id: &str) -> anyhow::Result<Option<CampaignRow>> {
        let row =
            sqlx::query("SELECT id, title, status, content_hash, file FROM campaign WHERE id = ?")
                .bind(id)
                .fetch_optional(self.pool())
                .await
                .with_context(|| format!("reading campaign {id:?}"))?;
        row.as_ref().map(campaign_row).transpose()
    }

    /// The occurrences of `campaign` recorded so far, by time and step, with the states
    /// of their messages.
    pub(crate) async fn occurrence_figures(
        &self,
        campaign: &str,
    ) -> anyhow::Result<Vec<OccurrenceFigures>> {
        Ok(self.campaign_breakdown(campaign).await?.1)
    }

    /// `campaign`'s messages by step, channel and state (as [`Store::status`] counts
    /// them) and its occurrences as [`Store::occurrence_figures`] gives them, from one walk
    /// over the campaign's messages: the dashboard's campaign page needs both.
    pub(crate) async fn campaign_breakdown(
        &self,
        campaign: &str,
    ) -> anyhow::Result<(Vec<StatusRow>, Vec<OccurrenceFigures>)> {
        let counts: Vec<overview::CountRow> = sqlx::query_as(
            "SELECT step, channel, occurrence_n, state, COUNT(*) AS n FROM message \
             WHERE campaign = ? GROUP BY step, channel, occurrence_n, state",
        )
        .bind(campaign)
        .fetch_all(self.pool())
        .await
        .with_context(|| format!("counting the messages of {campaign}"))?;
        let occurrences: Vec<overview::OccurrenceRow> = sqlx::query_as(
            "SELECT step, n, at, enqueued_at, missed_at FROM occurrence \
             WHERE campaign = ? ORDER BY at, step, n",
        )
        .bind(campaign)
        .fetch_all(self.pool())
        .await
        .with_context(|| format!("reading the occurrences of {campaign}"))?;
        overview::breakdown(campaign, counts, occurrences)
    }

    /// The `limit` most recently failed messages of `campaign`, newest first.
    pub(crate) async fn failed_messages(
        &self,
        campaign: &str,
        limit: u32,
    ) -> anyhow::Result<Vec<FailedMessage>> {
        let rows = sqlx::query(
            "SELECT step, channel, address, attempts, last_code, last_error, updated_at \
             FROM message WHERE campaign = ? AND state = 'failed' \
             ORDER BY updated_at DESC, id DESC LIMIT ?",
        )
        .bind(campaign)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .with_context(|| format!("reading the failures of {campaign}"))?;
        rows.iter()
            .map(|row| {
                Ok(FailedMessage {
                    step: row.try_get("step")?,
                    channel: row.try_get("channel")?,
                    address: row.try_get("address")?,
                    attempts: to_u32(row.try_get("attempts")?, "attempts")?,
                    last_code: row.try_get("last_code")?,
                    last_error: row.try_get("last_error")?,
                    updated_at: row.try_get("updated_at")?,
                })
            })
            .collect()
    }

    /// Messages of `campaign`'s `steps` that reached their provider (`sent` or
    /// `delivered`), counted by recipient key.
    pub(crate) async fn reached_by_recipient(
        &self,
        campaign: &str,
        steps: &[String],
    ) -> anyhow::Result<HashMap<String, u64>> {
        let steps = serde_json::to_string(steps).context("listing steps")?;
        let rows = sqlx::query(
            "SELECT recipient, COUNT(*) AS n FROM message \
             WHERE campaign = ? AND state IN ('sent', 'delivered') \
               AND step IN (SELECT value FROM json_each(?)) \
             GROUP BY recipient",
        )
        .bind(campaign)
        .bind(steps)
        .fetch_all(self.pool())
        .await
        .with_context(|| format!("counting what reached the recipients of {campaign}"))?;
        rows.iter()
            .map(|row| Ok((row.try_get("recipient")?, to_u64(row.try_get("n")?))))
            .collect()
    }
}

fn campaign_row(row: &sqlx::sqlite::SqliteRow) -> anyhow::Result<CampaignRow> {
    Ok(CampaignRow {
        id: row.try_get("id")?,
        title: row.try_get("title")?,
        status: row.try_get("status")?,
        content_hash: row.try_get("content_hash")?,
        file: row.try_get("file")?,
    })
}
