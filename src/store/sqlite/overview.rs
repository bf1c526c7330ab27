//! What the staff dashboard reads (issue 4): the campaign rows, each campaign's message
//! totals and last activity, delivery figures per occurrence, the failed messages and what reached each
//! recipient of some steps.
//!
//! All reads on the pool, beside the writer (WAL); none changes a row.

use std::collections::{BTreeMap, HashMap};

use anyhow::Context;
use sqlx::Row;

use super::SqliteLedger;
use crate::store::{CampaignRow, MessageState, Millis, StateCount, StatusRow, to_u32, to_u64};

/// One occurrence of a step as the ledger knows it, with its messages counted by state
/// (every state of [`MessageState::ALL`], zeros included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OccurrenceFigures {
    pub step: String,
    pub n: u32,
    pub at: Millis,
    pub enqueued_at: Option<Millis>,
    pub missed_at: Option<Millis>,
    pub counts: BTreeMap<String, u64>,
}

/// One campaign's messages by state (every state, zeros included) and its last activity
/// (the latest `updated_at`); see [`CampaignTotals::of`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CampaignTotals {
    pub counts: BTreeMap<String, u64>,
    pub last_activity: Millis,
}

impl CampaignTotals {
    /// The totals of each campaign in `counts` ([`Store::state_counts`]), its channels
    /// added up.
    pub(crate) fn of(counts: &[StateCount]) -> HashMap<String, CampaignTotals> {
        let mut out: HashMap<String, CampaignTotals> = HashMap::new();
        for c in counts {
            let totals = out
                .entry(c.campaign.clone())
                .or_insert_with(|| CampaignTotals {
                    counts: zeros(),
                    last_activity: Millis::MIN,
                });
            *totals.counts.entry(c.state.to_string()).or_insert(0) += c.count;
            totals.last_activity = totals.last_activity.max(c.last_change);
        }
        out
    }
}

