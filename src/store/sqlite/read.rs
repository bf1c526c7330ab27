//! Reading the ledger: `status` and `report` (docs/cli.md#status, docs/cli.md#report), and the
//! two questions the daemon asks — is a campaign done, and when is the next message due.

use std::collections::BTreeMap;

use anyhow::Context;
use futures::TryStreamExt as _;
use sqlx::Row;

use super::SqliteLedger;
use crate::store::{MessageState, Millis, ReportRow, StatusRow, to_u32, to_u64};

impl SqliteLedger {
    /// Message counts by campaign, step, channel and state, ordered by campaign, step and
    /// channel; every state appears, zeros included. All campaigns when `campaign` is None.
    pub(crate) async fn status(&self, campaign: Option<&str>) -> anyhow::Result<Vec<StatusRow>> {
        let sql = match campaign {
            Some(_) => {
                "SELECT campaign, step, channel, state, COUNT(*) AS n FROM message \
                 WHERE campaign = ? GROUP BY campaign, step, channel, state"
            }
            None => {
                "SELECT campaign, step, channel, state, COUNT(*) AS n FROM message \
                 GROUP BY campaign, step, channel, state"
            }
        };
        let rows = sqlx::query(sql)
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

    /// One row per message of `campaign`, by occurrence time, step and insertion order.
    pub(crate) async fn report(&self, campaign: &str) -> anyhow::Result<Vec<ReportRow>> {
        let mut rows = Vec::new();
        self.report_each(campaign, |r| {
            rows.push(r);
            Ok(())
        })
        .await?;
        Ok(rows)
    }

    /// [`Store::report`] a row at a time, as the database hands them over, so a campaign
    /// of millions is written out without being held in memory. Returns how many rows.
    pub(crate) async fn report_each(
        &self,
        campaign: &str,
        mut each: impl FnMut(ReportRow) -> anyhow::Result<()>,
    ) -> anyhow::Result<u64> {
        let mut rows = sqlx::query(
            "SELECT campaign, step, occurrence_at, recipient, channel, address, state, \
                 attempts, last_error, queued_at, sent_at, delivered_at \
             FROM message WHERE campaign = ? ORDER BY occurrence_at, step, id",
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

    /// Messages of `campaign` that are not final yet (`pending`, `sending`). A campaign is
    /// done only when this is 0 (docs/reliability.md#rule-4).
    pub(crate) async fn open_count(&self, campaign: &str) -> anyhow::Result<u64> {
        let n: i64 = sqlx::query_scalar(
            // Two counts, so that each reads its own partial index (migration 0003); the
            // `+` keeps the second off the natural key, which would walk every row.
            "SELECT (SELECT COUNT(*) FROM message WHERE state = 'pending' AND campaign = ?1) \
                  + (SELECT COUNT(*) FROM message WHERE state = 'sending' AND +campaign = ?1)",
        )
        .bind(campaign)
        .fetch_one(self.pool())
        .await
        .with_context(|| format!("counting open messages of {campaign}"))?;
        Ok(to_u64(n))
    }

    /// When the dispatcher should next look: the earliest `next_attempt_at` of a `pending`
    /// message whose window is still open at `now` (closed ones wait for
    /// [`Store::expire_closed`], not for a send). May lie in the past: due already.
    pub(crate) async fn next_due(&self, now: Millis) -> anyhow::Result<Option<Millis>> {
        sqlx::query_scalar(
            "SELECT MIN(next_attempt_at) FROM message \
             WHERE state = 'pending' AND expires_at >= ?",
        )
        .bind(now)
        .fetch_one(self.pool())
        .await
        .context("finding the next due message")
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::store::test_support::*;
    use crate::store::{MessageState, Outcome, OutcomeKind};

    const LEASE: Duration = Duration::from_secs(75);

    #[tokio::test]
    async fn status_counts_every_state_by_step_and_channel() {
        let (_dir, store) = open().await;
        let occ = seed(&store).await;
        let mut rows = messages(&occ, 4);
        rows.push(message(&occ, "r0", "zalo"));
        store.insert_messages(&rows, T0).await.unwrap();
        store.upsert_campaign(&campaign("d")).await.unwrap();
        let other = store.occurrence("d", "s", 0, T0).await.unwrap();
        store
            .insert_messages(&messages(&other, 1), T0)
            .await
            .unwrap();
        let c = store
            .claim("w", T0, LEASE, 2, &["email".into()])
            .await
            .unwrap();
        let sent = Outcome {
            id: c[0].id,
            attempt: 1,
            owner: "w".into(),
            started_at: T0,
            duration_ms: 5,
            result: OutcomeKind::Sent { provider_id: None },
        };
        store.record(&[sent], T0).await.unwrap();

        let status = store.status(Some("c")).await.unwrap();
        let keys: Vec<(&str, &str)> = status
            .iter()
            .map(|s| (s.step.as_str(), s.channel.as_str()))
            .collect();
        assert_eq!(keys, [("s", "email"), ("s", "zalo")]);
        let email = &status[0].counts;
        assert_eq!(email.len(), MessageState::ALL.len());
        assert_eq!(
            (email["pending"], email["sending"], email["sent"]),
            (2, 1, 1)
        );
        assert_eq!(email["failed"], 0);
        assert_eq!(status[1].counts["pending"], 1);
        assert_eq!(store.status(None).await.unwrap().len(), 3);
        assert!(store.status(Some("none")).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn the_report_row_by_row_stops_at_the_first_error_of_its_reader() {
        let (_dir, store) = open().await;
        let occ = seed(&store).await;
        store.insert_messages(&messages(&occ, 5), T0).await.unwrap();
        let mut seen = Vec::new();
        let n = store
            .report_each("c", |r| {
                seen.push(r.recipient);
                Ok(())
            })
            .await
            .unwrap();
        assert_eq!(n, 5);
        let whole: Vec<String> = store
            .report("c")
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.recipient)
            .collect();
        assert_eq!(seen, whole);
        let mut calls = 0;
        let err = store
            .report_each("c", |_| {
                calls += 1;
                anyhow::ensure!(calls < 2, "stdout closed");
                Ok(())
            })
            .await
            .unwrap_err();
        assert_eq!((calls, err.to_string()), (2, "stdout closed".to_owned()));
    }

    #[tokio::test]
    async fn report_has_the_spec_columns_for_each_message() {
        let (_dir, store) = open().await;
        let occ = seed(&store).await;
        let mut rows = messages(&occ, 2);
        rows[1].address = None;
        store.insert_messages(&rows, T0).await.unwrap();
        let c = store.claim("w", T0 + 5, LEASE, 1, &[]).await.unwrap();
        let failed = Outcome {
            id: c[0].id,
            attempt: 1,
            owner: "w".into(),
            started_at: T0 + 10,
            duration_ms: 5,
            result: OutcomeKind::Failed {
                code: Some("550".into()),
                error: "mailbox unavailable".into(),
            },
        };
        store.record(&[failed], T0 + 20).await.unwrap();
        let report = store.report("c").await.unwrap();
        assert_eq!(report.len(), 2);
        let r = &report[0];
        assert_eq!(
            (r.campaign.as_str(), r.step.as_str(), r.occurrence_at),
            ("c", "s", T0)
        );
        assert_eq!(
            (
                r.recipient.as_str(),
                r.channel.as_str(),
                r.address.as_deref()
            ),
            ("r0", "email", Some("r0@example.test"))
        );
        assert_eq!((r.state.as_str(), r.attempts), ("failed", 1));
        assert_eq!(r.last_error.as_deref(), Some("mailbox unavailable"));
        assert_eq!((r.queued_at, r.sent_at, r.delivered_at), (T0, None, None));
        assert_eq!(
            (report[1].address.as_deref(), report[1].state.as_str()),
            (None, "pending")
        );
    }

    #[tokio::test]
    async fn a_campaign_stays_open_while_any_message_is_pending_or_sending() {
        let (_dir, store) = open().await;
        let occ = seed(&store).await;
        insert(&store, &occ, 2).await;
        assert_eq!(store.open_count("c").await.unwrap(), 2);
        let c = store.claim("w", T0, LEASE, 1, &[]).await.unwrap();
        assert_eq!(store.open_count("c").await.unwrap(), 2);
        store
            .set_state(
                "c",
                None,
                &[MessageState::Pending],
                MessageState::Cancelled,
                "done",
                T0,
            )
            .await
            .unwrap();
        assert_eq!(store.open_count("c").await.unwrap(), 1);
        let expired = Outcome {
            id: c[0].id,
            attempt: 1,
            owner: "w".into(),
            started_at: T0,
            duration_ms: 0,
            result: OutcomeKind::Expired,
        };
        store.record(&[expired], T0).await.unwrap();
        assert_eq!(store.open_count("c").await.unwrap(), 0);
        assert_eq!(store.open_count("unknown").await.unwrap(), 0);
    }

    #[tokio::test]
    async fn next_due_is_the_earliest_pending_message_whose_window_is_open() {
        let (_dir, store) = open().await;
        assert_eq!(store.next_due(T0).await.unwrap(), None);
        let occ = seed(&store).await;
        let mut rows = messages(&occ, 3);
        rows[0].next_attempt_at = T0 - MINUTE;
        rows[0].expires_at = T0 - 1; // closed: waits for expire_closed, not for a send
        rows[1].next_attempt_at = T0 + 3 * MINUTE;
        rows[2].next_attempt_at = T0 + 2 * MINUTE;
        store.insert_messages(&rows, T0).await.unwrap();
        assert_eq!(store.next_due(T0).await.unwrap(), Some(T0 + 2 * MINUTE));
        store
            .claim("w", T0 + 2 * MINUTE, LEASE, 1, &[])
            .await
            .unwrap();
        assert_eq!(store.next_due(T0).await.unwrap(), Some(T0 + 3 * MINUTE));
    }
}
