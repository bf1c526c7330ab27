//! Delivery receipts from providers (Zalo `user_received_message`, SMS gateway and relay
//! callbacks): `sent → delivered` or `sent → failed`, once per callback id.
//!
//! A receipt never regresses a message: only a `sent` row moves, so a late "delivered"
//! for a message already `failed`, or a second receipt for a `delivered` one, changes
//! nothing. A receipt for a message still `sending` or `pending` — the provider delivered
//! before the dispatcher recorded the batch, or a rescued lease awaits its retry — is kept
//! in `receipt_early` and applied by [`Store::apply_early_receipts`] once the message is
//! `sent` (the web server runs it every second). The callback id is recorded in `callback_seen` in the same transaction as the
//! state change, so a replayed callback finds it and writes nothing more
//! (docs/reliability.md#r12).
//!
//! A receipt moves only messages of the channels it names (a channel's key speaks for its
//! own messages only), and its delivery time is believed only within the send and its
//! arrival ([`delivery_time`]).

use anyhow::Context;
use sqlx::sqlite::SqliteConnection;

use super::SqliteLedger;
use super::event;
use crate::store::outcome::Event;
use crate::store::{MessageState, Millis};

/// A `receipt_early` row: message, source, status, at, error, received_at.
type EarlyRow = (i64, String, String, Option<Millis>, Option<String>, Millis);

/// How far a provider's clock may be from ours: a delivery time up to this much before
/// the send, or after the receipt arrived, is still believed.
pub(crate) const RECEIPT_SKEW: Millis = 300_000;

/// The delivery time to record for a receipt saying `at`, for a message sent at `sent_at`,
/// the receipt arriving at `received`: `at` when it lies between the send less
/// [`RECEIPT_SKEW`] and the arrival plus [`RECEIPT_SKEW`]; else the arrival time, and
/// `false` (a provider cannot deliver before the send, nor report a time to come — such a
/// time is a wrong clock or a forgery, and would skew every delivery figure).
pub fn delivery_time(at: Millis, sent_at: Option<Millis>, received: Millis) -> (Millis, bool) {
    let earliest = sent_at.map_or(Millis::MIN, |s| s.saturating_sub(RECEIPT_SKEW));
    let latest = received.saturating_add(RECEIPT_SKEW);
    if (earliest..=latest).contains(&at) {
        (at, true)
    } else {
        (received, false)
    }
}

/// How a receipt names its message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageRef<'a> {
    /// Our `message.message_id` (Zalo `tracking_id`, a webhook's `message_id`).
    Ours(&'a str),
    /// The provider's id (`message.provider_id`, Zalo `msg_id`).
    Provider(&'a str),
}

/// What the provider says happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReceiptStatus {
    /// Reached the recipient at `at`.
    Delivered { at: Millis },
    /// The provider gave up after accepting it.
    Failed { error: String },
}

/// One authenticated receipt.
#[derive(Clone, Debug)]
pub struct DeliveryReceipt<'a> {
    /// Where it came from: `zalo`, `webhook/<channel>`.
    pub source: &'a str,
    /// The sender's id for this callback (replay key within `source`).
    pub callback_id: &'a str,
    /// Tried in order; the first that names a message wins.
    pub refs: Vec<MessageRef<'a>>,
    /// Only messages on one of these channels may move (a channel's key speaks for its own
    /// messages only); none when empty.
    pub channels: Vec<&'a str>,
    pub status: ReceiptStatus,
}

/// What applying a receipt did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReceiptOutcome {
    /// The message moved; its row id.
    Applied { id: i64 },
    /// This callback id was applied before: nothing written.
    Replay,
    /// No message matches (or not on the receipt's channel).
    Unmatched,
    /// The message is not `sent` yet (`sending`, `pending`): kept for later.
    Deferred { id: i64 },
    /// The message is already final (`delivered`, `failed`, …): nothing moves.
    Unchanged { state: MessageState },
}

impl SqliteLedger {
    /// Applies `receipt` at `now`: records its callback id, and moves the message it names
    /// if that message is `sent`, with a `message_event`. A replay writes nothing.
    pub(crate) async fn apply_receipt(
        &self,
        receipt: &DeliveryReceipt<'_>,
        now: Millis,
    ) -> anyhow::Result<ReceiptOutcome> {
        let mut outcomes = self.apply_receipts(&[(receipt.clone(), now)]).await?;
        Ok(outcomes.remove(0))
    }

