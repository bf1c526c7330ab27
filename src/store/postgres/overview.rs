//! What the staff dashboard reads (issue 4): the queries of [`crate::store::overview`]'s
//! figures on PostgreSQL. Text is ordered byte by byte, as on SQLite.

use std::collections::HashMap;

use anyhow::Context;
use sqlx::Row;

use super::PgLedger;
use crate::store::overview::{self, FailedMessage, OccurrenceFigures};
use crate::store::{CampaignRow, StatusRow, to_u32, to_u64};

impl PgLedger {
    pub(crate) async fn campaign_rows(&self) -> anyhow::Result<Vec<CampaignRow>> {
        let rows: Vec<(String, String, String, String, String)> = sqlx::query_as(
            "SELECT id, title, status, content_hash, file FROM campaign \
             ORDER BY id COLLATE \"C\"",
        )
        .fetch_all(self.pool())
        .await
        .context("reading the campaigns")?;
        Ok(rows.into_iter().map(campaign_row).collect())
    }

    pub(crate) async fn campaign_row(&self, id: &str) -> anyhow::Result<Option<CampaignRow>> {
        let row: Option<(String, String, String, String, String)> = sqlx::query_as(
            "SELECT id, title, status, content_hash, file FROM campaign WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await
        .with_context(|| format!("reading campaign {id:?}"))?;
        Ok(row.map(campaign_row))
    }

    pub(crate) async fn occurrence_figures(
        &self,
        campaign: &str,
    ) -> anyhow::Result<Vec<OccurrenceFigures>> {
        Ok(self.campaign_breakdown(campaign).await?.1)
    }

    pub(crate) async fn campaign_breakdown(
        &self,
        campaign: &str,
    ) -> anyhow::Result<(Vec<StatusRow>, Vec<OccurrenceFigures>)> {
        let counts: Vec<overview::CountRow> = sqlx::query_as(
            "SELECT step, channel, occurrence_n, state, COUNT(*) AS n FROM message \
             WHERE campaign = $1 GROUP BY step, channel, occurrence_n, state",
        )
        .bind(campaign)
        .fetch_all(self.pool())
        .await
        .with_context(|| format!("counting the messages of {campaign}"))?;
        let occurrences: Vec<overview::OccurrenceRow> = sqlx::query_as(
            "SELECT step, n, at, enqueued_at, missed_at FROM occurrence \
             WHERE campaign = $1 ORDER BY at, step COLLATE \"C\", n",
        )
        .bind(campaign)
        .fetch_all(self.pool())
        .await
        .with_context(|| format!("reading the occurrences of {campaign}"))?;
        overview::breakdown(campaign, counts, occurrences)
    }

    pub(crate) async fn failed_messages(
        &self,
        campaign: &str,
        limit: u32,
    ) -> anyhow::Result<Vec<FailedMessage>> {
        let rows = sqlx::query(
            "SELECT step, channel, address, attempts, last_code, last_error, updated_at \
             FROM message WHERE campaign = $1 AND state = 'failed' \
             ORDER BY updated_at DESC, id DESC LIMIT $2",
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

    pub(crate) async fn reached_by_recipient(
        &self,
        campaign: &str,
        steps: &[String],
    ) -> anyhow::Result<HashMap<String, u64>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT recipient, COUNT(*) FROM message \
             WHERE campaign = $1 AND state IN ('sent', 'delivered') AND step = ANY($2) \
             GROUP BY recipient",
        )
        .bind(campaign)
        .bind(steps)
        .fetch_all(self.pool())
        .await
        .with_context(|| format!("counting what reached the recipients of {campaign}"))?;
        Ok(rows.into_iter().map(|(r, n)| (r, to_u64(n))).collect())
    }
}

fn campaign_row(
    (id, title, status, content_hash, file): (String, String, String, String, String),
) -> CampaignRow {
    CampaignRow {
        id,
        title,
        status,
        content_hash,
        file,
    }
}
