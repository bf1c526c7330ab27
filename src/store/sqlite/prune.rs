//! Retention (docs/reliability.md#r21): the personal data of messages that ended long ago
//! is cleared, the rows themselves kept.
//!
//! A message whose state is final (`sent`, `delivered`, `failed`, `expired`, `skipped`,
//! `cancelled`) and that last changed before the cutoff loses its `address`, its `context`
//! (the snapshot of the recipient's row: names, phone numbers, classes) and its
//! `last_error`, and gets `pruned_at`; its attempts lose their error texts and its events
//! their details (masked when written, but still a provider's words about a person), and
//! a receipt kept for it is dropped. Its campaign, step, occurrence, channel, state,
//! attempts and times stay, so every count, report total and dashboard figure is what it
//! was; so do the recipient key (the audience's id column, needed by the unique key), the
//! attempt and event rows themselves (outcome, code, times, states) and the audit trail.
//! The suppression list is kept too: it is how an opt-out goes on being honoured.
//!
//! Rows are walked by id, [`PRUNE_BATCH`] at a time, each batch its own short write, so a
//! daemon sending from the same ledger waits for one batch at most.

use anyhow::Context;

use super::SqliteLedger;
use crate::store::Millis;

/// Messages looked at per write.
pub(crate) const PRUNE_BATCH: u32 = 10_000;

/// What one prune did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    /// Messages whose personal data was cleared.
    pub messages: u64,
    /// Writes it took.
    pub batches: u64,
}

/// A final state, written as `=` chains like the table's CHECK (migration 0007).
const ENDED: &str = "(state = 'sent' OR state = 'delivered' OR state = 'failed' \
                     OR state = 'expired' OR state = 'skipped' OR state = 'cancelled' \
                     OR state = 'replaced')";

/// The pruned messages with ids in `(?1, ?2]`.
macro_rules! pruned_in_batch {
    () => {
        "(SELECT id FROM message WHERE id > ?1 AND id <= ?2 AND pruned_at IS NOT NULL)"
    };
}

const ATTEMPT_TEXTS: &str = concat!(
    "UPDATE attempt SET error = NULL WHERE error IS NOT NULL AND message_id IN ",
    pruned_in_batch!()
);
const EVENT_TEXTS: &str = concat!(
    "UPDATE message_event SET detail = NULL WHERE detail IS NOT NULL AND message IN ",
    pruned_in_batch!()
);
const EARLY_RECEIPTS: &str = concat!(
    "DELETE FROM receipt_early WHERE message IN ",
    pruned_in_batch!()
);

impl SqliteLedger {
    /// How many messages [`Store::prune_personal_data`] would clear for `before` (one walk
    /// over the ledger).
    pub(crate) async fn prunable(&self, before: Millis) -> anyhow::Result<u64> {
        let sql = format!(
            "SELECT COUNT(*) FROM message WHERE pruned_at IS NULL AND updated_at < ? AND {ENDED}"
        );
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(before)
            .fetch_one(self.pool())
            .await
            .context("counting the messages to prune")?;
        Ok(crate::store::to_u64(n))
    }

    /// Clears the personal data of every message that ended before `before` (see the
    /// module docs), stamping it `now`, `batch` ids per write; `progress` hears the
    /// messages pruned so far after each write. Pruning again finds nothing new.
    pub(crate) async fn prune_personal_data(
        &self,
        before: Millis,
        now: Millis,
        batch: u32,
        mut progress: impl FnMut(u64),
    ) -> anyhow::Result<Pruned> {
        let mut done = Pruned::default();
        let mut after: i64 = 0;
        let clear = format!(
            "UPDATE message SET address = NULL, context = '{{}}', last_error = NULL, \
             pruned_at = ? \
             WHERE id > ? AND id <= ? AND pruned_at IS NULL AND updated_at < ? AND {ENDED}"
        );
        while let Some(last) = self.batch_end(after, batch).await? {
            done.messages += self.prune_ids(&clear, (after, last), before, now).await?;
            done.batches += 1;
            progress(done.messages);
            after = last;
        }
        Ok(done)
    }

