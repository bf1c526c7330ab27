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
//! Rows are walked by id, [`PRUNE_BATCH`](crate::store::PRUNE_BATCH) at a time, each batch its own short write, so a
//! daemon sending from the same ledger waits for one batch at most.

use anyhow::Context;

use super::SqliteLedger;
use crate::store::{Millis, Pruned};

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
