//! `campaign`: one row per loaded campaign file.

use anyhow::Context;

use super::PgLedger;
use crate::store::CampaignRow;

impl PgLedger {
    pub(crate) async fn upsert_campaign(&self, c: &CampaignRow) -> anyhow::Result<()> {
        let now = chrono::Utc::now().timestamp_millis();
        let mut w = self.write().await?;
        sqlx::query(
            "INSERT INTO campaign (id, title, status, content_hash, file, loaded_at)
             VALUES ($1, $2, $3, $4, $5, $6)
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

    pub(crate) async fn steps_of(&self, campaign: &str) -> anyhow::Result<Vec<String>> {
        sqlx::query_scalar(
            "SELECT DISTINCT step COLLATE \"C\" FROM occurrence WHERE campaign = $1 \
             ORDER BY 1",
        )
        .bind(campaign)
        .fetch_all(self.pool())
        .await
        .with_context(|| format!("reading the steps of campaign {campaign:?}"))
    }
}
