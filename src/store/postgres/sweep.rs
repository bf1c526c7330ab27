//! State changes over many messages at once: lease rescue and release, window expiry,
//! and the operator's cancel / pause / retry.
//!
//! Each is one statement: an `UPDATE … RETURNING` in a CTE, and the events of the rows it
//! moved inserted from what it returned. The housekeeping sweeps (rescue, release, expiry)
//! run on every daemon at once: they take their rows `FOR UPDATE SKIP LOCKED`, so two
//! daemons sweeping together neither wait on each other nor move a row twice, and a row
//! locked by a daemon recording its outcome is left for the next sweep. The operator's
//! moves (cancel, pause, retry) wait for such rows instead: they must move every one.

use anyhow::Context;
use sqlx::AssertSqlSafe;

use super::PgLedger;
use crate::store::{MessageState, Millis, to_u64 as count};

/// `moved`, a CTE of an `UPDATE … RETURNING id`, followed by one event per moved row from
/// `$from` to the row's new state with `$detail`, and the count of moved rows.
fn with_events(update: &str, from: &str, to: &str, detail: &str) -> String {
    format!(
        "WITH moved AS ({update} RETURNING id{extra}), \
         events AS (INSERT INTO message_event (message, at, from_state, to_state, detail) \
             SELECT id, $1, {from}, {to}, {detail} FROM moved) \
         SELECT COUNT(*) FROM moved",
        extra = if detail.contains("last_error") {
            ", last_error"
        } else {
            ""
        },
    )
}

impl PgLedger {
    pub(crate) async fn rescue_expired(
        &self,
        now: Millis,
        max_attempts: u32,
    ) -> anyhow::Result<u64> {
        let mut w = self.write().await?;
        let failed = with_events(
            "UPDATE message SET state = 'failed', \
                 last_error = 'lease expired after attempt ' || attempts || ', outcome unknown', \
                 lease_owner = NULL, lease_until = NULL, updated_at = $1 \
             WHERE id IN (SELECT id FROM message WHERE state = 'sending' \
                 AND lease_until < $1 AND attempts >= $2 FOR UPDATE SKIP LOCKED)",
            "'sending'",
            "'failed'",
            "last_error",
        );
        let failed: i64 = sqlx::query_scalar(AssertSqlSafe(failed))
            .bind(now)
            .bind(i64::from(max_attempts))
            .fetch_one(&mut *w.tx)
            .await
            .context("failing exhausted expired leases")?;
        let requeued = with_events(
            "UPDATE message SET state = 'pending', next_attempt_at = $1, \
                 lease_owner = NULL, lease_until = NULL, updated_at = $1 \
             WHERE id IN (SELECT id FROM message WHERE state = 'sending' \
                 AND lease_until < $1 FOR UPDATE SKIP LOCKED)",
            "'sending'",
            "'pending'",
            "'lease expired, outcome unknown'",
        );
        let requeued: i64 = sqlx::query_scalar(AssertSqlSafe(requeued))
            .bind(now)
            .fetch_one(&mut *w.tx)
            .await
            .context("re-queueing expired leases")?;
        w.commit().await?;
        Ok(count(failed + requeued))
    }

    pub(crate) async fn release(&self, owner: &str, now: Millis) -> anyhow::Result<u64> {
        let sql = with_events(
            "UPDATE message SET state = 'pending', attempts = attempts - 1, \
                 lease_owner = NULL, lease_until = NULL, updated_at = $1 \
             WHERE id IN (SELECT id FROM message WHERE state = 'sending' \
                 AND lease_owner = $2 FOR UPDATE SKIP LOCKED)",
            "'sending'",
            "'pending'",
            "'released by ' || $2",
        );
        let mut w = self.write().await?;
        let released: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
            .bind(now)
            .bind(owner)
            .fetch_one(&mut *w.tx)
            .await
            .with_context(|| format!("releasing the leases of {owner}"))?;
        w.commit().await?;
        Ok(count(released))
    }

