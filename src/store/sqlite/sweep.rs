//! State changes over many messages at once: lease rescue and release, window expiry,
//! and the operator's cancel / pause / retry. Each runs in one transaction and writes an
//! event per row it changes.

use anyhow::Context;
use sqlx::sqlite::SqliteConnection;
use sqlx::{AssertSqlSafe, Sqlite};

use super::SqliteLedger;
use super::event::{self, Detail};
use crate::store::{MessageState, Millis};

impl SqliteLedger {
    /// Rescues leases that ran out before their outcome was recorded (the worker died or
    /// hung): back to `pending`, due now, or `failed` once `attempts >= max_attempts`.
    /// The attempt stays counted — it may have reached the provider.
    pub(crate) async fn rescue_expired(
        &self,
        now: Millis,
        max_attempts: u32,
    ) -> anyhow::Result<u64> {
        let mut w = self.write().await?;
        let failed: Vec<i64> = sqlx::query_scalar(
            "UPDATE message SET state = 'failed', \
                 last_error = 'lease expired after attempt ' || attempts || ', outcome unknown', \
                 lease_owner = NULL, lease_until = NULL, updated_at = ? \
             WHERE state = 'sending' AND lease_until < ? AND attempts >= ? RETURNING id",
        )
        .bind(now)
        .bind(now)
        .bind(i64::from(max_attempts))
        .fetch_all(&mut *w.tx)
        .await
        .context("failing exhausted expired leases")?;
        let from = Some(MessageState::Sending);
        event::for_rows(&mut w.tx, &failed, now, from, Detail::LastError).await?;
        let requeued: Vec<i64> = sqlx::query_scalar(
            "UPDATE message SET state = 'pending', next_attempt_at = ?, \
                 lease_owner = NULL, lease_until = NULL, updated_at = ? \
             WHERE state = 'sending' AND lease_until < ? RETURNING id",
        )
        .bind(now)
        .bind(now)
        .bind(now)
        .fetch_all(&mut *w.tx)
        .await
        .context("re-queueing expired leases")?;
        let detail = Detail::Text(Some("lease expired, outcome unknown"));
        event::for_rows(&mut w.tx, &requeued, now, from, detail).await?;
        w.commit().await?;
        Ok((failed.len() + requeued.len()) as u64)
    }

    /// Graceful shutdown: gives back every lease `owner` holds. The rows return to
    /// `pending` with their attempt un-counted, since the try never happened.
    pub(crate) async fn release(&self, owner: &str, now: Millis) -> anyhow::Result<u64> {
        let mut w = self.write().await?;
        let released: Vec<i64> = sqlx::query_scalar(
            "UPDATE message SET state = 'pending', attempts = attempts - 1, \
                 lease_owner = NULL, lease_until = NULL, updated_at = ? \
             WHERE state = 'sending' AND lease_owner = ? RETURNING id",
        )
        .bind(now)
        .bind(owner)
        .fetch_all(&mut *w.tx)
        .await
        .with_context(|| format!("releasing the leases of {owner}"))?;
        let detail = format!("released by {owner}");
        event::for_rows(
            &mut w.tx,
            &released,
            now,
            Some(MessageState::Sending),
            Detail::Text(Some(&detail)),
        )
        .await?;
        w.commit().await?;
        Ok(released.len() as u64)
    }

    /// Expires `pending` messages whose window closed (`expires_at < now`).
    ///
    /// Finding them reads every pending row, so it happens outside the writer turn (WAL
    /// readers do not block writers); the write then moves only those still pending.
    pub(crate) async fn expire_closed(&self, now: Millis) -> anyhow::Result<u64> {
        let candidates: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM message WHERE state = 'pending' AND expires_at < ?")
                .bind(now)
                .fetch_all(self.pool())
                .await
                .context("finding messages whose window closed")?;
        if candidates.is_empty() {
            return Ok(0);
        }
        let mut w = self.write().await?;
        let expired: Vec<i64> = sqlx::query_scalar(
            "UPDATE message SET state = 'expired', updated_at = ?1 \
             WHERE id IN (SELECT value FROM json_each(?2)) AND +state = 'pending' \
             AND expires_at < ?1 RETURNING id",
        )
        .bind(now)
        .bind(event::json(&candidates)?)
        .fetch_all(&mut *w.tx)
        .await
        .context("expiring messages whose window closed")?;
        let detail = Detail::Text(Some("window closed"));
        let from = Some(MessageState::Pending);
        event::for_rows(&mut w.tx, &expired, now, from, detail).await?;
        w.commit().await?;
        Ok(expired.len() as u64)
    }

    /// Moves a campaign's messages (one step's, when given) that are in one of `from` to
    /// `to`, ending any lease, with `detail` in each event — cancelling, or pausing as
    /// `pending → cancelled` undone by [`Store::retry`]. A worker holding a lease on a
    /// moved row finds its fence broken and records nothing.
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
            let sql = "UPDATE message SET state = ?, lease_owner = NULL, lease_until = NULL, \
                       updated_at = ? WHERE campaign = ? AND state = ?";
            let ids = move_rows(&mut w.tx, sql, step, |q| {
                q.bind(to).bind(now).bind(campaign).bind(from)
            })
            .await
            .with_context(|| format!("moving {campaign} messages from {from} to {to}"))?;
            event::for_rows(&mut w.tx, &ids, now, Some(from), Detail::Text(Some(detail))).await?;
            moved += ids.len() as u64;
        }
        w.commit().await?;
        Ok(moved)
    }

    /// Puts a campaign's messages (one step's, when given) in `state` — usually `failed` —
    /// back to `pending`, due now, with `attempts` reset to 0 and `last_error` kept.
    /// `sending` is refused: resetting a live lease's attempt would break its fence.
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
        let mut w = self.write().await?;
        let sql = "UPDATE message SET state = 'pending', next_attempt_at = ?, attempts = 0, \
                   lease_owner = NULL, lease_until = NULL, updated_at = ? \
                   WHERE campaign = ? AND state = ? AND pruned_at IS NULL";
        let ids = move_rows(&mut w.tx, sql, step, |q| {
            q.bind(now).bind(now).bind(campaign).bind(state)
        })
        .await
        .with_context(|| format!("retrying {state} messages of {campaign}"))?;
        let detail = Detail::Text(Some("retry requested"));
        event::for_rows(&mut w.tx, &ids, now, Some(state), detail).await?;
        w.commit().await?;
        Ok(ids.len() as u64)
    }
}

type Query<'q> = sqlx::query::QueryScalar<'q, Sqlite, i64, sqlx::sqlite::SqliteArguments>;

/// Runs `update` (an `UPDATE … WHERE …` whose binds `bind` supplies), narrowed to `step`
/// when given, and returns the ids it changed.
async fn move_rows<'q>(
    conn: &mut SqliteConnection,
    update: &'static str,
    step: Option<&'q str>,
    bind: impl FnOnce(Query<'q>) -> Query<'q>,
) -> anyhow::Result<Vec<i64>> {
    let sql = match step {
        Some(_) => format!("{update} AND step = ? RETURNING id"),
        None => format!("{update} RETURNING id"),
    };
    let mut query = bind(sqlx::query_scalar(AssertSqlSafe(sql)));
    if let Some(step) = step {
        query = query.bind(step);
    }
    Ok(query.fetch_all(&mut *conn).await?)
}
