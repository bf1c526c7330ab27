//! Delivery receipts on their way to the ledger, group-committed.
//!
//! Each callback used to be its own write transaction, with its own `fsync`: at the rate
//! receipts arrive while a campaign sends (one per message), they took the ledger's one
//! writer from the dispatcher. Now every handler queues its receipt and waits for its
//! outcome, and one writer task applies whatever has queued meanwhile in one transaction
//! ([`Store::apply_receipts`]). A handler answers only after the commit, so a 200 still
//! means "durable". A failed batch fails each of its requests (500); senders retry, and
//! a retried receipt is applied once (its callback id).

use std::sync::{Arc, OnceLock};

use anyhow::anyhow;
use tokio::sync::{mpsc, oneshot};

use crate::store::{DeliveryReceipt, MessageRef, Millis, ReceiptOutcome, ReceiptStatus, Store};

/// Receipts applied in one transaction at most.
const BATCH: usize = 256;

/// Receipts waiting at most; a handler beyond that waits for room.
const QUEUE: usize = 4_096;

/// The queue to the writer task, started by the first receipt. The task ends when the
/// last [`super::WebState`] holding the queue is dropped.
#[derive(Clone, Default)]
pub(super) struct Receipts(Arc<OnceLock<mpsc::Sender<Queued>>>);

struct Queued {
    receipt: Owned,
    now: Millis,
    reply: oneshot::Sender<Result<ReceiptOutcome, String>>,
}

impl Receipts {
    /// Queues `receipt` and waits until its batch is committed.
    pub(super) async fn apply(
        &self,
        store: &Store,
        receipt: &DeliveryReceipt<'_>,
        now: Millis,
    ) -> anyhow::Result<ReceiptOutcome> {
        let queue = self.0.get_or_init(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            tokio::spawn(write(store.clone(), rx));
            tx
        });
        let (reply, outcome) = oneshot::channel();
        let queued = Queued {
            receipt: Owned::of(receipt),
            now,
            reply,
        };
        queue
            .send(queued)
            .await
            .map_err(|_| anyhow!("the receipt writer has stopped"))?;
        outcome
            .await
            .map_err(|_| anyhow!("the receipt writer has stopped"))?
            .map_err(|e| anyhow!(e))
    }
}

/// Applies queued receipts, as many as have arrived (up to [`BATCH`]) per transaction.
async fn write(store: Store, mut queue: mpsc::Receiver<Queued>) {
    let mut batch = Vec::with_capacity(BATCH);
    while queue.recv_many(&mut batch, BATCH).await > 0 {
        let receipts: Vec<_> = batch.iter().map(|q| (q.receipt.borrow(), q.now)).collect();
        let applied = store.apply_receipts(&receipts).await;
        drop(receipts);
        match applied {
            Ok(outcomes) => {
                for (q, outcome) in batch.drain(..).zip(outcomes) {
                    // A handler whose client went away no longer listens; its receipt
                    // is applied all the same.
                    let _ = q.reply.send(Ok(outcome));
                }
            }
            Err(e) => {
                let error = format!("{e:#}");
                tracing::warn!(error, receipts = batch.len(), "applying receipts failed");
                for q in batch.drain(..) {
                    let _ = q.reply.send(Err(error.clone()));
                }
            }
        }
    }
}

/// A [`DeliveryReceipt`] that owns its text, to cross to the writer task.
struct Owned {
    source: String,
    callback_id: String,
    refs: Vec<(bool, String)>,
    channels: Vec<String>,
    status: ReceiptStatus,
}

impl Owned {
    fn of(r: &DeliveryReceipt<'_>) -> Owned {
        Owned {
            source: r.source.to_owned(),
            callback_id: r.callback_id.to_owned(),
            refs: r
                .refs
                .iter()
                .map(|m| match m {
                    MessageRef::Ours(id) => (true, (*id).to_owned()),
                    MessageRef::Provider(id) => (false, (*id).to_owned()),
                })
                .collect(),
            channels: r.channels.iter().map(|c| (*c).to_owned()).collect(),
            status: r.status.clone(),
        }
    }

    fn borrow(&self) -> DeliveryReceipt<'_> {
        DeliveryReceipt {
            source: &self.source,
            callback_id: &self.callback_id,
            refs: self
                .refs
                .iter()
                .map(|(ours, id)| match ours {
                    true => MessageRef::Ours(id),
                    false => MessageRef::Provider(id),
                })
                .collect(),
            channels: self.channels.iter().map(String::as_str).collect(),
            status: self.status.clone(),
        }
    }
}
