//! Delivery receipts from providers (Zalo `user_received_message`, SMS gateway and relay
//! callbacks): `sent → delivered` or `sent → failed`, once per callback id.
//!
//! A receipt never regresses a message: only a `sent` row moves, so a late "delivered"
//! for a message already `failed`, or a second receipt for a `delivered` one, changes
//! nothing. The callback id is recorded in `callback_seen` in the same transaction as the
//! state change, so a replayed callback finds it and writes nothing more
//! (reliability-security R12).

use anyhow::Context;
use sqlx::sqlite::SqliteConnection;

use super::event::{self, Event};
use super::{Millis, Store};

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
    /// Only messages on this channel may move (a channel's secret speaks for its own
    /// messages only); any channel when None.
    pub channel: Option<&'a str>,
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
    /// The message exists but is not `sent` (still sending, or already final).
    Unchanged { state: String },
}

impl Store {
    /// Applies `receipt` at `now`: records its callback id, and moves the message it names
    /// if that message is `sent`, with a `message_event`. A replay writes nothing.
    pub async fn apply_receipt(
        &self,
        receipt: &DeliveryReceipt<'_>,
        now: Millis,
    ) -> anyhow::Result<ReceiptOutcome> {
        let mut w = self.write().await?;
        let fresh = sqlx::query(
            "INSERT INTO callback_seen (source, id, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(receipt.source)
        .bind(receipt.callback_id)
        .bind(now)
        .execute(&mut *w.tx)
        .await
        .context("recording a callback id")?
        .rows_affected()
            == 1;
        if !fresh {
            // Dropping `w` rolls back: a replay leaves the ledger as it was.
            return Ok(ReceiptOutcome::Replay);
        }
        let outcome = match find(&mut w.tx, receipt).await? {
            None => ReceiptOutcome::Unmatched,
            Some((id, state)) if state == "sent" => {
                move_sent(&mut w.tx, id, receipt, now).await?;
                ReceiptOutcome::Applied { id }
            }
            Some((_, state)) => ReceiptOutcome::Unchanged { state },
        };
        w.commit().await?;
        Ok(outcome)
    }

    /// Forgets callback ids recorded before `before`; returns how many. Safe once
    /// `before` is older than the signature tolerance: such a replay is refused as stale.
    pub async fn prune_callbacks(&self, before: Millis) -> anyhow::Result<u64> {
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

/// The row id and state of the first message a reference names.
async fn find(
    conn: &mut SqliteConnection,
    receipt: &DeliveryReceipt<'_>,
) -> anyhow::Result<Option<(i64, String)>> {
    for r in &receipt.refs {
        let (sql, value) = match r {
            MessageRef::Ours(id) => (
                "SELECT id, state FROM message WHERE message_id = ? \
                 AND (? IS NULL OR channel = ?)",
                *id,
            ),
            MessageRef::Provider(id) => (
                "SELECT id, state FROM message WHERE provider_id = ? \
                 AND (? IS NULL OR channel = ?) ORDER BY id LIMIT 1",
                *id,
            ),
        };
        let row: Option<(i64, String)> = sqlx::query_as(sql)
            .bind(value)
            .bind(receipt.channel)
            .bind(receipt.channel)
            .fetch_optional(&mut *conn)
            .await
            .context("finding the message of a receipt")?;
        if row.is_some() {
            return Ok(row);
        }
    }
    Ok(None)
}

/// `sent → delivered | failed` for row `id`, with its event.
async fn move_sent(
    conn: &mut SqliteConnection,
    id: i64,
    receipt: &DeliveryReceipt<'_>,
    now: Millis,
) -> anyhow::Result<()> {
    let (to, detail) = match &receipt.status {
        ReceiptStatus::Delivered { at } => {
            sqlx::query(
                "UPDATE message SET state = 'delivered', delivered_at = ?, updated_at = ? \
                 WHERE id = ? AND state = 'sent'",
            )
            .bind(*at)
            .bind(now)
            .bind(id)
            .execute(&mut *conn)
            .await
            .context("marking a message delivered")?;
            ("delivered", format!("receipt from {}", receipt.source))
        }
        ReceiptStatus::Failed { error } => {
            sqlx::query(
                "UPDATE message SET state = 'failed', last_error = ?, updated_at = ? \
                 WHERE id = ? AND state = 'sent'",
            )
            .bind(error.as_str())
            .bind(now)
            .bind(id)
            .execute(&mut *conn)
            .await
            .context("marking a message failed")?;
            (
                "failed",
                format!("receipt from {}: {error}", receipt.source),
            )
        }
    };
    let event = Event {
        message: id,
        from: "sent",
        to,
        detail: Some(detail),
    };
    event::write(conn, vec![event], now).await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::test_support::*;
    use super::super::{Outcome, OutcomeKind};
    use super::*;

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
        let sent = Outcome {
            id: claimed[0].id,
            attempt: claimed[0].attempt,
            owner: "w".into(),
            started_at: T0,
            duration_ms: 5,
            result: OutcomeKind::Sent {
                provider_id: Some("p0".into()),
            },
        };
        store.record(&[sent], T0 + 10).await.unwrap();
        let ids = rows.into_iter().map(|m| m.message_id).collect();
        (dir, store, ids)
    }

    fn delivered<'a>(id: &'a str, refs: Vec<MessageRef<'a>>) -> DeliveryReceipt<'a> {
        DeliveryReceipt {
            source: "webhook/email",
            callback_id: id,
            refs,
            channel: Some("email"),
            status: ReceiptStatus::Delivered { at: T0 + 500 },
        }
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

    #[tokio::test]
    async fn a_receipt_never_moves_a_message_that_is_not_sent() {
        let (_dir, store, ids) = ledger().await;
        let sending = delivered("cb-1", vec![MessageRef::Ours(&ids[1])]);
        assert_eq!(
            store.apply_receipt(&sending, T0).await.unwrap(),
            ReceiptOutcome::Unchanged {
                state: "sending".into()
            }
        );
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
                state: "delivered".into()
            }
        );
        assert_events_complete(&store).await;
    }

    #[tokio::test]
    async fn a_receipt_finds_messages_by_provider_id_but_only_on_its_channel() {
        let (_dir, store, _ids) = ledger().await;
        let mut other = delivered("cb-1", vec![MessageRef::Provider("p0")]);
        other.channel = Some("sms");
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
}