    /// [`Store::apply_receipt`] for several receipts, each at its own time, in one
    /// transaction: a burst of callbacks costs one commit, not one each. The outcomes
    /// come back in order; a callback id twice in the batch applies once (the second is a
    /// replay).
    pub(crate) async fn apply_receipts(
        &self,
        receipts: &[(DeliveryReceipt<'_>, Millis)],
    ) -> anyhow::Result<Vec<ReceiptOutcome>> {
        let mut w = self.write().await?;
        let mut outcomes = Vec::with_capacity(receipts.len());
        for (receipt, now) in receipts {
            // A provider's failure text may quote the recipient: kept masked.
            let masked = match &receipt.status {
                ReceiptStatus::Failed { error } => match crate::mask::mask_text(error, "") {
                    std::borrow::Cow::Owned(error) => Some(DeliveryReceipt {
                        status: ReceiptStatus::Failed { error },
                        ..receipt.clone()
                    }),
                    std::borrow::Cow::Borrowed(_) => None,
                },
                ReceiptStatus::Delivered { .. } => None,
            };
            let receipt = masked.as_ref().unwrap_or(receipt);
            outcomes.push(apply_one(&mut w.tx, receipt, *now).await?);
        }
        w.commit().await?;
        Ok(outcomes)
    }

    /// Applies the receipts kept in `receipt_early` whose message is now `sent`, and drops
    /// those whose message ended otherwise or that arrived before `stale`. Returns how many
    /// were applied. Reads first and writes only when there is something to do.
    pub(crate) async fn apply_early_receipts(
        &self,
        stale: Millis,
        now: Millis,
    ) -> anyhow::Result<u64> {
        let waiting: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM receipt_early")
            .fetch_one(self.pool())
            .await
            .context("counting early receipts")?;
        if waiting == 0 {
            return Ok(0);
        }
        let mut w = self.write().await?;
        let ready: Vec<EarlyRow> = sqlx::query_as(
            "SELECT e.message, e.source, e.status, e.at, e.error, e.received_at \
             FROM receipt_early e \
             JOIN message m ON m.id = e.message WHERE m.state = 'sent' ORDER BY e.message",
        )
        .fetch_all(&mut *w.tx)
        .await
        .context("reading early receipts")?;
        for (id, source, status, at, error, received) in &ready {
            let status = match status.as_str() {
                "delivered" => ReceiptStatus::Delivered {
                    at: at.unwrap_or(*received),
                },
                _ => ReceiptStatus::Failed {
                    error: error.clone().unwrap_or_default(),
                },
            };
            move_sent(&mut w.tx, *id, source, &status, *received, now).await?;
        }
        sqlx::query(
            // Driven by the few kept receipts, not by every open message.
            "DELETE FROM receipt_early WHERE received_at < ? OR message IN \
             (SELECT e.message FROM receipt_early AS e JOIN message AS m ON m.id = e.message \
              WHERE m.state NOT IN ('pending', 'sending'))",
        )
        .bind(stale)
        .execute(&mut *w.tx)
        .await
        .context("dropping early receipts")?;
        w.commit().await?;
        Ok(ready.len() as u64)
    }

    /// Forgets callback ids recorded before `before`; returns how many. Safe once
    /// `before` is older than the signature tolerance: such a replay is refused as stale.
    pub(crate) async fn prune_callbacks(&self, before: Millis) -> anyhow::Result<u64> {
        let mut w = self.write().await?;
        let done = sqlx::query("DELETE FROM callback_seen WHERE at < ?")
            .bind(before)
            .execute(&mut *w.tx)
            .await
            .context("pruning callback ids")?;
        w.commit().await?;
        Ok(done.rows_affected())
    }
}

/// One receipt inside a write transaction. A replay has written nothing when it returns:
/// its callback id was already there.
async fn apply_one(
    conn: &mut SqliteConnection,
    receipt: &DeliveryReceipt<'_>,
    now: Millis,
) -> anyhow::Result<ReceiptOutcome> {
    let fresh = sqlx::query(
        "INSERT INTO callback_seen (source, id, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
    )
    .bind(receipt.source)
    .bind(receipt.callback_id)
    .bind(now)
    .execute(&mut *conn)
    .await
    .context("recording a callback id")?
    .rows_affected()
        == 1;
    if !fresh {
        return Ok(ReceiptOutcome::Replay);
    }
    Ok(match find(conn, receipt).await? {
        None => ReceiptOutcome::Unmatched,
        Some((id, MessageState::Sent)) => {
            move_sent(conn, id, receipt.source, &receipt.status, now, now).await?;
            ReceiptOutcome::Applied { id }
        }
        Some((id, MessageState::Sending | MessageState::Pending)) => {
            keep_early(conn, id, receipt, now).await?;
            ReceiptOutcome::Deferred { id }
        }
        Some((_, state)) => ReceiptOutcome::Unchanged { state },
    })
}

/// The row id and state of the first message a reference names.
async fn find(
    conn: &mut SqliteConnection,
    receipt: &DeliveryReceipt<'_>,
) -> anyhow::Result<Option<(i64, MessageState)>> {
    let channels = serde_json::to_string(&receipt.channels).context("listing channels")?;
    for r in &receipt.refs {
        // Our message id leads to its row by primary key (`message_row`); the whole id is
        // still compared, so a made-up tag finds nothing.
        let (sql, row_id, value) = match r {
            MessageRef::Ours(id) => (
                "SELECT id, state FROM message WHERE id = ? AND message_id = ? \
                 AND channel IN (SELECT value FROM json_each(?))",
                crate::store::message_row(id),
                *id,
            ),
            MessageRef::Provider(id) => (
                "SELECT id, state FROM message WHERE ? IS NULL AND provider_id = ? \
                 AND channel IN (SELECT value FROM json_each(?)) ORDER BY id LIMIT 1",
                None,
                *id,
            ),
        };
        if matches!(r, MessageRef::Ours(_)) && row_id.is_none() {
            continue;
        }
        let row: Option<(i64, MessageState)> = sqlx::query_as(sql)
            .bind(row_id)
            .bind(value)
            .bind(&channels)
            .fetch_optional(&mut *conn)
            .await
            .context("finding the message of a receipt")?;
        if row.is_some() {
            return Ok(row);
        }
    }
    Ok(None)
}

/// Keeps a receipt for message `id` until it is `sent`; the first receipt wins.
async fn keep_early(
    conn: &mut SqliteConnection,
    id: i64,
    receipt: &DeliveryReceipt<'_>,
    now: Millis,
) -> anyhow::Result<()> {
    let (status, at, error) = match &receipt.status {
        ReceiptStatus::Delivered { at } => ("delivered", Some(*at), None),
        ReceiptStatus::Failed { error } => ("failed", None, Some(error.as_str())),
    };
    sqlx::query(
        "INSERT INTO receipt_early (message, source, status, at, error, received_at) \
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(receipt.source)
    .bind(status)
    .bind(at)
    .bind(error)
    .bind(now)
    .execute(&mut *conn)
    .await
    .context("keeping an early receipt")?;
    Ok(())
}

/// `sent → delivered | failed` for row `id`, with its event; `received` is when the
/// receipt arrived (the delivery time when the receipt's own is not believable).
async fn move_sent(
    conn: &mut SqliteConnection,
    id: i64,
    source: &str,
    status: &ReceiptStatus,
    received: Millis,
    now: Millis,
) -> anyhow::Result<()> {
    let (to, detail) = match status {
        ReceiptStatus::Delivered { at } => {
            let detail = mark_delivered(conn, id, source, *at, received, now).await?;
            (MessageState::Delivered, detail)
        }
        ReceiptStatus::Failed { error } => {
            mark_failed(conn, id, error, now).await?;
            let detail = format!("receipt from {source}: {error}");
            (MessageState::Failed, detail)
        }
    };
    let event = Event {
        message: id,
        from: MessageState::Sent,
        to,
        detail: Some(detail),
    };
    event::write(conn, vec![event], now).await
}

/// `sent → delivered` at the receipt's time `at` when it is believable (see
/// [`delivery_time`]), at `received` otherwise; returns the event's detail, which says
/// which.
async fn mark_delivered(
    conn: &mut SqliteConnection,
    id: i64,
    source: &str,
    at: Millis,
    received: Millis,
    now: Millis,
) -> anyhow::Result<String> {
    let sent_at: Option<Millis> = sqlx::query_scalar("SELECT sent_at FROM message WHERE id = ?")
        .bind(id)
        .fetch_one(&mut *conn)
        .await
        .context("reading when a message was sent")?;
    let (delivered_at, believed) = delivery_time(at, sent_at, received);
    sqlx::query(
        "UPDATE message SET state = 'delivered', delivered_at = ?, updated_at = ? \
         WHERE id = ? AND state = 'sent'",
    )
    .bind(delivered_at)
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await
    .context("marking a message delivered")?;
    Ok(if believed {
        format!("receipt from {source}")
    } else {
        format!(
            "receipt from {source}; its delivery time ({}) is outside the send and \
             the receipt's arrival, so the arrival time is recorded",
            rfc3339(at)
        )
    })
}

/// `sent → failed`, the receipt's error kept as the message's last error.
async fn mark_failed(
    conn: &mut SqliteConnection,
    id: i64,
    error: &str,
    now: Millis,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE message SET state = 'failed', last_error = ?, updated_at = ? \
         WHERE id = ? AND state = 'sent'",
    )
    .bind(error)
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await
    .context("marking a message failed")?;
    Ok(())
}

/// `at` (ms) as RFC 3339 UTC, or the number when it is beyond chrono's range.
fn rfc3339(at: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(at)
        .map_or_else(|| format!("{at} ms"), |t| t.to_rfc3339())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::store::test_support::*;
    use crate::store::{Outcome, OutcomeKind};

    /// Three e-mails: r0 `sent` (provider id `p0`), r1 still `sending`, r2 `pending`.
    async fn ledger() -> (tempfile::TempDir, Store, Vec<String>) {
        let (dir, store) = open().await;
        let occ = seed(&store).await;
        let rows = messages(&occ, 3);
        store.insert_messages(&rows, T0).await.unwrap();
        let claimed = store
            .claim("w", T0, Duration::from_secs(60), 2, &[])
            .await
            .unwrap();
        record_sent(&store, &claimed[0], "p0", T0 + 10).await;
        let ids = message_ids(&store).await;
        (dir, store, ids)
    }

    fn delivered<'a>(id: &'a str, refs: Vec<MessageRef<'a>>) -> DeliveryReceipt<'a> {
        DeliveryReceipt {
            source: "webhook/email",
            callback_id: id,
            refs,
            channels: vec!["email"],
            status: ReceiptStatus::Delivered { at: T0 + 500 },
        }
    }

    #[test]
    fn a_delivery_time_is_believed_only_between_the_send_and_the_arrival() {
        let (sent, received) = (T0, T0 + 60_000);
        assert_eq!(delivery_time(T0 + 5, Some(sent), received), (T0 + 5, true));
        // Within the clock skew either side.
        let early = sent - RECEIPT_SKEW;
        assert_eq!(delivery_time(early, Some(sent), received), (early, true));
        let late = received + RECEIPT_SKEW;
        assert_eq!(delivery_time(late, Some(sent), received), (late, true));
        // Beyond it: the arrival time.
        for at in [early - 1, late + 1, 0, Millis::MIN, Millis::MAX] {
            assert_eq!(delivery_time(at, Some(sent), received), (received, false));
        }
        // No send time known: only the upper bound holds.
        assert_eq!(delivery_time(0, None, received), (0, true));
    }

    #[tokio::test]
    async fn a_receipt_naming_no_channel_moves_nothing() {
        let (_dir, store, ids) = ledger().await;
        let mut receipt = delivered("cb-1", vec![MessageRef::Ours(&ids[0])]);
        receipt.channels = Vec::new();
        assert_eq!(
            store.apply_receipt(&receipt, T0).await.unwrap(),
            ReceiptOutcome::Unmatched
        );
    }

    #[tokio::test]
    async fn a_receipt_moves_a_sent_message_once_and_a_replay_writes_nothing() {
        let (_dir, store, ids) = ledger().await;
        let receipt = delivered("cb-1", vec![MessageRef::Ours(&ids[0])]);
        let first = store.apply_receipt(&receipt, T0 + 1_000).await.unwrap();
        let ReceiptOutcome::Applied { id } = first else {
            panic!("not applied: {first:?}");
        };
        let events_before = count(&store, "SELECT COUNT(*) FROM message_event").await;
        assert_eq!(
            store.apply_receipt(&receipt, T0 + 2_000).await.unwrap(),
            ReceiptOutcome::Replay
        );
        assert_eq!(
            count(&store, "SELECT COUNT(*) FROM message_event").await,
            events_before
        );
        let (state, delivered_at): (String, Option<i64>) =
            sqlx::query_as("SELECT state, delivered_at FROM message WHERE id = ?")
                .bind(id)
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert_eq!(
            (state.as_str(), delivered_at),
            ("delivered", Some(T0 + 500))
        );
        assert_events_complete(&store).await;
    }

    /// One transaction for a burst: each receipt gets its own outcome, in order, and a
    /// callback id seen twice in the burst applies once.
    #[tokio::test]
    async fn a_burst_of_receipts_applies_in_one_call_each_with_its_outcome() {
        let (_dir, store, ids) = ledger().await;
        let burst = [
            (
                delivered("cb-a", vec![MessageRef::Ours(&ids[0])]),
                T0 + 1_000,
            ),
            (
                delivered("cb-a", vec![MessageRef::Ours(&ids[0])]),
                T0 + 1_001,
            ),
            (
                delivered("cb-b", vec![MessageRef::Ours(&ids[1])]),
                T0 + 1_002,
            ),
            (
                delivered("cb-c", vec![MessageRef::Ours("m999-0")]),
                T0 + 1_003,
            ),
        ];
        let outcomes = store.apply_receipts(&burst).await.unwrap();
        let sent_id = crate::store::message_row(&ids[0]).unwrap();
        let sending_id = crate::store::message_row(&ids[1]).unwrap();
        assert_eq!(
            outcomes,
            vec![
                ReceiptOutcome::Applied { id: sent_id },
                ReceiptOutcome::Replay,
                ReceiptOutcome::Deferred { id: sending_id },
                ReceiptOutcome::Unmatched,
            ]
        );
        assert_eq!(count(&store, "SELECT COUNT(*) FROM callback_seen").await, 3);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM receipt_early").await, 1);
        assert_eq!(
            count(
                &store,
                "SELECT COUNT(*) FROM message WHERE state = 'delivered'"
            )
            .await,
            1
        );
        assert_events_complete(&store).await;
    }

    #[tokio::test]
    async fn a_receipt_never_moves_a_message_that_is_not_sent() {
        let (_dir, store, ids) = ledger().await;
        let first = delivered("cb-2", vec![MessageRef::Ours(&ids[0])]);
        store.apply_receipt(&first, T0).await.unwrap();
        // A later "failed" for a delivered message does not regress it.
        let mut failed = delivered("cb-3", vec![MessageRef::Ours(&ids[0])]);
        failed.status = ReceiptStatus::Failed {
            error: "expired at the carrier".into(),
        };
        assert_eq!(
            store.apply_receipt(&failed, T0).await.unwrap(),
            ReceiptOutcome::Unchanged {
                state: MessageState::Delivered
            }
        );
        assert_events_complete(&store).await;
    }

    #[tokio::test]
    async fn a_receipt_finds_messages_by_provider_id_but_only_on_its_channel() {
        let (_dir, store, _ids) = ledger().await;
        let mut other = delivered("cb-1", vec![MessageRef::Provider("p0")]);
        other.channels = vec!["sms"];
        assert_eq!(
            store.apply_receipt(&other, T0).await.unwrap(),
            ReceiptOutcome::Unmatched
        );
        let unknown = delivered("cb-2", vec![MessageRef::Ours("m-nope")]);
        assert_eq!(
            store.apply_receipt(&unknown, T0).await.unwrap(),
            ReceiptOutcome::Unmatched
        );
        let by_provider = delivered(
            "cb-3",
            vec![MessageRef::Ours("m-nope"), MessageRef::Provider("p0")],
        );
        assert!(matches!(
            store.apply_receipt(&by_provider, T0).await.unwrap(),
            ReceiptOutcome::Applied { .. }
        ));
    }

    #[tokio::test]
    async fn a_failed_receipt_fails_a_sent_message_with_its_error() {
        let (_dir, store, ids) = ledger().await;
        let mut failed = delivered("cb-1", vec![MessageRef::Ours(&ids[0])]);
        failed.status = ReceiptStatus::Failed {
            error: "unreachable handset".into(),
        };
        store.apply_receipt(&failed, T0).await.unwrap();
        let (state, error): (String, Option<String>) =
            sqlx::query_as("SELECT state, last_error FROM message WHERE message_id = ?")
                .bind(&ids[0])
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert_eq!(
            (state.as_str(), error.as_deref()),
            ("failed", Some("unreachable handset"))
        );
        assert_events_complete(&store).await;
    }

    #[tokio::test]
    async fn pruning_forgets_only_old_callback_ids() {
        let (_dir, store, ids) = ledger().await;
        store
            .apply_receipt(&delivered("old", vec![MessageRef::Ours(&ids[2])]), T0)
            .await
            .unwrap();
        store
            .apply_receipt(
                &delivered("new", vec![MessageRef::Ours(&ids[2])]),
                T0 + MINUTE,
            )
            .await
            .unwrap();
        assert_eq!(store.prune_callbacks(T0 + 1).await.unwrap(), 1);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM callback_seen").await, 1);
    }

    #[tokio::test]
    async fn a_receipt_that_beats_the_record_is_applied_once_the_message_is_sent() {
        let (_dir, store, ids) = ledger().await;
        // r1 is still `sending` under owner w, attempt 1.
        let early = delivered("cb-early", vec![MessageRef::Ours(&ids[1])]);
        let outcome = store.apply_receipt(&early, T0 + 20).await.unwrap();
        let ReceiptOutcome::Deferred { id } = outcome else {
            panic!("not deferred: {outcome:?}");
        };
        assert_eq!(store.apply_early_receipts(T0, T0 + 30).await.unwrap(), 0);
        assert_eq!(seen(&store, id).await.state, "sending");
        let sent = Outcome {
            id,
            attempt: 1,
            owner: "w".into(),
            started_at: T0,
            duration_ms: 5,
            result: OutcomeKind::Sent { provider_id: None },
        };
        assert_eq!(store.record(&[sent], T0 + 40).await.unwrap(), 1);
        assert_eq!(store.apply_early_receipts(T0, T0 + 50).await.unwrap(), 1);
        let (state, delivered_at): (String, Option<i64>) =
            sqlx::query_as("SELECT state, delivered_at FROM message WHERE id = ?")
                .bind(id)
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert_eq!(
            (state.as_str(), delivered_at),
            ("delivered", Some(T0 + 500))
        );
        assert_eq!(count(&store, "SELECT COUNT(*) FROM receipt_early").await, 0);
        assert_events_complete(&store).await;
    }

    #[tokio::test]
    async fn an_early_receipt_is_dropped_when_its_message_fails_or_it_grows_stale() {
        let (_dir, store, ids) = ledger().await;
        let sending = delivered("cb-1", vec![MessageRef::Ours(&ids[1])]);
        let pending = delivered("cb-2", vec![MessageRef::Ours(&ids[2])]);
        store.apply_receipt(&sending, T0).await.unwrap();
        store.apply_receipt(&pending, T0 + MINUTE).await.unwrap();
        // The sending one fails for good.
        store
            .set_state(
                "c",
                None,
                &[MessageState::Sending],
                MessageState::Failed,
                "test",
                T0,
            )
            .await
            .unwrap();
        assert_eq!(
            store.apply_early_receipts(T0, T0 + MINUTE).await.unwrap(),
            0
        );
        assert_eq!(count(&store, "SELECT COUNT(*) FROM receipt_early").await, 1);
        assert_eq!(
            store
                .apply_early_receipts(T0 + 2 * MINUTE, T0 + 2 * MINUTE)
                .await
                .unwrap(),
            0
        );
        assert_eq!(count(&store, "SELECT COUNT(*) FROM receipt_early").await, 0);
        assert_eq!(
            seen(&store, {
                let id: i64 = sqlx::query_scalar("SELECT id FROM message WHERE message_id = ?")
                    .bind(&ids[1])
                    .fetch_one(store.pool())
                    .await
                    .unwrap();
                id
            })
            .await
            .state,
            "failed"
        );
    }
}