    /// The last of up to `batch` message ids after `after`; None when there are none.
    async fn batch_end(&self, after: i64, batch: u32) -> anyhow::Result<Option<i64>> {
        sqlx::query_scalar(
            "SELECT MAX(id) FROM (SELECT id FROM message WHERE id > ? ORDER BY id LIMIT ?)",
        )
        .bind(after)
        .bind(i64::from(batch.max(1)))
        .fetch_one(self.pool())
        .await
        .context("finding the next messages to prune")
    }

    /// One write: `clear` on the messages with ids in `(after, last]` that ended before
    /// `before`, and the texts kept beside them. Returns how many messages it pruned.
    async fn prune_ids(
        &self,
        clear: &str,
        (after, last): (i64, i64),
        before: Millis,
        now: Millis,
    ) -> anyhow::Result<u64> {
        let mut w = self.write().await?;
        let changed = sqlx::query(sqlx::AssertSqlSafe(clear))
            .bind(now)
            .bind(after)
            .bind(last)
            .bind(before)
            .execute(&mut *w.tx)
            .await
            .context("clearing the personal data of ended messages")?
            .rows_affected();
        // The texts of every pruned message in the batch, this time's and (from before
        // they were cleared too) earlier ones'.
        for (what, sql) in [
            ("attempts", ATTEMPT_TEXTS),
            ("events", EVENT_TEXTS),
            ("early receipts", EARLY_RECEIPTS),
        ] {
            sqlx::query(sql)
                .bind(after)
                .bind(last)
                .execute(&mut *w.tx)
                .await
                .with_context(|| format!("clearing the texts of pruned messages' {what}"))?;
        }
        w.commit().await?;
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::store::MessageState;
    use crate::store::test_support::*;

    const DAY: Millis = 86_400_000;

    /// recipient, state, address, context, pruned_at
    type Kept = (String, String, Option<String>, String, Option<i64>);

    #[tokio::test]
    async fn ended_messages_older_than_the_cutoff_lose_their_personal_data_and_counts_stay() {
        let (_dir, store) = open().await;
        let occ = seed(&store).await;
        let rows: Vec<_> = (0..5)
            .map(|i| message(&occ, &format!("r{i}"), "email"))
            .collect();
        store.insert_messages(&rows, T0).await.unwrap();
        // r0..r2 are sent at T0, r3 stays pending, r4 is being sent.
        let claimed = store
            .claim("w", T0, Duration::from_secs(60), 4, &[])
            .await
            .unwrap();
        for c in &claimed[..3] {
            record_sent(&store, c, "p", T0).await;
        }
        let before = store.state_counts().await.unwrap();

        // Nothing had ended 60 days before T0.
        let none = store
            .prune_personal_data(T0 - 60 * DAY, T0 + 30 * DAY, 2, |_| {})
            .await
            .unwrap();
        assert_eq!(none.messages, 0);
        assert_eq!(store.prunable(T0 - 60 * DAY).await.unwrap(), 0);
        assert_eq!(store.prunable(T0 + 1).await.unwrap(), 3);

        let mut seen = Vec::new();
        let pruned = store
            .prune_personal_data(T0 + 1, T0 + 91 * DAY, 2, |n| seen.push(n))
            .await
            .unwrap();
        assert_eq!(
            pruned,
            Pruned {
                messages: 3,
                batches: 3
            },
            "5 ids, 2 a batch"
        );
        assert_eq!(seen, [2, 3, 3]);
        assert_eq!(
            store.state_counts().await.unwrap(),
            before,
            "every count stays"
        );

        let kept: Vec<Kept> = sqlx::query_as(
            "SELECT recipient, state, address, context, pruned_at FROM message ORDER BY id",
        )
        .fetch_all(store.pool())
        .await
        .unwrap();
        for (recipient, state, address, context, pruned_at) in &kept {
            if state == "sent" {
                assert_eq!(
                    (address.as_deref(), context.as_str(), *pruned_at),
                    (None, "{}", Some(T0 + 91 * DAY)),
                    "{recipient}"
                );
            } else {
                assert!(address.is_some() && context != "{}", "{recipient} {state}");
                assert_eq!(*pruned_at, None);
            }
        }
        let states: Vec<&str> = kept.iter().map(|k| k.1.as_str()).collect();
        assert_eq!(states, ["sent", "sent", "sent", "sending", "pending"]);
        let again = store
            .prune_personal_data(T0 + 1, T0 + 92 * DAY, 2, |_| {})
            .await
            .unwrap();
        assert_eq!(again.messages, 0, "pruning again finds nothing new");
        assert_eq!(store.prunable(T0 + 1).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn a_pruned_failure_is_not_put_back_in_the_queue() {
        let (_dir, store) = open().await;
        let occ = seed(&store).await;
        store
            .insert_messages(
                &[message(&occ, "a", "email"), message(&occ, "b", "email")],
                T0,
            )
            .await
            .unwrap();
        let claimed = store
            .claim("w", T0, Duration::from_secs(60), 2, &[])
            .await
            .unwrap();
        let failed: Vec<_> = claimed
            .iter()
            .map(|c| crate::store::Outcome {
                id: c.id,
                attempt: c.attempt,
                owner: "w".into(),
                started_at: T0,
                duration_ms: 5,
                result: crate::store::OutcomeKind::Failed {
                    code: Some("550".into()),
                    error: "550 mailbox unavailable".into(),
                },
            })
            .collect();
        assert_eq!(store.record(&failed, T0).await.unwrap(), 2);
        store
            .prune_personal_data(T0 + 1, T0 + 91 * DAY, 1, |_| {})
            .await
            .unwrap();
        let retried = store
            .retry("c", None, MessageState::Failed, T0 + 92 * DAY)
            .await
            .unwrap();
        assert_eq!(retried, 0, "nothing to send it to any more");
    }

    /// Issue 14 item 16: a pruned message's attempts and events keep no provider text.
    #[tokio::test]
    async fn pruning_clears_the_texts_of_attempts_and_events_too() {
        let (_dir, store) = open().await;
        let occ = seed(&store).await;
        let rows = [message(&occ, "a", "email"), message(&occ, "b", "email")];
        store.insert_messages(&rows, T0).await.unwrap();
        let claimed = store
            .claim("w", T0, Duration::from_secs(60), 2, &[])
            .await
            .unwrap();
        let outcome = |c: &crate::store::Claimed, at: Millis| crate::store::Outcome {
            id: c.id,
            attempt: c.attempt,
            owner: "w".into(),
            started_at: at,
            duration_ms: 5,
            result: crate::store::OutcomeKind::Failed {
                code: Some("550".into()),
                error: "550 mailbox of Nguyen Van A unavailable".into(),
            },
        };
        // `a` ends long before the cutoff, `b` after it.
        store.record(&[outcome(&claimed[0], T0)], T0).await.unwrap();
        store
            .record(&[outcome(&claimed[1], T0 + 10 * DAY)], T0 + 10 * DAY)
            .await
            .unwrap();
        let texts = || async {
            let attempts: Vec<(String, Option<String>)> = sqlx::query_as(
                "SELECT m.recipient, a.error FROM attempt a JOIN message m ON m.id = a.message_id                  ORDER BY m.recipient",
            )
            .fetch_all(store.pool())
            .await
            .unwrap();
            let events: Vec<(String, Option<String>)> = sqlx::query_as(
                "SELECT m.recipient, e.detail FROM message_event e                  JOIN message m ON m.id = e.message WHERE e.to_state = 'failed'                  ORDER BY m.recipient",
            )
            .fetch_all(store.pool())
            .await
            .unwrap();
            (attempts, events)
        };
        let text = Some("550 mailbox of Nguyen Van A unavailable".to_string());
        let (attempts, events) = texts().await;
        assert_eq!(
            attempts,
            [("a".into(), text.clone()), ("b".into(), text.clone())]
        );
        assert!(
            events
                .iter()
                .all(|(_, d)| d.as_deref().is_some_and(|d| d.contains("Nguyen")))
        );

        let pruned = store
            .prune_personal_data(T0 + DAY, T0 + 91 * DAY, 1, |_| {})
            .await
            .unwrap();
        assert_eq!(pruned.messages, 1);
        let (attempts, events) = texts().await;
        assert_eq!(attempts, [("a".into(), None), ("b".into(), text)]);
        assert_eq!(events[0], ("a".into(), None));
        assert!(events[1].1.as_deref().is_some_and(|d| d.contains("Nguyen")));
    }
}
