//! Delivery channels: send one rendered message to one address, and say how it went.
//!
//! A [`Channel`] owns one provider connection setup (an SMTP pool, an HTTP client, a Zalo
//! token) and turns the provider's answer into a [`Receipt`] or a [`ChannelError`] whose
//! variant tells the dispatcher what to do next: retry later ([`ChannelError::Transient`]),
//! give up on this message or use the step's fallback ([`ChannelError::Permanent`]), or stop
//! the whole channel until a human or the clock says otherwise ([`ChannelError::Paused`]).
//! The channel never retries across calls and never records state: `dispatch` does
//! (docs/reliability.md#rule-3, #rule-7).
//!
//! Files: [`email`] builds the RFC 5322 message (shared by [`smtp`] and [`outbox`]);
//! [`smtp`], [`webhook`] and [`zalo`] reach the network; [`outbox`] writes what they would
//! have sent to files (`--outbox`, docs/cli.md#outbox); [`classify`] holds the
//! reply/status/code tables; [`outbound`] says which addresses webhook and Zalo requests may
//! reach (docs/reliability.md#r13).
//!
//! No error or log line built here holds a secret or a full address ([`mask_address`]).

pub(crate) mod classify;
pub(crate) mod email;
pub(crate) mod outbound;
pub(crate) mod outbox;
pub(crate) mod smtp;
pub mod webhook;
pub(crate) mod zalo;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

use crate::campaign::{self, ChannelKind};
pub(crate) use crate::mask::mask_address;
use crate::mask::mask_text;
pub(crate) use crate::mask::{REDACTED, is_secret_header};
use crate::render::message::Rendered;
use outbound::AllowList;

/// One message on one channel, as the dispatcher hands it over.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Deterministic, at most 48 characters of `[A-Za-z0-9_-]`, equal across retries: the
    /// `Message-ID`, `Idempotency-Key` and Zalo `tracking_id` (docs/reliability.md#rule-11).
    pub message_id: String,
    pub campaign: String,
    pub step: String,
    pub channel: String,
    /// An e-mail address, or a phone number `84xxxxxxxxx`.
    pub address: String,
    pub attempt: u32,
    pub rendered: Rendered,
    /// For `List-Unsubscribe` (RFC 8058); `None` omits the header.
    pub unsubscribe_url: Option<String>,
}

/// What the provider said when it accepted the message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Receipt {
    /// The provider's own id (Zalo `msg_id`, the SMTP server's queue reply), if it gave one.
    pub provider_id: Option<String>,
}

/// Why a message was not accepted, and what to do about it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ChannelError {
    /// Try again later: SMTP 4xx, HTTP 408/429/5xx, timeouts, connection errors.
    #[error("transient: {message}")]
    Transient {
        message: String,
        code: Option<String>,
        /// The provider said when (`Retry-After`, Zalo's night window).
        retry_after: Option<Duration>,
        /// The provider is throttling us (SMTP 421/454, HTTP 429): slow the channel down.
        slow_down: bool,
    },
    /// Do not retry this message: SMTP 5xx, other HTTP 4xx, bad payloads.
    #[error("permanent: {message}")]
    Permanent {
        message: String,
        code: Option<String>,
        /// The recipient cannot be reached on this channel at all (no Zalo account, opted
        /// out): use the step's fallback.
        no_account: bool,
    },
    /// Systemic: every message on this channel would fail the same way (quota exhausted,
    /// credentials refused). Pause the channel until `until`, or until a human resumes it.
    #[error("channel paused: {message}")]
    Paused {
        message: String,
        code: Option<String>,
        until: Option<DateTime<Utc>>,
    },
}

impl ChannelError {
    pub fn transient(message: impl Into<String>) -> Self {
        Self::Transient {
            message: message.into(),
            code: None,
            retry_after: None,
            slow_down: false,
        }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        Self::Permanent {
            message: message.into(),
            code: None,
            no_account: false,
        }
    }

    pub fn paused(message: impl Into<String>) -> Self {
        Self::Paused {
            message: message.into(),
            code: None,
            until: None,
        }
    }

    /// The provider's code (SMTP reply, HTTP status, Zalo error), for the delivery record.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Transient { code, .. }
            | Self::Permanent { code, .. }
            | Self::Paused { code, .. } => code.as_deref(),
        }
    }

    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient { .. })
    }

    /// Masks `address` in the message, and any other e-mail address or phone number in any
    /// spelling ([`crate::mask::mask_text`]): providers echo recipients in their replies.
    pub fn masking(mut self, address: &str) -> Self {
        if !address.is_empty() {
            let (Self::Transient { message, .. }
            | Self::Permanent { message, .. }
            | Self::Paused { message, .. }) = &mut self;
            *message = mask_text(message, address).into_owned();
        }
        self
    }
}

/// Sends one message. Implementations are cheap to share and safe to call concurrently;
/// each bounds its own concurrency (the SMTP pool size, the HTTP client's pool).
pub trait Channel: Send + Sync {
    fn send<'a>(&'a self, msg: &'a Outgoing) -> BoxFuture<'a, Result<Receipt, ChannelError>>;
}

