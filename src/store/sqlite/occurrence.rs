//! `occurrence`: one row per (campaign, step, n), the unit of expansion into messages.

use anyhow::Context;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::SqliteLedger;
use crate::store::{Millis, OccurrenceRow, to_u32};

/// One occurrence by its natural key.
const SELECT_ONE: &str = "SELECT id, campaign, step, n, at, enqueued_at, missed_at FROM occurrence
     WHERE campaign = ? AND step = ? AND n = ?";

impl SqliteLedger {
    /// Gets the occurrence `n` of a step, creating it at `at` if it is new. An existing
    /// row keeps the instant it was created with.
    pub(crate) async fn occurrence(
        &self,
        campaign: &str,
        step: &str,
        n: u32,
        at: Millis,
    ) -> anyhow::Result<OccurrenceRow> {
        let mut w = self.write().await?;
        sqlx::query(
            "INSERT INTO occurrence (campaign, step, n, at) VALUES (?, ?, ?, ?)
             ON CONFLICT (campaign, step, n) DO NOTHING",
        )
        .bind(campaign)
        .bind(step)
        .bind(i64::from(n))
        .bind(at)
        .execute(&mut *w.tx)
        .await
        .with_context(|| format!("creating occurrence {n} of {campaign}/{step}"))?;
        let row = sqlx::query(SELECT_ONE)
            .bind(campaign)
            .bind(step)
            .bind(i64::from(n))
            .fetch_one(&mut *w.tx)
            .await
            .with_context(|| format!("reading occurrence {n} of {campaign}/{step}"))?;
        w.commit().await?;
        occurrence_row(&row)
    }

    /// The occurrence `n` of a step, if it was ever seen.
    pub(crate) async fn find_occurrence(
        &self,
        campaign: &str,
        step: &str,
        n: u32,
    ) -> anyhow::Result<Option<OccurrenceRow>> {
        let row = sqlx::query(SELECT_ONE)
            .bind(campaign)
            .bind(step)
            .bind(i64::from(n))
            .fetch_optional(self.pool())
            .await
            .with_context(|| format!("reading occurrence {n} of {campaign}/{step}"))?;
        row.as_ref().map(occurrence_row).transpose()
    }

    /// Records that an occurrence was missed (first seen too late); it will not be sent.
    pub(crate) async fn mark_missed(&self, occurrence_id: i64, now: Millis) -> anyhow::Result<()> {
        let mut w = self.write().await?;
        sqlx::query("UPDATE occurrence SET missed_at = ? WHERE id = ? AND missed_at IS NULL AND enqueued_at IS NULL")
            .bind(now)
            .bind(occurrence_id)
            .execute(&mut *w.tx)
            .await
            .with_context(|| format!("marking occurrence {occurrence_id} missed"))?;
        w.commit().await
    }

    /// Marks an occurrence fully expanded. Only the first call sets the time.
    pub(crate) async fn mark_enqueued(
        &self,
        occurrence_id: i64,
        now: Millis,
    ) -> anyhow::Result<()> {
        let mut w = self.write().await?;
        let done = sqlx::query(
            "UPDATE occurrence SET enqueued_at = ? WHERE id = ? AND enqueued_at IS NULL",
        )
        .bind(now)
        .bind(occurrence_id)
        .execute(&mut *w.tx)
        .await
        .with_context(|| format!("marking occurrence {occurrence_id} enqueued"))?;
        if done.rows_affected() == 0 {
            let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM occurrence WHERE id = ?")
                .bind(occurrence_id)
                .fetch_optional(&mut *w.tx)
                .await?;
            anyhow::ensure!(exists.is_some(), "no occurrence with id {occurrence_id}");
        }
        w.commit().await
    }
}

fn occurrence_row(row: &SqliteRow) -> anyhow::Result<OccurrenceRow> {
    Ok(OccurrenceRow {
        id: row.try_get("id")?,
        campaign: row.try_get("campaign")?,
        step: row.try_get("step")?,
        n: to_u32(row.try_get("n")?, "occurrence number")?,
        at: row.try_get("at")?,
        enqueued_at: row.try_get("enqueued_at")?,
        missed_at: row.try_get("missed_at")?,
    })
}
