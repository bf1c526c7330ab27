//! Retention (docs/reliability.md#r21): the rule of [`crate::store::sqlite`]'s `prune` on
//! PostgreSQL — the personal data of messages that ended before the cutoff cleared, the
//! rows kept, walked by id a batch per short transaction. Each batch is one statement: the
//! messages cleared, then, from the ids of the batch's pruned messages, their attempts'
//! and events' texts and their early receipts. Safe on several daemons at once: a message
//! is cleared once (`pruned_at IS NULL`), the texts' clearing is idempotent.

use anyhow::Context;

use super::PgLedger;
use crate::store::{Millis, Pruned, to_u64};

/// A final state.
const ENDED: &str =
    "state IN ('sent', 'delivered', 'failed', 'expired', 'skipped', 'cancelled', 'replaced')";

impl PgLedger {
    pub(crate) async fn prunable(&self, before: Millis) -> anyhow::Result<u64> {
        let sql = format!(
            "SELECT COUNT(*) FROM message WHERE pruned_at IS NULL AND updated_at < $1 AND {ENDED}"
        );
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(before)
            .fetch_one(self.pool())
            .await
            .context("counting the messages to prune")?;
        Ok(to_u64(n))
    }

    pub(crate) async fn prune_personal_data(
        &self,
        before: Millis,
        now: Millis,
        batch: u32,
        mut progress: impl FnMut(u64),
    ) -> anyhow::Result<Pruned> {
        // `$1` now, `$2`/`$3` the batch's ids (after, last], `$4` the cutoff. The texts
        // of every pruned message in the batch are cleared, this time's and (from before
        // they were cleared too) earlier ones'.
        let sql = format!(
            "WITH cleared AS (UPDATE message SET address = NULL, context = '{{}}', \
                 last_error = NULL, pruned_at = $1 \
                 WHERE id > $2 AND id <= $3 AND pruned_at IS NULL AND updated_at < $4 \
                 AND {ENDED} RETURNING id), \
             pruned AS (SELECT id FROM cleared UNION SELECT id FROM message \
                 WHERE id > $2 AND id <= $3 AND pruned_at IS NOT NULL), \
             attempts AS (UPDATE attempt SET error = NULL \
                 WHERE error IS NOT NULL AND message_id IN (SELECT id FROM pruned)), \
             events AS (UPDATE message_event SET detail = NULL \
                 WHERE detail IS NOT NULL AND message IN (SELECT id FROM pruned)), \
             receipts AS (DELETE FROM receipt_early WHERE message IN (SELECT id FROM pruned)) \
             SELECT COUNT(*) FROM cleared"
        );
        let mut done = Pruned::default();
        let mut after: i64 = 0;
        while let Some(last) = self.batch_end(after, batch).await? {
            let mut w = self.write().await?;
            let cleared: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(now)
                .bind(after)
                .bind(last)
                .bind(before)
                .fetch_one(&mut *w.tx)
                .await
                .context("clearing the personal data of ended messages")?;
            w.commit().await?;
            done.messages += to_u64(cleared);
            done.batches += 1;
            progress(done.messages);
            after = last;
        }
        Ok(done)
    }

    /// The last of up to `batch` message ids after `after`; None when there are none.
    async fn batch_end(&self, after: i64, batch: u32) -> anyhow::Result<Option<i64>> {
        sqlx::query_scalar(
            "SELECT MAX(id) FROM (SELECT id FROM message WHERE id > $1 ORDER BY id LIMIT $2) b",
        )
        .bind(after)
        .bind(i64::from(batch.max(1)))
        .fetch_one(self.pool())
        .await
        .context("finding the next messages to prune")
    }
}