/// Durable key/value storage for provider tokens (the Zalo refresh token is single-use, so it
/// must be stored before the access token that came with it is used;
/// docs/operations.md#zalo-tokens).
pub trait TokenStore: Send + Sync {
    fn get(&self, key: &str) -> BoxFuture<'_, anyhow::Result<Option<String>>>;
    fn put<'a>(&'a self, key: &'a str, value: &'a str) -> BoxFuture<'a, anyhow::Result<()>>;
}

/// A [`TokenStore`] that forgets everything on exit: for tests and `--outbox` runs.
#[derive(Debug, Default)]
pub struct MemoryTokenStore {
    values: Mutex<HashMap<String, String>>,
    /// Every `put`, in order, so tests can check what was stored when.
    log: Mutex<Vec<(String, String)>>,
}

impl MemoryTokenStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// The `(key, value)` pairs written so far, oldest first.
    pub fn puts(&self) -> Vec<(String, String)> {
        self.log.lock().expect("token log").clone()
    }

    /// The value stored under `key` now.
    pub fn value(&self, key: &str) -> Option<String> {
        self.values.lock().expect("tokens").get(key).cloned()
    }
}

impl TokenStore for MemoryTokenStore {
    fn get(&self, key: &str) -> BoxFuture<'_, anyhow::Result<Option<String>>> {
        let value = self.value(key);
        Box::pin(async move { Ok(value) })
    }

    fn put<'a>(&'a self, key: &'a str, value: &'a str) -> BoxFuture<'a, anyhow::Result<()>> {
        self.values
            .lock()
            .expect("tokens")
            .insert(key.to_string(), value.to_string());
        self.log
            .lock()
            .expect("token log")
            .push((key.to_string(), value.to_string()));
        Box::pin(async { Ok(()) })
    }
}

/// Builds the channel `ch` of `campaign`. With `outbox`, every kind writes files under that
/// folder instead of reaching the network (docs/cli.md#outbox). Webhook and Zalo requests go
/// only to public addresses ([`build_allowing`] to allow more).
pub fn build(
    ch: &campaign::Channel,
    outbox: Option<&Path>,
    campaign: &str,
    tokens: Arc<dyn TokenStore>,
) -> anyhow::Result<Arc<dyn Channel>> {
    build_allowing(ch, outbox, campaign, tokens, &Arc::new(AllowList::none()))
}

/// [`build`], with webhook and Zalo requests also allowed to the networks in `allow`
/// ([`outbound`]).
pub fn build_allowing(
    ch: &campaign::Channel,
    outbox: Option<&Path>,
    campaign: &str,
    tokens: Arc<dyn TokenStore>,
    allow: &Arc<AllowList>,
) -> anyhow::Result<Arc<dyn Channel>> {
    let context = || format!("channel {:?} ({})", ch.name, ch.kind.as_str());
    if let Some(dir) = outbox {
        let channel = outbox::OutboxChannel::new(ch, dir, campaign).with_context(context)?;
        return Ok(Arc::new(channel));
    }
    Ok(match ch.kind {
        ChannelKind::Smtp => Arc::new(smtp::SmtpChannel::new(ch).with_context(context)?),
        ChannelKind::Webhook => {
            Arc::new(webhook::WebhookChannel::new(ch, Arc::clone(allow)).with_context(context)?)
        }
        ChannelKind::ZaloZns => {
            Arc::new(zalo::ZaloChannel::new(ch, tokens, Arc::clone(allow)).with_context(context)?)
        }
    })
}

/// Checks the dispatcher's promise about message ids; a wrong id is a bug upstream, and
/// sending it would break `Message-ID` headers and provider deduplication.
pub(crate) fn check_message_id(id: &str) -> Result<(), ChannelError> {
    let ok = !id.is_empty()
        && id.len() <= 48
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ChannelError::permanent(format!(
            "message id {id:?} is not 1-48 characters of [A-Za-z0-9_-]"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_can_mask_an_echoed_address() {
        let e = ChannelError::permanent("<84912345678> refused").masking("84912345678");
        assert_eq!(e.to_string(), "permanent: <84912***678> refused");
    }

    #[test]
    fn message_ids_are_checked() {
        assert!(check_message_id("bhyt-2026_abc123").is_ok());
        assert!(check_message_id("").is_err());
        assert!(check_message_id(&"a".repeat(49)).is_err());
        assert!(check_message_id("a b").is_err());
        assert!(check_message_id("a@b").is_err());
    }

    #[test]
    fn credential_headers_are_recognised() {
        for h in [
            "Authorization",
            "access_token",
            "X-Api-Key",
            "X-Loa-Signature",
            "secret_key",
        ] {
            assert!(is_secret_header(h), "{h}");
        }
        for h in ["Idempotency-Key", "Content-Type", "X-Loa-Timestamp"] {
            assert!(!is_secret_header(h), "{h}");
        }
    }
}
