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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::sync::Barrier;

    use crate::store::Store;
    use crate::store::test_support::*;

    #[tokio::test]
    async fn three_daemons_starting_together_enqueue_each_occurrence_once() {
        let Some(db) = pg_database().await else {
            return;
        };
        let mut daemons = Vec::new();
        for _ in 0..3 {
            daemons.push(Store::open_postgres(&db.url()).await.unwrap());
        }
        daemons[0].upsert_campaign(&campaign("c")).await.unwrap();
        // Twenty occurrences; for each, the three daemons start its expansion at once.
        for n in 0..20 {
            let barrier = Arc::new(Barrier::new(3));
            let runs: Vec<_> = daemons
                .iter()
                .map(|d| {
                    let (d, barrier) = (d.clone(), barrier.clone());
                    tokio::spawn(async move {
                        barrier.wait().await;
                        let occ = d.occurrence("c", "s", n, T0).await.unwrap();
                        let inserted = d.insert_messages(&messages(&occ, 50), T0).await.unwrap();
                        d.mark_enqueued(occ.id, T0 + 1).await.unwrap();
                        (occ.id, inserted)
                    })
                })
                .collect();
            let mut ids = Vec::new();
            let mut inserted = 0;
            for run in runs {
                let (id, n) = run.await.unwrap();
                ids.push(id);
                inserted += n;
            }
            ids.dedup();
            assert_eq!((ids.len(), inserted), (1, 50), "occurrence {n}");
        }
        let store = &daemons[0];
        assert_eq!(count(store, "SELECT COUNT(*) FROM occurrence").await, 20);
        assert_eq!(count(store, "SELECT COUNT(*) FROM message").await, 1000);
        assert_eq!(
            count(
                store,
                "SELECT COUNT(*) FROM occurrence WHERE enqueued_at IS NULL"
            )
            .await,
            0
        );
        for d in &daemons {
            d.close().await;
        }
    }
}
