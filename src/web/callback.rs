//! Delivery callbacks: `POST /callbacks/zalo` (ZNS `user_received_message`,
//! docs/callbacks.md) and `POST /callbacks/webhook/{channel}` (receipts from SMS gateways and loa
//! relays), turning `sent` messages `delivered` (or `failed`) in the ledger.
//!
//! Every request goes through the same gate, in this order (docs/reliability.md#r12):
//!
//! 1. the route must be enabled, else 404, and have a key, else 503 — it accepts nothing;
//! 2. the body is read up to [`MAX_BODY`] (256 KiB): a larger one is refused with 413
//!    before any verification, a slow one with 408 after 10 s;
//! 3. the signature is checked over the raw bytes ([`super::signature`]): 401 otherwise;
//! 4. only then is the body read as JSON and the receipt applied, once per callback id,
//!    which the signature covers: the webhook's `Idempotency-Key` (or `webhook-id`)
//!    header under the `v2=` scheme, what a `v1=` signature signed otherwise
//!    ([`signature::verify_loa_receipt`]), Zalo's `msg_id` (inside the signed body);
//! 5. a receipt moves only messages of its own channel: `/callbacks/webhook/{channel}`
//!    those of `{channel}`, `/callbacks/zalo` those of the `zalo_zns` channels.
//!
//! A refused request writes nothing to the ledger; it bumps
//! `loa_callback_rejected_total{reason}` and that is all. A replay answers 200 and bumps
//! `loa_callback_replays_total`. Their log lines, which any client can cause, are
//! written at most once per reason per 10 s, each saying how many were left out
//! ([`crate::log_limit`]); the counters stay exact. The work is one short transaction shared with the receipts
//! arriving meanwhile ([`super::receipts`]), well inside Zalo's 2-second answer deadline.
//! Bodies carry phone numbers: they are never logged.
//!
//! A receipt can beat the dispatcher's own record of the send (it records a batch once
//! every send of it is done): such a receipt is kept and applied by `reconcile`, which
//! [`super::serve`] runs beside the server, once the message is `sent`.
//!
//! Webhook receipt body: `{"message_id": "...", "status": "delivered" | "failed",
//! "at": "<RFC 3339>" (optional, default now), "error": "..." (optional)}`. A delivery
//! time (`at`, Zalo's `delivery_time`) is kept only between the send (less 5 minutes of
//! clock skew) and the receipt's arrival (plus 5 minutes); outside, the arrival time is
//! recorded instead and the message's event says so ([`crate::store::delivery_time`]).

use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::post;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use super::WebState;
use super::error::WebError;
use super::signature::{self, SignatureError};
pub(crate) use crate::metrics::Rejection;
use crate::store::{DeliveryReceipt, MessageRef, Millis, ReceiptOutcome, ReceiptStatus};

/// The largest callback body read.
pub(crate) const MAX_BODY: usize = 256 * 1024;

/// At most this much of a receipt's error text is kept.
const MAX_ERROR_CHARS: usize = 500;

impl From<SignatureError> for Rejection {
    fn from(e: SignatureError) -> Rejection {
        match e {
            SignatureError::Missing => Rejection::Unsigned,
            SignatureError::Mismatch => Rejection::BadSignature,
            SignatureError::Stale => Rejection::Stale,
            SignatureError::BadTimestamp | SignatureError::Malformed => Rejection::Malformed,
        }
    }
}

pub(super) fn router() -> Router<WebState> {
    Router::new()
        .route("/callbacks/zalo", post(zalo))
        .route("/callbacks/webhook/{channel}", post(webhook))
}

#[derive(Deserialize)]
struct WireReceipt {
    message_id: String,
    status: String,
    at: Option<String>,
    error: Option<String>,
}

async fn webhook(
    State(state): State<WebState>,
    Path(channel): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<&'static str, WebError> {
    let secrets = state.webhook_secrets(&channel).ok_or(WebError::NotFound)?;
    if secrets.is_empty() {
        return Err(refuse(&state, Rejection::NotConfigured));
    }
    let body = read_body(&state, &headers, body).await?;
    let now = state.now();
    let (timestamp, sig) = (
        text(&headers, "x-loa-timestamp"),
        text(&headers, "x-loa-signature"),
    );
    let header_id = text(&headers, "idempotency-key").or_else(|| text(&headers, "webhook-id"));
    let id = signature::verify_loa_receipt(&secrets, header_id, timestamp, sig, &body, now)
        .map_err(|e| refuse(&state, e.into()))?;
    let (message_id, status) = parse_receipt(&body, now).map_err(|why| {
        state.metrics().rejected(Rejection::Malformed);
        WebError::BadRequest(why)
    })?;
    let source = format!("webhook/{channel}");
    let receipt = DeliveryReceipt {
        source: &source,
        callback_id: &id,
        refs: vec![MessageRef::Ours(&message_id)],
        channels: vec![channel.as_str()],
        status,
    };
    apply(&state, &receipt, now).await
}

