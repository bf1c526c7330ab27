//! `campaign_pause`: operator holds, set by "pause" on the dashboard (issue 4).
//!
//! An operator hold overrides the campaign file's `status: active` without editing the
//! file, and survives restarts; the dispatcher's gate asks [`Store::held_campaigns`] which
//! campaigns to hold. It is neither the file's `status: paused` nor a provider's pause of a
//! channel (`dispatch/gate.rs` names the three apart). Holding twice keeps the first hold;
//! releasing a campaign not held changes nothing. Who did it and when also goes to the
//! audit trail (the caller writes that row).

use std::collections::HashSet;

use anyhow::Context;

use super::SqliteLedger;
use crate::store::Millis;

impl SqliteLedger {
    /// Holds `campaign` at `now` on behalf of `by` (the dashboard's "pause"). Returns
    /// whether it was not held before. The campaign must be known to the ledger.
    pub(crate) async fn hold_campaign(
        &self,
        campaign: &str,
        by: &str,
        now: Millis,
    ) -> anyhow::Result<bool> {
        let mut w = self.write().await?;
        let done = sqlx::query(
            "INSERT INTO campaign_pause (campaign, paused_at, by) VALUES (?, ?, ?) \
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

    /// Lifts the operator hold of `campaign` (the dashboard's "resume"). Returns whether it
    /// was held.
    pub(crate) async fn release_campaign(&self, campaign: &str) -> anyhow::Result<bool> {
        let mut w = self.write().await?;
        let done = sqlx::query("DELETE FROM campaign_pause WHERE campaign = ?")
            .bind(campaign)
            .execute(&mut *w.tx)
            .await
            .with_context(|| format!("resuming campaign {campaign:?}"))?;
        w.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// The campaigns an operator holds.
    pub(crate) async fn held_campaigns(&self) -> anyhow::Result<HashSet<String>> {
        let ids: Vec<String> = sqlx::query_scalar("SELECT campaign FROM campaign_pause")
            .fetch_all(self.pool())
            .await
            .context("reading operator pauses")?;
        Ok(ids.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use crate::store::Store;
    use crate::store::test_support::*;

    #[tokio::test]
    async fn a_pause_is_kept_until_resumed_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&url(&dir)).await.unwrap();
        store.upsert_campaign(&campaign("c")).await.unwrap();
        store.upsert_campaign(&campaign("d")).await.unwrap();
        assert!(store.held_campaigns().await.unwrap().is_empty());
        assert!(store.hold_campaign("c", "admin", T0).await.unwrap());
        assert!(!store.hold_campaign("c", "admin", T0 + 1).await.unwrap());
        store.close().await;

        let store = Store::open(&url(&dir)).await.unwrap();
        let paused = store.held_campaigns().await.unwrap();
        assert_eq!(paused.into_iter().collect::<Vec<_>>(), ["c"]);
        assert!(store.release_campaign("c").await.unwrap());
        assert!(!store.release_campaign("c").await.unwrap());
        assert!(store.held_campaigns().await.unwrap().is_empty());
    }
}