    pub(crate) async fn expire_closed(&self, now: Millis) -> anyhow::Result<u64> {
        let sql = with_events(
            "UPDATE message SET state = 'expired', updated_at = $1 \
             WHERE id IN (SELECT id FROM message WHERE state = 'pending' \
                 AND expires_at < $1 FOR UPDATE SKIP LOCKED)",
            "'pending'",
            "'expired'",
            "'window closed'",
        );
        let mut w = self.write().await?;
        let expired: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
            .bind(now)
            .fetch_one(&mut *w.tx)
            .await
            .context("expiring messages whose window closed")?;
        w.commit().await?;
        Ok(count(expired))
    }

    pub(crate) async fn set_state(
        &self,
        campaign: &str,
        step: Option<&str>,
        from: &[MessageState],
        to: MessageState,
        detail: &str,
        now: Millis,
    ) -> anyhow::Result<u64> {
        let mut w = self.write().await?;
        let mut moved = 0;
        let mut seen = Vec::new();
        for &from in from {
            if from == to || seen.contains(&from) {
                continue;
            }
            seen.push(from);
            let sql = with_events(
                "UPDATE message SET state = $2, lease_owner = NULL, lease_until = NULL, \
                     updated_at = $1 \
                 WHERE campaign = $3 AND state = $4 AND ($5::text IS NULL OR step = $5)",
                "$4",
                "$2",
                "$6",
            );
            let n: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
                .bind(now)
                .bind(to)
                .bind(campaign)
                .bind(from)
                .bind(step)
                .bind(detail)
                .fetch_one(&mut *w.tx)
                .await
                .with_context(|| format!("moving {campaign} messages from {from} to {to}"))?;
            moved += count(n);
        }
        w.commit().await?;
        Ok(moved)
    }

    pub(crate) async fn retry(
        &self,
        campaign: &str,
        step: Option<&str>,
        state: MessageState,
        now: Millis,
    ) -> anyhow::Result<u64> {
        anyhow::ensure!(
            state != MessageState::Sending,
            "messages being sent cannot be retried; wait for their outcome or lease expiry"
        );
        let sql = with_events(
            "UPDATE message SET state = 'pending', next_attempt_at = $1, attempts = 0, \
                 lease_owner = NULL, lease_until = NULL, updated_at = $1 \
             WHERE campaign = $2 AND state = $3 AND pruned_at IS NULL \
             AND ($4::text IS NULL OR step = $4)",
            "$3",
            "'pending'",
            "'retry requested'",
        );
        let mut w = self.write().await?;
        let n: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
            .bind(now)
            .bind(campaign)
            .bind(state)
            .bind(step)
            .fetch_one(&mut *w.tx)
            .await
            .with_context(|| format!("retrying {state} messages of {campaign}"))?;
        w.commit().await?;
        Ok(count(n))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::store::Store;
    use crate::store::test_support::*;

    #[tokio::test]
    async fn every_daemon_rescuing_at_once_moves_each_lease_once() {
        let Some(db) = pg_database().await else {
            return;
        };
        let daemons = [
            Store::open_postgres(&db.url()).await.unwrap(),
            Store::open_postgres(&db.url()).await.unwrap(),
            Store::open_postgres(&db.url()).await.unwrap(),
        ];
        let occ = seed(&daemons[0]).await;
        insert(&daemons[0], &occ, 600).await;
        let lease = Duration::from_secs(60);
        let claimed = daemons[0].claim("dead", T0, lease, 600, &[]).await.unwrap();
        assert_eq!(claimed.len(), 600);
        // The daemon holding them died; a minute later every survivor sweeps at once.
        let later = T0 + 2 * MINUTE;
        let sweeps: Vec<_> = daemons
            .iter()
            .map(|d| {
                let d = d.clone();
                tokio::spawn(async move { d.rescue_expired(later, 5).await.unwrap() })
            })
            .collect();
        let mut rescued = 0;
        for sweep in sweeps {
            rescued += sweep.await.unwrap();
        }
        assert_eq!(rescued, 600);
        let store = &daemons[0];
        assert_eq!(
            count(
                store,
                "SELECT COUNT(*) FROM message WHERE state = 'pending'"
            )
            .await,
            600
        );
        // One claim event and one rescue event a message, no more.
        assert_eq!(
            count(store, "SELECT COUNT(*) FROM message_event").await,
            1200
        );
        assert_events_complete(store).await;
        for d in &daemons {
            d.close().await;
        }
    }
}