async fn zalo(
    State(state): State<WebState>,
    headers: HeaderMap,
    body: Body,
) -> Result<&'static str, WebError> {
    let zalo = state.keys().zalo.as_ref().ok_or(WebError::NotFound)?;
    if zalo.keys.is_empty() {
        return Err(refuse(&state, Rejection::NotConfigured));
    }
    let body = read_body(&state, &headers, body).await?;
    let now = state.now();
    let sig = text(&headers, "x-zevent-signature");
    let event = signature::verify_zalo(&zalo.keys, zalo.app_id.as_deref(), sig, &body, now)
        .map_err(|e| refuse(&state, e.into()))?;
    if event.event_name != "user_received_message" {
        // Other OA/ZNS events (template status, quota) are not receipts.
        return Ok("ignored\n");
    }
    let Some(callback_id) = event.msg_id.as_deref().or(event.tracking_id.as_deref()) else {
        return Ok("ignored\n");
    };
    let mut refs = Vec::new();
    if let Some(ours) = event.tracking_id.as_deref() {
        refs.push(MessageRef::Ours(ours));
    }
    if let Some(theirs) = event.msg_id.as_deref() {
        refs.push(MessageRef::Provider(theirs));
    }
    // Zalo speaks for the messages of Zalo channels only.
    let zalo_channels = state.zalo_channels();
    let receipt = DeliveryReceipt {
        source: "zalo",
        callback_id,
        refs,
        channels: zalo_channels.iter().map(String::as_str).collect(),
        status: ReceiptStatus::Delivered {
            at: event.delivery_time.unwrap_or(event.timestamp),
        },
    };
    apply(&state, &receipt, now).await
}

/// Applies an authenticated receipt and says what happened in one word.
async fn apply(
    state: &WebState,
    receipt: &DeliveryReceipt<'_>,
    now: Millis,
) -> Result<&'static str, WebError> {
    let outcome = state
        .apply_receipt(receipt, now)
        .await
        .map_err(WebError::internal)?;
    Ok(match outcome {
        ReceiptOutcome::Applied { id } => {
            tracing::info!(
                source = receipt.source,
                message = id,
                "delivery receipt applied"
            );
            "ok\n"
        }
        ReceiptOutcome::Replay => {
            state.metrics().replay();
            if let Some(left_out) = state.log_line("replay") {
                tracing::info!(
                    source = receipt.source,
                    left_out,
                    "replayed callback ignored"
                );
            }
            "duplicate\n"
        }
        ReceiptOutcome::Deferred { id } => {
            tracing::info!(source = receipt.source, message = id, "early receipt kept");
            "ok\n"
        }
        ReceiptOutcome::Unchanged { .. } => "ok\n",
        ReceiptOutcome::Unmatched => {
            if let Some(left_out) = state.log_line("unmatched") {
                tracing::info!(
                    source = receipt.source,
                    left_out,
                    "receipt for no known message"
                );
            }
            "ignored\n"
        }
    })
}

/// How long early receipts and callback ids are kept: past Zalo's longest reported retry
/// period (12 h), and far past the signature tolerance.
const KEEP: Millis = 24 * 3600 * 1000;

/// Until `stop`: every second, applies the receipts that arrived before their message was
/// recorded `sent` ([`crate::store::Store::apply_early_receipts`]); every hour, forgets
/// callback ids older than a day. Errors are logged and tried again next round.
pub(super) async fn reconcile(state: WebState, stop: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_prune = state.now();
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = state.now();
        match state.store().apply_early_receipts(now - KEEP, now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(applied = n, "early receipts applied"),
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "early receipts not applied"),
        }
        if now - last_prune >= 3600 * 1000 {
            last_prune = now;
            if let Err(e) = state.store().prune_callbacks(now - KEEP).await {
                tracing::warn!(error = %format!("{e:#}"), "callback ids not pruned");
            }
        }
    }
}

/// Counts a refusal and turns it into its answer; logs it unless a line for the same
/// reason was written less than 10 s ago (`left_out`: how many were not logged since).
fn refuse(state: &WebState, reason: Rejection) -> WebError {
    state.metrics().rejected(reason);
    if let Some(left_out) = state.log_line(reason.label()) {
        tracing::warn!(reason = reason.label(), left_out, "callback refused");
    }
    match reason {
        Rejection::TooLarge => WebError::TooLarge,
        Rejection::NotConfigured => WebError::NotConfigured,
        _ => WebError::Unauthorized,
    }
}

/// The body, at most [`MAX_BODY`] bytes; a larger one is counted and refused.
async fn read_body(state: &WebState, headers: &HeaderMap, body: Body) -> Result<Bytes, WebError> {
    match super::read_limited(body, headers, MAX_BODY).await {
        Err(WebError::TooLarge) => Err(refuse(state, Rejection::TooLarge)),
        other => other,
    }
}

/// A header's value when it is visible ASCII.
fn text<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// An authenticated webhook receipt's message id and status; the error says why not.
/// Public for the fuzz target and the properties (docs/reliability.md#r20).
pub fn parse_receipt(body: &[u8], now: Millis) -> Result<(String, ReceiptStatus), &'static str> {
    let wire: WireReceipt =
        serde_json::from_slice(body).map_err(|_| "the body is not a receipt")?;
    let status = match wire.status.as_str() {
        "delivered" => ReceiptStatus::Delivered {
            at: receipt_time(wire.at.as_deref(), now)?,
        },
        "failed" => ReceiptStatus::Failed {
            error: wire
                .error
                .unwrap_or_else(|| "the provider reported a failure".into())
                .chars()
                .take(MAX_ERROR_CHARS)
                .collect(),
        },
        _ => return Err("status must be delivered or failed"),
    };
    Ok((wire.message_id, status))
}

/// A receipt's `at` (RFC 3339) in ms, or `now` when absent.
fn receipt_time(at: Option<&str>, now: Millis) -> Result<Millis, &'static str> {
    match at {
        None => Ok(now),
        Some(at) => chrono::DateTime::parse_from_rfc3339(at)
            .map(|t| t.timestamp_millis())
            .map_err(|_| "at must be an RFC 3339 time"),
    }
}
