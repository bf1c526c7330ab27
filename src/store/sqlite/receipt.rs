//! Delivery receipts on SQLite: the rules of [`crate::store::receipt`], one receipt at a
//! time inside one write transaction for a burst of them.

use anyhow::Context;
use sqlx::sqlite::SqliteConnection;

use super::SqliteLedger;
use super::event;
use crate::store::outcome::Event;
use crate::store::receipt::{
    DeliveryReceipt, EarlyRow, MessageRef, ReceiptOutcome, ReceiptStatus, delivered_detail,
    delivery_time, early_status, failed_detail, masked,
};
use crate::store::{MessageState, Millis};

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
            let masked = masked(receipt);
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
            let status = early_status(status, *at, error, *received);
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
            let detail = failed_detail(source, error);
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
    Ok(delivered_detail(source, at, believed))
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
