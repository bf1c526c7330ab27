//! `suppression`: addresses that must not be sent to again — recorded by unsubscribe
//! links (RFC 8058 one-click), read by the dispatcher, which marks such messages `skipped`
//! at send time (docs/delivery.md#states).
//!
//! Addresses compare ASCII-case-insensitively (the column is `COLLATE NOCASE`): suppressing
//! `An@Example.vn` also covers `an@example.vn`, the safe direction to err in.

use std::collections::HashSet;

use anyhow::Context;

use super::SqliteLedger;
use crate::store::{Millis, Suppression, UnsubscribeTarget};

impl SqliteLedger {
    /// Records `s` at `now`; true when the address was not suppressed before (the first
    /// suppression of an address is kept, later ones change nothing).
    pub(crate) async fn suppress(&self, s: &Suppression<'_>, now: Millis) -> anyhow::Result<bool> {
        let mut w = self.write().await?;
        let done = sqlx::query(
            "INSERT INTO suppression (address, channel_kind, reason, at, message) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (address) DO NOTHING",
        )
        .bind(s.address.trim())
        .bind(s.channel_kind)
        .bind(s.reason.as_str())
        .bind(now)
        .bind(s.message)
        .execute(&mut *w.tx)
        .await
        .context("recording a suppression")?;
        w.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Whether `address` must not be sent to.
    pub(crate) async fn is_suppressed(&self, address: &str) -> anyhow::Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM suppression WHERE address = ?")
            .bind(address.trim())
            .fetch_one(self.pool())
            .await
            .context("looking up a suppression")?;
        Ok(n > 0)
    }

    /// Those of `addresses` (as given) that must not be sent to: one fixed statement for a
    /// claimed batch, the addresses as one JSON array, the answer as one row.
    pub(crate) async fn suppressed_among(
        &self,
        addresses: &[String],
    ) -> anyhow::Result<HashSet<String>> {
        let trimmed: Vec<&str> = addresses.iter().map(|a| a.trim()).collect();
        let rows: String = sqlx::query_scalar(
            "SELECT json_group_array(address) FROM suppression \
             WHERE address IN (SELECT value FROM json_each(?1))",
        )
        .bind(serde_json::to_string(&trimmed).context("encoding addresses")?)
        .fetch_one(self.pool())
        .await
        .context("looking up suppressions")?;
        let rows: Vec<String> = serde_json::from_str(&rows).context("reading suppressions")?;
        // NOCASE folds ASCII letters only; fold the same way here.
        let found: HashSet<String> = rows.into_iter().map(|a| a.to_ascii_lowercase()).collect();
        Ok(addresses
            .iter()
            .filter(|a| found.contains(&a.trim().to_ascii_lowercase()))
            .cloned()
            .collect())
    }

    /// The message `message_id` names, for an unsubscribe link.
    pub(crate) async fn unsubscribe_target(
        &self,
        message_id: &str,
    ) -> anyhow::Result<Option<UnsubscribeTarget>> {
        let Some(row_id) = crate::store::message_row(message_id) else {
            return Ok(None);
        };
        let row: Option<(String, String, Option<String>)> = sqlx::query_as(
            "SELECT campaign, channel, address FROM message WHERE id = ? AND message_id = ?",
        )
        .bind(row_id)
        .bind(message_id)
        .fetch_optional(self.pool())
        .await
        .context("finding the message of an unsubscribe link")?;
        Ok(row.map(|(campaign, channel, address)| UnsubscribeTarget {
            campaign,
            channel,
            address,
        }))
    }
}
