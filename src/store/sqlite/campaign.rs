//! `campaign`: one row per loaded campaign file.

use anyhow::Context;

use super::SqliteLedger;
use crate::store::CampaignRow;

impl SqliteLedger {
    /// Inserts or updates a campaign as loaded now from its file.
    ///
    /// `loaded_at` is the wall clock: it records when the file was read, which is a fact
    /// about this machine even under `simulate`'s virtual time.
    pub(crate) async fn upsert_campaign(&self, c: &CampaignRow) -> anyhow::Result<()> {
        let now = chrono::Utc::now().timestamp_millis();
        let mut w = self.write().await?;
        sqlx::query(
            "INSERT INTO campaign (id, title, status, content_hash, file, loaded_at)
             VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET
                 title = excluded.title, status = excluded.status,
                 content_hash = excluded.content_hash, file = excluded.file,
                 loaded_at = excluded.loaded_at",
        )
        .bind(&c.id)
        .bind(&c.title)
        .bind(&c.status)
        .bind(&c.content_hash)
        .bind(&c.file)
        .bind(now)
        .execute(&mut *w.tx)
        .await
        .with_context(|| format!("saving campaign {:?}", c.id))?;
        w.commit().await
    }

    /// The steps of `campaign` the ledger knows (those with an occurrence enqueued or
    /// missed), sorted, for `retry`'s check of `--step`.
    pub(crate) async fn steps_of(&self, campaign: &str) -> anyhow::Result<Vec<String>> {
        sqlx::query_scalar("SELECT DISTINCT step FROM occurrence WHERE campaign = ? ORDER BY step")
            .bind(campaign)
            .fetch_all(self.pool())
            .await
            .with_context(|| format!("reading the steps of campaign {campaign:?}"))
    }
}
