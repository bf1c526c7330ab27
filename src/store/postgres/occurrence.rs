//! `occurrence`: one row per (campaign, step, n), the unit of expansion into messages.
//!
//! Daemons starting in the same second all ask for the same occurrence: the insert is
//! `ON CONFLICT (campaign, step, n) DO NOTHING`, so exactly one row is ever created, and
//! every daemon reads back that one row. Its messages are then inserted under their own
//! natural key and `enqueued_at` is set by the first `mark_enqueued` only, so however many
//! daemons expand it, each message exists once.

use anyhow::Context;
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::PgLedger;
use crate::store::{Millis, OccurrenceRow, to_u32};

/// One occurrence by its natural key.
const SELECT_ONE: &str = "SELECT id, campaign, step, n, at, enqueued_at, missed_at \
    FROM occurrence WHERE campaign = $1 AND step = $2 AND n = $3";

impl PgLedger {
    pub(crate) async fn occurrence(
        &self,
        campaign: &str,
        step: &str,
        n: u32,
        at: Millis,
    ) -> anyhow::Result<OccurrenceRow> {
        let context = || format!("creating occurrence {n} of {campaign}/{step}");
        // The row this call created, or nothing when it existed already: the statement's
        // snapshot may predate a concurrent creator's commit, so the existing row is read
        // by a second statement, which sees it.
        let mut w = self.write().await?;
        let created = sqlx::query(
            "INSERT INTO occurrence (campaign, step, n, at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (campaign, step, n) DO NOTHING \
             RETURNING id, campaign, step, n, at, enqueued_at, missed_at",
        )
        .bind(campaign)
        .bind(step)
        .bind(i64::from(n))
        .bind(at)
        .fetch_optional(&mut *w.tx)
        .await
        .with_context(context)?;
        let row = match created {
            Some(row) => row,
            None => sqlx::query(SELECT_ONE)
                .bind(campaign)
                .bind(step)
                .bind(i64::from(n))
                .fetch_one(&mut *w.tx)
                .await
                .with_context(|| format!("reading occurrence {n} of {campaign}/{step}"))?,
        };
        w.commit().await?;
        occurrence_row(&row)
    }

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

    pub(crate) async fn mark_missed(&self, occurrence_id: i64, now: Millis) -> anyhow::Result<()> {
        let mut w = self.write().await?;
        sqlx::query(
            "UPDATE occurrence SET missed_at = $1 \
             WHERE id = $2 AND missed_at IS NULL AND enqueued_at IS NULL",
        )
        .bind(now)
        .bind(occurrence_id)
        .execute(&mut *w.tx)
        .await
        .with_context(|| format!("marking occurrence {occurrence_id} missed"))?;
        w.commit().await
    }

    pub(crate) async fn mark_enqueued(
        &self,
        occurrence_id: i64,
        now: Millis,
    ) -> anyhow::Result<()> {
        // One statement: set the time if unset, and say whether the row exists at all.
        let mut w = self.write().await?;
        let exists: Option<bool> = sqlx::query_scalar(
            "WITH marked AS (UPDATE occurrence SET enqueued_at = $1 \
                 WHERE id = $2 AND enqueued_at IS NULL RETURNING id) \
             SELECT EXISTS (SELECT 1 FROM marked) \
                 OR EXISTS (SELECT 1 FROM occurrence WHERE id = $2)",
        )
        .bind(now)
        .bind(occurrence_id)
        .fetch_one(&mut *w.tx)
        .await
        .with_context(|| format!("marking occurrence {occurrence_id} enqueued"))?;
        anyhow::ensure!(
            exists == Some(true),
            "no occurrence with id {occurrence_id}"
        );
        w.commit().await
    }
}

fn occurrence_row(row: &PgRow) -> anyhow::Result<OccurrenceRow> {
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
