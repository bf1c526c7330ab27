//! What `/healthz` and `/metrics` ask: does the database answer, how old is the oldest due
//! message, how many messages are in each state.

use anyhow::Context;
use sqlx::Row;

use super::PgLedger;
use crate::store::{Millis, StateCount, to_u64};

impl PgLedger {
    pub(crate) async fn ping(&self) -> anyhow::Result<()> {
        sqlx::query_scalar::<_, i32>("SELECT 1")
            .fetch_one(self.pool())
            .await
            .context("asking the message ledger")?;
        Ok(())
    }

    pub(crate) async fn oldest_due(&self, now: Millis) -> anyhow::Result<Option<Millis>> {
        sqlx::query_scalar(
            "SELECT MIN(next_attempt_at) FROM message \
             WHERE state = 'pending' AND next_attempt_at <= $1 AND expires_at >= $1",
        )
        .bind(now)
        .fetch_one(self.pool())
        .await
        .context("finding the oldest due message")
    }

    /// One seek of `message_due` (campaign, channel, due time) per channel, as on SQLite.
    pub(crate) async fn oldest_due_among(
        &self,
        now: Millis,
        channels: &[(&str, &str)],
    ) -> anyhow::Result<Option<Millis>> {
        let campaigns: Vec<&str> = channels.iter().map(|(c, _)| *c).collect();
        let names: Vec<&str> = channels.iter().map(|(_, n)| *n).collect();
        sqlx::query_scalar(
            "SELECT MIN((SELECT MIN(m.next_attempt_at) FROM message m \
             WHERE m.state = 'pending' AND m.campaign = c.campaign \
             AND m.channel = c.channel AND m.next_attempt_at <= $1 \
             AND m.expires_at >= $1)) \
             FROM UNNEST($2::text[], $3::text[]) AS c (campaign, channel)",
        )
        .bind(now)
        .bind(campaigns)
        .bind(names)
        .fetch_one(self.pool())
        .await
        .context("finding the oldest due message")
    }

    pub(crate) async fn state_counts(&self) -> anyhow::Result<Vec<StateCount>> {
        let rows = sqlx::query(
            "SELECT campaign, channel, state, COUNT(*) AS n, MAX(updated_at) AS at \
             FROM message GROUP BY campaign, channel, state \
             ORDER BY campaign COLLATE \"C\", channel COLLATE \"C\", state COLLATE \"C\"",
        )
        .fetch_all(self.pool())
        .await
        .context("counting messages by state")?;
        rows.iter()
            .map(|row| {
                Ok(StateCount {
                    campaign: row.try_get("campaign")?,
                    channel: row.try_get("channel")?,
                    state: row.try_get("state")?,
                    count: to_u64(row.try_get("n")?),
                    last_change: row.try_get("at")?,
                })
            })
            .collect()
    }
}