/// A failed message, address and error as stored: the caller masks them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedMessage {
    pub step: String,
    pub channel: String,
    pub address: Option<String>,
    pub attempts: u32,
    pub last_code: Option<String>,
    pub last_error: Option<String>,
    pub updated_at: Millis,
}

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
        let (by_channel, by_occurrence) = self.counts_by_channel_and_occurrence(campaign).await?;
        let status = by_channel
            .into_iter()
            .map(|((step, channel), counts)| StatusRow {
                campaign: campaign.to_owned(),
                step,
                channel,
                counts,
            })
            .collect();
        let occurrences = self.occurrences_counted(campaign, &by_occurrence).await?;
        Ok((status, occurrences))
    }

    /// `campaign`'s message counts by state in one walk, summed twice: by (step, channel)
    /// and by (step, occurrence number).
    async fn counts_by_channel_and_occurrence(
        &self,
        campaign: &str,
    ) -> anyhow::Result<(
        BTreeMap<(String, String), Counts>,
        HashMap<(String, u32), Counts>,
    )> {
        let rows = sqlx::query(
            "SELECT step, channel, occurrence_n, state, COUNT(*) AS n FROM message \
             WHERE campaign = ? GROUP BY step, channel, occurrence_n, state",
        )
        .bind(campaign)
        .fetch_all(self.pool())
        .await
        .with_context(|| format!("counting the messages of {campaign}"))?;
        let mut by_channel: BTreeMap<(String, String), Counts> = BTreeMap::new();
        let mut by_occurrence: HashMap<(String, u32), Counts> = HashMap::new();
        for row in rows {
            let step: String = row.try_get("step")?;
            let n = to_u32(row.try_get("occurrence_n")?, "occurrence number")?;
            let state: String = row.try_get("state")?;
            let count = to_u64(row.try_get("n")?);
            let channel = by_channel
                .entry((step.clone(), row.try_get("channel")?))
                .or_insert_with(zeros);
            *channel.entry(state.clone()).or_insert(0) += count;
            let occurrence = by_occurrence.entry((step, n)).or_insert_with(zeros);
            *occurrence.entry(state).or_insert(0) += count;
        }
        Ok((by_channel, by_occurrence))
    }

    /// `campaign`'s occurrences by time and step, each with its counts from `counts`
    /// (zeros when it has no message).
    async fn occurrences_counted(
        &self,
        campaign: &str,
        counts: &HashMap<(String, u32), Counts>,
    ) -> anyhow::Result<Vec<OccurrenceFigures>> {
        let rows = sqlx::query(
            "SELECT step, n, at, enqueued_at, missed_at FROM occurrence \
             WHERE campaign = ? ORDER BY at, step, n",
        )
        .bind(campaign)
        .fetch_all(self.pool())
        .await
        .with_context(|| format!("reading the occurrences of {campaign}"))?;
        rows.iter()
            .map(|row| {
                let step: String = row.try_get("step")?;
                let n = to_u32(row.try_get("n")?, "occurrence number")?;
                let counts = counts
                    .get(&(step.clone(), n))
                    .cloned()
                    .unwrap_or_else(zeros);
                Ok(OccurrenceFigures {
                    step,
                    n,
                    at: row.try_get("at")?,
                    enqueued_at: row.try_get("enqueued_at")?,
                    missed_at: row.try_get("missed_at")?,
                    counts,
                })
            })
            .collect()
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

/// Message counts keyed by state word, as [`StatusRow::counts`] holds them.
type Counts = BTreeMap<String, u64>;

fn zeros() -> Counts {
    MessageState::zero_counts()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::store::test_support::*;
    use crate::store::{MessageState, Outcome, OutcomeKind};

    async fn fail_first(store: &crate::store::Store, error: &str) {
        let c = store
            .claim("w", T0, Duration::from_secs(60), 1, &[])
            .await
            .unwrap();
        let failed = Outcome {
            id: c[0].id,
            attempt: c[0].attempt,
            owner: "w".into(),
            started_at: T0,
            duration_ms: 1,
            result: OutcomeKind::Failed {
                code: Some("550".into()),
                error: error.into(),
            },
        };
        store.record(&[failed], T0 + 7).await.unwrap();
    }

    #[tokio::test]
    async fn occurrence_figures_count_each_occurrences_messages_by_state() {
        let (_dir, store) = open().await;
        let occ = seed(&store).await;
        insert(&store, &occ, 3).await;
        fail_first(&store, "mailbox unavailable").await;
        let later = store.occurrence("c", "s", 1, T0 + MINUTE).await.unwrap();
        store
            .insert_messages(&messages(&later, 2), T0)
            .await
            .unwrap();

        let figures = store.occurrence_figures("c").await.unwrap();
        assert_eq!(figures.len(), 2);
        let (first, second) = (&figures[0], &figures[1]);
        assert_eq!((first.n, first.at), (0, T0));
        assert_eq!((first.counts["pending"], first.counts["failed"]), (2, 1));
        assert_eq!((second.n, second.counts["pending"]), (1, 2));
        assert_eq!(second.counts.len(), MessageState::ALL.len());
        assert!(store.occurrence_figures("none").await.unwrap().is_empty());
        let (status, occurrences) = store.campaign_breakdown("c").await.unwrap();
        assert_eq!(occurrences, figures);
        assert_eq!(status, store.status(Some("c")).await.unwrap());
        let totals = super::CampaignTotals::of(&store.state_counts().await.unwrap());
        assert_eq!(totals.len(), 1);
        let c = &totals["c"];
        assert_eq!((c.counts["pending"], c.counts["failed"]), (4, 1));
        assert_eq!(
            (c.counts.len(), c.last_activity),
            (MessageState::ALL.len(), T0 + 7)
        );
    }

    #[tokio::test]
    async fn the_breakdown_counts_each_channel_and_each_occurrence_from_one_walk() {
        let (_dir, store) = open().await;
        let first = seed(&store).await;
        let second = store.occurrence("c", "s", 1, T0 + 1).await.unwrap();
        let rows = vec![
            message(&first, "a", "email"),
            message(&first, "a", "sms"),
            message(&first, "b", "sms"),
            message(&second, "a", "sms"),
        ];
        store.insert_messages(&rows, T0).await.unwrap();
        let (status, occurrences) = store.campaign_breakdown("c").await.unwrap();
        assert_eq!(status, store.status(Some("c")).await.unwrap());
        let by_channel: Vec<(&str, u64)> = status
            .iter()
            .map(|r| (r.channel.as_str(), r.counts["pending"]))
            .collect();
        assert_eq!(by_channel, [("email", 1), ("sms", 3)]);
        let by_occurrence: Vec<(u32, u64)> = occurrences
            .iter()
            .map(|o| (o.n, o.counts["pending"]))
            .collect();
        assert_eq!(by_occurrence, [(0, 3), (1, 1)]);
    }

    #[tokio::test]
    async fn failed_messages_and_what_reached_each_recipient_are_read_per_campaign() {
        let (_dir, store) = open().await;
        let occ = seed(&store).await;
        insert(&store, &occ, 2).await;
        fail_first(&store, "no such user").await;
        let failed = store.failed_messages("c", 10).await.unwrap();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].address.as_deref(), Some("r0@example.test"));
        assert_eq!(failed[0].last_error.as_deref(), Some("no such user"));
        assert_eq!(failed[0].attempts, 1);
        let none = store
            .reached_by_recipient("c", &["s".into()])
            .await
            .unwrap();
        assert!(none.is_empty());
        let c = store
            .claim("w", T0, Duration::from_secs(60), 1, &[])
            .await
            .unwrap();
        let sent = Outcome {
            id: c[0].id,
            attempt: c[0].attempt,
            owner: "w".into(),
            started_at: T0,
            duration_ms: 1,
            result: OutcomeKind::Sent { provider_id: None },
        };
        store.record(&[sent], T0 + 9).await.unwrap();
        let reached = store
            .reached_by_recipient("c", &["s".into()])
            .await
            .unwrap();
        assert_eq!(reached.get("r1"), Some(&1));
        let other = store
            .reached_by_recipient("c", &["t".into()])
            .await
            .unwrap();
        assert!(other.is_empty());
        let rows = store.campaign_rows().await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(
            store.campaign_row("c").await.unwrap(),
            Some(rows[0].clone())
        );
        assert_eq!(store.campaign_row("x").await.unwrap(), None);
    }
}
