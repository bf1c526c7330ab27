//! The questions `/healthz` and `/metrics` ask the ledger: does it answer, how old is the
//! oldest message waiting to be sent, and how many messages are in each state.
//!
//! All reads; each is one small query on the pool, beside the writer (WAL).

use anyhow::Context;
use sqlx::Row;

use super::SqliteLedger;
use crate::store::{Millis, StateCount, to_u64};

impl SqliteLedger {
    /// Succeeds when the database answers a trivial query.
    pub(crate) async fn ping(&self) -> anyhow::Result<()> {
        sqlx::query_scalar::<_, i64>("SELECT 1")
            .fetch_one(self.pool())
            .await
            .context("asking the message ledger")?;
        Ok(())
    }

    /// When the oldest message due at `now` became due: the smallest `next_attempt_at` of a
    /// `pending` message at or before `now` whose window is still open. None when nothing
    /// is due. It walks the `message_due` index over every pending message, which takes
    /// about half a second on a ledger with 500,000 of them; the daemon asks
    /// [`Store::oldest_due_among`] its channels instead.
    pub(crate) async fn oldest_due(&self, now: Millis) -> anyhow::Result<Option<Millis>> {
        sqlx::query_scalar(
            "SELECT MIN(next_attempt_at) FROM message \
             WHERE state = 'pending' AND next_attempt_at <= ? AND expires_at >= ?",
        )
        .bind(now)
        .bind(now)
        .fetch_one(self.pool())
        .await
        .context("finding the oldest due message")
    }

    /// [`Store::oldest_due`] among the messages of `channels` (campaign, channel) only,
    /// in one index seek per channel: `message_due` is ordered by campaign, channel and
    /// due time, so the first due row of each channel is found without walking the rest.
    /// Under a millisecond whatever the backlog.
    pub(crate) async fn oldest_due_among(
        &self,
        now: Millis,
        channels: &[(&str, &str)],
    ) -> anyhow::Result<Option<Millis>> {
        let channels = serde_json::to_string(channels).context("listing the channels")?;
        sqlx::query_scalar(
            "SELECT MIN((SELECT MIN(m.next_attempt_at) FROM message m \
             WHERE m.state = 'pending' AND m.campaign = c.value ->> 0 \
             AND m.channel = c.value ->> 1 AND m.next_attempt_at <= ?1 \
             AND m.expires_at >= ?2)) FROM json_each(?3) AS c",
        )
        .bind(now)
        .bind(now)
        .bind(channels)
        .fetch_one(self.pool())
        .await
        .context("finding the oldest due message")
    }

    /// Message counts by campaign, channel and state (states with no message left out),
    /// ordered by campaign, channel and state, each with its latest change. One walk over
    /// every message: about a second with 2,000,000 of them, so the HTTP side keeps a slow
    /// count for a while (`web::figures`).
    pub(crate) async fn state_counts(&self) -> anyhow::Result<Vec<StateCount>> {
        let rows = sqlx::query(
            "SELECT campaign, channel, state, COUNT(*) AS n, MAX(updated_at) AS at \
             FROM message GROUP BY campaign, channel, state ORDER BY campaign, channel, state",
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
