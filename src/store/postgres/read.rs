//! Reading the ledger: `status` and `report` (docs/cli.md#status, docs/cli.md#report), and the
//! two questions the daemon asks — is a campaign done, and when is the next message due.

use std::collections::BTreeMap;

use anyhow::Context;
use futures::TryStreamExt as _;
use sqlx::Row;

use super::PgLedger;
use crate::store::{MessageState, Millis, ReportRow, StatusRow, to_u32, to_u64};

impl PgLedger {
    pub(crate) async fn status(&self, campaign: Option<&str>) -> anyhow::Result<Vec<StatusRow>> {
        let rows = sqlx::query(
            "SELECT campaign, step, channel, state, COUNT(*) AS n FROM message \
             WHERE $1::text IS NULL OR campaign = $1 GROUP BY campaign, step, channel, state",
        )
        .bind(campaign)
        .fetch_all(self.pool())
        .await
        .context("counting messages")?;
        let mut groups: BTreeMap<(String, String, String), BTreeMap<String, u64>> = BTreeMap::new();
        for row in rows {
            let key = (
                row.try_get("campaign")?,
                row.try_get("step")?,
                row.try_get("channel")?,
            );
            let counts = groups.entry(key).or_insert_with(MessageState::zero_counts);
            counts.insert(row.try_get("state")?, to_u64(row.try_get("n")?));
        }
        Ok(groups
            .into_iter()
            .map(|((campaign, step, channel), counts)| StatusRow {
                campaign,
                step,
                channel,
                counts,
            })
            .collect())
    }

    pub(crate) async fn report(&self, campaign: &str) -> anyhow::Result<Vec<ReportRow>> {
        let mut rows = Vec::new();
        self.report_each(campaign, |r| {
            rows.push(r);
            Ok(())
        })
        .await?;
        Ok(rows)
    }

    pub(crate) async fn report_each(
        &self,
        campaign: &str,
        mut each: impl FnMut(ReportRow) -> anyhow::Result<()>,
    ) -> anyhow::Result<u64> {
        // Rows stream from a cursor of the extended protocol, as the server hands them
        // over: a campaign of millions is never held in memory.
        let mut rows = sqlx::query(
            "SELECT campaign, step, occurrence_at, recipient, channel, address, state, \
                 attempts, last_error, queued_at, sent_at, delivered_at \
             FROM message WHERE campaign = $1 ORDER BY occurrence_at, step COLLATE \"C\", id",
        )
        .bind(campaign)
        .fetch(self.pool());
        let mut n = 0;
        while let Some(row) = rows
            .try_next()
            .await
            .with_context(|| format!("reading the report of {campaign}"))?
        {
            each(ReportRow {
                campaign: row.try_get("campaign")?,
                step: row.try_get("step")?,
                occurrence_at: row.try_get("occurrence_at")?,
                recipient: row.try_get("recipient")?,
                channel: row.try_get("channel")?,
                address: row.try_get("address")?,
                state: row.try_get("state")?,
                attempts: to_u32(row.try_get("attempts")?, "attempts")?,
                last_error: row.try_get("last_error")?,
                queued_at: row.try_get("queued_at")?,
                sent_at: row.try_get("sent_at")?,
                delivered_at: row.try_get("delivered_at")?,
            })?;
            n += 1;
        }
        Ok(n)
    }

    pub(crate) async fn open_count(&self, campaign: &str) -> anyhow::Result<u64> {
        let n: i64 = sqlx::query_scalar(
            // Two counts, each over its own partial index (`message_due`, `message_leased`).
            "SELECT (SELECT COUNT(*) FROM message WHERE state = 'pending' AND campaign = $1) \
                  + (SELECT COUNT(*) FROM message WHERE state = 'sending' AND campaign = $1)",
        )
        .bind(campaign)
        .fetch_one(self.pool())
        .await
        .with_context(|| format!("counting open messages of {campaign}"))?;
        Ok(to_u64(n))
    }

    pub(crate) async fn next_due(&self, now: Millis) -> anyhow::Result<Option<Millis>> {
        sqlx::query_scalar(
            "SELECT MIN(next_attempt_at) FROM message \
             WHERE state = 'pending' AND expires_at >= $1",
        )
        .bind(now)
        .fetch_one(self.pool())
        .await
        .context("finding the next due message")
    }
}
