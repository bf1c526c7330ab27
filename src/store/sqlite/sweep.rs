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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::store::test_support::*;

    const LEASE: Duration = Duration::from_secs(75);

    #[tokio::test]
    async fn rescue_leaves_young_leases_requeues_old_ones_and_fails_exhausted_ones() {
        let (_dir, store) = open().await;
        let occ = seed(&store).await;
        let ids = insert(&store, &occ, 4).await;
        let now = T0 + 60 * MINUTE;
        force_lease(&store, ids[0], "alive", 1, now + MINUTE).await; // young
        force_lease(&store, ids[1], "dead", 2, now - MINUTE).await; // old
        force_lease(&store, ids[2], "dead", 5, now - MINUTE).await; // exhausted
        // ids[3] stays pending.
        assert_eq!(store.rescue_expired(now, 5).await.unwrap(), 2);

        let young = seen(&store, ids[0]).await;
        assert_eq!((young.state.as_str(), young.attempts), ("sending", 1));
        assert_eq!(young.lease_owner.as_deref(), Some("alive"));
        let old = seen(&store, ids[1]).await;
        assert_eq!(
            (old.state.as_str(), old.attempts, old.next_attempt_at),
            ("pending", 2, now)
        );
        assert_eq!((old.lease_owner, old.lease_until), (None, None));
        let exhausted = seen(&store, ids[2]).await;
        assert_eq!(
            (exhausted.state.as_str(), exhausted.attempts),
            ("failed", 5)
        );
        assert!(exhausted.last_error.unwrap().contains("lease expired"));
        assert_eq!(seen(&store, ids[3]).await.state, "pending");
        // The re-queued row's next claim is attempt 3.
        let next = store.claim("w", now, LEASE, 10, &[]).await.unwrap();
        let requeued = next.iter().find(|c| c.id == ids[1]).unwrap();
        assert_eq!((next.len(), requeued.attempt), (2, 3));
        assert_events_complete(&store).await;
    }

    #[tokio::test]
    async fn release_gives_leases_back_with_their_attempt_uncounted() {
        let (_dir, store) = open().await;
        let occ = seed(&store).await;
        insert(&store, &occ, 5).await;
        let mine = store.claim("me", T0, LEASE, 3, &[]).await.unwrap();
        let theirs = store.claim("them", T0, LEASE, 2, &[]).await.unwrap();
        assert_eq!(store.release("me", T0 + 1_000).await.unwrap(), 3);
        for c in &mine {
            let row = seen(&store, c.id).await;
            assert_eq!((row.state.as_str(), row.attempts), ("pending", 0));
            assert_eq!(row.lease_owner, None);
        }
        for c in &theirs {
            assert_eq!(seen(&store, c.id).await.state, "sending");
        }
        let again = store
            .claim("me2", T0 + 2_000, LEASE, 10, &[])
            .await
            .unwrap();
        assert_eq!(again.len(), 3);
        assert!(again.iter().all(|c| c.attempt == 1));
        assert_events_complete(&store).await;
    }

    #[tokio::test]
    async fn pending_messages_expire_once_their_window_closes() {
        let (_dir, store) = open().await;
        let occ = seed(&store).await;
        let mut rows = messages(&occ, 3);
        rows[0].expires_at = T0 + MINUTE;
        rows[1].expires_at = T0 + MINUTE;
        store.insert_messages(&rows, T0).await.unwrap();
        let ids = insert(&store, &occ, 0).await;
        // One of the closing ones is in flight: it is the worker's to decide.
        store.claim("w", T0, LEASE, 1, &[]).await.unwrap();
        assert_eq!(store.expire_closed(T0 + MINUTE).await.unwrap(), 0);
        assert_eq!(store.expire_closed(T0 + MINUTE + 1).await.unwrap(), 1);
        assert_eq!(seen(&store, ids[0]).await.state, "sending");
        assert_eq!(seen(&store, ids[1]).await.state, "expired");
        assert_eq!(seen(&store, ids[2]).await.state, "pending");
        assert_events_complete(&store).await;
    }

    #[tokio::test]
    async fn cancelling_a_step_moves_only_its_open_messages_and_fences_live_leases() {
        let (_dir, store) = open().await;
        let occ = seed(&store).await;
        let other = store.occurrence("c", "other", 0, T0).await.unwrap();
        insert(&store, &occ, 3).await;
        store
            .insert_messages(&messages(&other, 2), T0)
            .await
            .unwrap();
        let live = store.claim("w", T0, LEASE, 1, &[]).await.unwrap().remove(0);
        let moved = store
            .set_state(
                "c",
                Some("s"),
                &[MessageState::Pending, MessageState::Sending],
                MessageState::Cancelled,
                "step removed",
                T0,
            )
            .await
            .unwrap();
        assert_eq!(moved, 3);
        let by_state = count(
            &store,
            "SELECT COUNT(*) FROM message WHERE step = 'other' AND state = 'pending'",
        )
        .await;
        assert_eq!(by_state, 2);
        let late = crate::store::Outcome {
            id: live.id,
            attempt: live.attempt,
            owner: "w".into(),
            started_at: T0,
            duration_ms: 1,
            result: crate::store::OutcomeKind::Sent { provider_id: None },
        };
        assert_eq!(store.record(&[late], T0).await.unwrap(), 0);
        assert_eq!(seen(&store, live.id).await.state, "cancelled");
        let detail: String = sqlx::query_scalar(
            "SELECT detail FROM message_event WHERE message = ? ORDER BY id DESC LIMIT 1",
        )
        .bind(live.id)
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert_eq!(detail, "step removed");
        // A word that is not a state is refused before it reaches the ledger.
        assert!("paused".parse::<MessageState>().is_err());
        assert_events_complete(&store).await;
    }

    #[tokio::test]
    async fn retry_puts_failed_messages_back_with_attempts_reset_and_error_kept() {
        let (_dir, store) = open().await;
        let occ = seed(&store).await;
        let ids = insert(&store, &occ, 3).await;
        force_lease(&store, ids[0], "dead", 5, T0).await;
        force_lease(&store, ids[1], "dead", 5, T0).await;
        store.rescue_expired(T0 + 1, 5).await.unwrap();
        let now = T0 + 60 * MINUTE;
        assert_eq!(
            store
                .retry("c", Some("nope"), MessageState::Failed, now)
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            store
                .retry("c", None, MessageState::Failed, now)
                .await
                .unwrap(),
            2
        );
        let row = seen(&store, ids[0]).await;
        assert_eq!(
            (row.state.as_str(), row.attempts, row.next_attempt_at),
            ("pending", 0, now)
        );
        assert!(row.last_error.is_some());
        assert!(
            store
                .retry("c", None, MessageState::Sending, now)
                .await
                .is_err()
        );
        // Pause and resume: cancelled with a reason, then retried from cancelled.
        let paused = store
            .set_state(
                "c",
                None,
                &[MessageState::Pending],
                MessageState::Cancelled,
                "paused",
                now,
            )
            .await
            .unwrap();
        assert_eq!(paused, 3);
        assert_eq!(
            store
                .retry("c", None, MessageState::Cancelled, now)
                .await
                .unwrap(),
            3
        );
        assert_events_complete(&store).await;
    }
}
