//! `campaign_pause`: operator holds (the dashboard's pause), one row per held campaign.
//! Every daemon reads them, so a pause on one dashboard holds every daemon.

use std::collections::HashSet;

use anyhow::Context;

use super::PgLedger;
use crate::store::Millis;

impl PgLedger {
    pub(crate) async fn hold_campaign(
        &self,
        campaign: &str,
        by: &str,
        now: Millis,
    ) -> anyhow::Result<bool> {
        let mut w = self.write().await?;
        let done = sqlx::query(
            "INSERT INTO campaign_pause (campaign, paused_at, by) VALUES ($1, $2, $3) \
             ON CONFLICT (campaign) DO NOTHING",
        )
        .bind(campaign)
        .bind(now)
        .bind(by)
        .execute(&mut *w.tx)
        .await
        .with_context(|| format!("pausing campaign {campaign:?}"))?;
        w.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn release_campaign(&self, campaign: &str) -> anyhow::Result<bool> {
        let mut w = self.write().await?;
        let done = sqlx::query("DELETE FROM campaign_pause WHERE campaign = $1")
            .bind(campaign)
            .execute(&mut *w.tx)
            .await
            .with_context(|| format!("resuming campaign {campaign:?}"))?;
        w.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn held_campaigns(&self) -> anyhow::Result<HashSet<String>> {
        let ids: Vec<String> = sqlx::query_scalar("SELECT campaign FROM campaign_pause")
            .fetch_all(self.pool())
            .await
            .context("reading operator pauses")?;
        Ok(ids.into_iter().collect())
    }
}
