//! Delivery receipts on PostgreSQL: the rules of [`crate::store::receipt`].
//!
//! On SQLite the one writer keeps a receipt's "is the message `sent`?" true until its
//! change commits. Here another daemon may record or move the same message meanwhile, so
//! the message is read `FOR UPDATE`: its state is then the latest committed one and stays
//! so until this transaction ends. Two daemons given the same callback id at once: the
//! second's insert into `callback_seen` waits for the first and finds it a replay. Early
//! receipts are taken `FOR UPDATE … SKIP LOCKED`, so daemons applying them at once each
//! apply different ones.

use anyhow::Context;
use sqlx::PgConnection;

use super::PgLedger;
use crate::store::receipt::{
    DeliveryReceipt, EarlyRow, MessageRef, ReceiptOutcome, ReceiptStatus, delivered_detail,
    delivery_time, early_status, failed_detail, masked,
};
use crate::store::{MessageState, Millis};

impl PgLedger {
    pub(crate) async fn apply_receipt(
        &self,
        receipt: &DeliveryReceipt<'_>,
        now: Millis,
    ) -> anyhow::Result<ReceiptOutcome> {
        let mut outcomes = self.apply_receipts(&[(receipt.clone(), now)]).await?;
        Ok(outcomes.remove(0))
    }

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

    pub(crate) async fn apply_early_receipts(
        &self,
        stale: Millis,
        now: Millis,
    ) -> anyhow::Result<u64> {
        let waiting: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM receipt_early)")
            .fetch_one(self.pool())
            .await
            .context("counting early receipts")?;
        if !waiting {
            return Ok(0);
        }
        let mut w = self.write().await?;
        let ready: Vec<EarlyRow> = sqlx::query_as(
            "SELECT e.message, e.source, e.status, e.at, e.error, e.received_at \
             FROM receipt_early e JOIN message m ON m.id = e.message \
             WHERE m.state = 'sent' ORDER BY e.message FOR UPDATE OF e, m SKIP LOCKED",
        )
        .fetch_all(&mut *w.tx)
        .await
        .context("reading early receipts")?;
        for (id, source, status, at, error, received) in &ready {
            let status = early_status(status, *at, error, *received);
            move_sent(&mut w.tx, *id, source, &status, *received, now).await?;
        }
        sqlx::query(
            "DELETE FROM receipt_early WHERE received_at < $1 OR message IN \
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

    pub(crate) async fn prune_callbacks(&self, before: Millis) -> anyhow::Result<u64> {
        let mut w = self.write().await?;
        let done = sqlx::query("DELETE FROM callback_seen WHERE at < $1")
            .bind(before)
            .execute(&mut *w.tx)
            .await
            .context("pruning callback ids")?;
        w.commit().await?;
        Ok(done.rows_affected())
    }
}

/// One receipt inside a write transaction. A replay has written nothing when it returns.
async fn apply_one(
    conn: &mut PgConnection,
    receipt: &DeliveryReceipt<'_>,
    now: Millis,
) -> anyhow::Result<ReceiptOutcome> {
    let fresh = sqlx::query(
        "INSERT INTO callback_seen (source, id, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
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

/// The row id and state of the first message a reference names, locked.
async fn find(
    conn: &mut PgConnection,
    receipt: &DeliveryReceipt<'_>,
) -> anyhow::Result<Option<(i64, MessageState)>> {
    for r in &receipt.refs {
        let row: Option<(i64, MessageState)> = match r {
            MessageRef::Ours(id) => {
                // Our message id leads to its row by primary key; the whole id is still
                // compared, so a made-up tag finds nothing.
                let Some(row_id) = crate::store::message_row(id) else {
                    continue;
                };
                sqlx::query_as(
                    "SELECT id, state FROM message WHERE id = $1 AND message_id = $2 \
                     AND channel = ANY($3) FOR UPDATE",
                )
                .bind(row_id)
                .bind(*id)
                .bind(&receipt.channels)
                .fetch_optional(&mut *conn)
                .await
            }
            MessageRef::Provider(id) => {
                sqlx::query_as(
                    "SELECT id, state FROM message WHERE provider_id = $1 \
                     AND channel = ANY($2) ORDER BY id LIMIT 1 FOR UPDATE",
                )
                .bind(*id)
                .bind(&receipt.channels)
                .fetch_optional(&mut *conn)
                .await
            }
        }
        .context("finding the message of a receipt")?;
        if row.is_some() {
            return Ok(row);
        }
    }
    Ok(None)
}

/// Keeps a receipt for message `id` until it is `sent`; the first receipt wins.
async fn keep_early(
    conn: &mut PgConnection,
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
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
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

/// `sent → delivered | failed` for row `id` (locked by the caller), with its event, in
/// one statement; `received` is when the receipt arrived.
async fn move_sent(
    conn: &mut PgConnection,
    id: i64,
    source: &str,
    status: &ReceiptStatus,
    received: Millis,
    now: Millis,
) -> anyhow::Result<()> {
    match status {
        ReceiptStatus::Delivered { at } => {
            let sent_at: Option<Millis> =
                sqlx::query_scalar("SELECT sent_at FROM message WHERE id = $1")
                    .bind(id)
                    .fetch_one(&mut *conn)
                    .await
                    .context("reading when a message was sent")?;
            let (delivered_at, believed) = delivery_time(*at, sent_at, received);
            let detail = mask(delivered_detail(source, *at, believed));
            sqlx::query(
                "WITH moved AS (UPDATE message SET state = 'delivered', delivered_at = $2, \
                     updated_at = $3 WHERE id = $1 AND state = 'sent' RETURNING id) \
                 INSERT INTO message_event (message, at, from_state, to_state, detail) \
                 SELECT id, $3, 'sent', 'delivered', $4 FROM moved",
            )
            .bind(id)
            .bind(delivered_at)
            .bind(now)
            .bind(detail)
            .execute(&mut *conn)
            .await
            .context("marking a message delivered")?;
        }
        ReceiptStatus::Failed { error } => {
            let detail = mask(failed_detail(source, error));
            sqlx::query(
                "WITH moved AS (UPDATE message SET state = 'failed', last_error = $2, \
                     updated_at = $3 WHERE id = $1 AND state = 'sent' RETURNING id) \
                 INSERT INTO message_event (message, at, from_state, to_state, detail) \
                 SELECT id, $3, 'sent', 'failed', $4 FROM moved",
            )
            .bind(id)
            .bind(error)
            .bind(now)
            .bind(detail)
            .execute(&mut *conn)
            .await
            .context("marking a message failed")?;
        }
    }
    Ok(())
}

/// An event detail masked like every text the ledger keeps ([`crate::mask`]).
fn mask(detail: String) -> String {
    crate::mask::mask_text(&detail, "").into_owned()
}
