//! `suppression`: addresses that must not be sent to again.
//!
//! The address column's collation (`nocase`, migrations/postgres/0001) ignores case in
//! every script, where SQLite's NOCASE folds ASCII only: `Đ@x.vn` also covers `đ@x.vn`,
//! the safe direction to err in. So the addresses found are matched back to the caller's
//! spellings by the server, not by folding case here.

use std::collections::HashSet;

use anyhow::Context;

use super::PgLedger;
use crate::store::{Millis, Suppression, UnsubscribeTarget};

impl PgLedger {
    pub(crate) async fn suppress(&self, s: &Suppression<'_>, now: Millis) -> anyhow::Result<bool> {
        let mut w = self.write().await?;
        let done = sqlx::query(
            "INSERT INTO suppression (address, channel_kind, reason, at, message) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (address) DO NOTHING",
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

    pub(crate) async fn is_suppressed(&self, address: &str) -> anyhow::Result<bool> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM suppression WHERE address = $1)")
            .bind(address.trim())
            .fetch_one(self.pool())
            .await
            .context("looking up a suppression")
    }

    /// One statement for a claimed batch: the positions of the addresses found.
    pub(crate) async fn suppressed_among(
        &self,
        addresses: &[String],
    ) -> anyhow::Result<HashSet<String>> {
        let trimmed: Vec<&str> = addresses.iter().map(|a| a.trim()).collect();
        let found: Vec<i64> = sqlx::query_scalar(
            "SELECT a.i FROM UNNEST($1::text[]) WITH ORDINALITY AS a (address, i) \
             WHERE EXISTS (SELECT 1 FROM suppression s WHERE s.address = a.address)",
        )
        .bind(trimmed)
        .fetch_all(self.pool())
        .await
        .context("looking up suppressions")?;
        Ok(found
            .into_iter()
            .filter_map(|i| addresses.get(usize::try_from(i - 1).ok()?).cloned())
            .collect())
    }

    pub(crate) async fn unsubscribe_target(
        &self,
        message_id: &str,
    ) -> anyhow::Result<Option<UnsubscribeTarget>> {
        let Some(row_id) = crate::store::message_row(message_id) else {
            return Ok(None);
        };
        let row: Option<(String, String, Option<String>)> = sqlx::query_as(
            "SELECT campaign, channel, address FROM message WHERE id = $1 AND message_id = $2",
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

#[cfg(test)]
mod tests {
    use crate::store::test_support::*;
    use crate::store::{Suppression, SuppressionReason};

    #[tokio::test]
    async fn a_suppressed_address_covers_its_other_case_in_any_script() {
        let Some((_db, store)) = open_pg().await else {
            return;
        };
        let s = Suppression {
            address: "Đức.Nguyễn@Trường.edu.vn",
            channel_kind: None,
            reason: SuppressionReason::Unsubscribed,
            message: None,
        };
        assert!(store.suppress(&s, T0).await.unwrap());
        assert!(
            store
                .is_suppressed(" đức.nguyễn@trường.EDU.VN ")
                .await
                .unwrap()
        );
        // Accents still count.
        assert!(
            !store
                .is_suppressed("duc.nguyen@truong.edu.vn")
                .await
                .unwrap()
        );
        let asked = [
            "đỨC.NGUYỄN@TRƯỜNG.EDU.VN".to_owned(),
            "other@x.vn".to_owned(),
        ];
        let found = store.suppressed_among(&asked).await.unwrap();
        assert_eq!(found, [asked[0].clone()].into());
    }
}
