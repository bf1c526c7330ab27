//! Delivery receipts from providers (Zalo `user_received_message`, SMS gateway and relay
//! callbacks), whatever the backend: the types, and the rules both backends' `receipt`
//! follow.
//!
//! A receipt never regresses a message: only a `sent` row moves (`sent → delivered` or
//! `sent → failed`, once per callback id), so a late "delivered" for a message already
//! `failed`, or a second receipt for a `delivered` one, changes nothing. A receipt for a
//! message still `sending` or `pending` — the provider delivered before the dispatcher
//! recorded the batch, or a rescued lease awaits its retry — is kept in `receipt_early`
//! and applied by [`super::Store::apply_early_receipts`] once the message is `sent` (the
//! web server runs it every second). The callback id is recorded in `callback_seen` in the
//! same transaction as the state change, so a replayed callback finds it and writes
//! nothing more (docs/reliability.md#r12).
//!
//! A receipt moves only messages of the channels it names (a channel's key speaks for its
//! own messages only), and its delivery time is believed only within the send and its
//! arrival ([`delivery_time`]).

use super::{MessageState, Millis};

/// A `receipt_early` row: message, source, status, at, error, received_at.
pub(super) type EarlyRow = (i64, String, String, Option<Millis>, Option<String>, Millis);

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

/// `receipt` with a failure text masked ([`crate::mask`]), as the ledger keeps it: a
/// provider's words may quote the recipient. `None` when there was nothing to mask.
pub(super) fn masked<'a>(receipt: &DeliveryReceipt<'a>) -> Option<DeliveryReceipt<'a>> {
    match &receipt.status {
        ReceiptStatus::Failed { error } => match crate::mask::mask_text(error, "") {
            std::borrow::Cow::Owned(error) => Some(DeliveryReceipt {
                status: ReceiptStatus::Failed { error },
                ..receipt.clone()
            }),
            std::borrow::Cow::Borrowed(_) => None,
        },
        ReceiptStatus::Delivered { .. } => None,
    }
}

/// The status of a kept early receipt (`receipt_early.status`, `at`, `error`), received
/// at `received`.
pub(super) fn early_status(
    status: &str,
    at: Option<Millis>,
    error: &Option<String>,
    received: Millis,
) -> ReceiptStatus {
    match status {
        "delivered" => ReceiptStatus::Delivered {
            at: at.unwrap_or(received),
        },
        _ => ReceiptStatus::Failed {
            error: error.clone().unwrap_or_default(),
        },
    }
}

/// The event detail of `sent → delivered`: which time was recorded ([`delivery_time`]).
pub(super) fn delivered_detail(source: &str, at: Millis, believed: bool) -> String {
    if believed {
        format!("receipt from {source}")
    } else {
        format!(
            "receipt from {source}; its delivery time ({}) is outside the send and \
             the receipt's arrival, so the arrival time is recorded",
            rfc3339(at)
        )
    }
}

/// The event detail of `sent → failed`.
pub(super) fn failed_detail(source: &str, error: &str) -> String {
    format!("receipt from {source}: {error}")
}

/// `at` (ms) as RFC 3339 UTC, or the number when it is beyond chrono's range.
fn rfc3339(at: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(at)
        .map_or_else(|| format!("{at} ms"), |t| t.to_rfc3339())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::T0;

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
}
