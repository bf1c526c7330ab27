//! The webhook channel: one HTTP request per message, for SMS gateways and relays.
//!
//! Request (docs/campaign-file.md#webhook, docs/templates.md#webhook-bodies): the channel's
//! `method` (default POST), `url` and `headers`. The body is the channel's `body` template
//! output when it has one, else the JSON `{"to", "text", "subject", "message_id"}`;
//! `Content-Type: application/json` unless the channel's headers say otherwise.
//!
//! Every request carries `Idempotency-Key: {message_id}`, the same on every retry, so the
//! receiver can drop duplicates (docs/reliability.md#rule-11). When the channel has a
//! `secret`, the request is signed:
//!
//! ```text
//! X-Loa-Timestamp: <unix seconds>
//! X-Loa-Signature: v1=<lower-case hex of HMAC-SHA256(secret, "<timestamp>.<body>")>
//! ```
//!
//! The receiver recomputes the HMAC over the timestamp, a dot and the raw body bytes,
//! compares in constant time, and refuses timestamps more than a few minutes old (the
//! Standard Webhooks / Stripe scheme, with our header names).
//!
//! Answers (docs/delivery.md#classification): 2xx is accepted; 3xx is refused and **never
//! followed** (a redirect could point anywhere; the error names the Location host so the
//! URL can be fixed); 408, 429 and 5xx are transient, honouring `Retry-After`; 410 and other
//! 4xx are permanent. Requests go only to public addresses unless the deployment allows a
//! network (docs/reliability.md#r13, [`super::outbound`]); a refused target fails the message
//! permanently. At most 64 KiB of any answer is read. No proxy from the environment is used, so
//! a stray `HTTPS_PROXY` cannot route the request (and its credentials) elsewhere. The request
//! times out after the channel's `timeout` (default 15 s).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use futures::future::BoxFuture;
use hmac::{Hmac, Mac};
use reqwest::header::{HeaderName, HeaderValue};
use serde_json::json;
use sha2::Sha256;

mod http;

pub(crate) use self::http::{Answer, client, execute};
use super::outbound::AllowList;
use super::{
    Channel, ChannelError, Outgoing, REDACTED, Receipt, check_message_id, is_secret_header,
};
use crate::campaign::{self, Secret};
pub(crate) use crate::mask::mask_url;

/// How much of a response body is read at most.
pub(crate) const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// One HTTP request, fully built: what is sent, and what the outbox writes.
#[derive(Clone)]
pub(crate) struct Prepared {
    pub method: String,
    pub url: String,
    /// In sending order; values may be secrets (see [`super::is_secret_header`]).
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Prepared {
    /// The headers with credentials replaced by `[REDACTED]`.
    pub(crate) fn masked_headers(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .map(|(k, v)| {
                let v = if is_secret_header(k) {
                    REDACTED.to_string()
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })
            .collect()
    }

    /// The URL with any password or key-like query value replaced by `[REDACTED]`.
    pub(crate) fn masked_url(&self) -> String {
        mask_url(&self.url)
    }
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("method", &self.method)
            .field("url", &self.masked_url())
            .field("headers", &self.masked_headers())
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

/// A webhook channel's fixed parts, checked once.
#[derive(Clone)]
pub(crate) struct Spec {
    method: reqwest::Method,
    url: Secret,
    headers: Vec<(String, Secret)>,
    secret: Option<Secret>,
    has_body_template: bool,
    pub(crate) timeout: Duration,
}

impl Spec {
    pub(crate) fn new(ch: &campaign::Channel) -> anyhow::Result<Self> {
        ch.url.as_ref().context("a webhook channel needs `url`")?;
        let spec = Self::lenient(ch)?;
        let parsed = url::Url::parse(spec.url.expose())
            .map_err(|e| anyhow::anyhow!("bad webhook URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            bail!(
                "webhook URL must be http or https, not {:?}",
                parsed.scheme()
            );
        }
        Ok(spec)
    }

    /// For the outbox: the URL is only written down, so an unset `${NAME}` (allowed under
    /// `--outbox`, docs/campaign-file.md#environment-variables) is no error.
    pub(crate) fn lenient(ch: &campaign::Channel) -> anyhow::Result<Self> {
        let url = ch.url.clone().unwrap_or_else(|| Secret::new(""));
        let method = reqwest::Method::from_bytes(ch.method.as_bytes())
            .map_err(|_| anyhow::anyhow!("bad HTTP method {:?}", ch.method))?;
        for (name, value) in &ch.headers {
            HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| anyhow::anyhow!("bad header name {name:?}"))?;
            HeaderValue::from_str(value.expose())
                .map_err(|_| anyhow::anyhow!("header {name:?} has a value HTTP cannot carry"))?;
        }
        Ok(Self {
            method,
            url,
            headers: ch
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            secret: ch.secret.clone(),
            has_body_template: ch.body.is_some(),
            timeout: ch.timeout,
        })
    }

    /// Builds the request for `msg`, signed at `unix_time` when the channel has a secret.
    pub(crate) fn prepare(&self, msg: &Outgoing, unix_time: u64) -> Result<Prepared, ChannelError> {
        check_message_id(&msg.message_id)?;
        let body = if self.has_body_template {
            msg.rendered.body.clone().ok_or_else(|| {
                ChannelError::permanent("the channel has a body template but nothing was rendered")
            })?
        } else {
            json!({
                "to": msg.address,
                "text": msg.rendered.text.clone().unwrap_or_default(),
                "subject": msg.rendered.subject,
                "message_id": msg.message_id,
            })
            .to_string()
        };
        let mut headers: Vec<(String, String)> = Vec::new();
        if !self
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            headers.push(("Content-Type".into(), "application/json".into()));
        }
        for (k, v) in &self.headers {
            headers.push((k.clone(), v.expose().to_string()));
        }
        headers.push(("Idempotency-Key".into(), msg.message_id.clone()));
        if let Some(secret) = &self.secret {
            headers.push(("X-Loa-Timestamp".into(), unix_time.to_string()));
            headers.push((
                "X-Loa-Signature".into(),
                format!("v1={}", sign(secret.expose(), unix_time, &body)),
            ));
        }
        Ok(Prepared {
            method: self.method.to_string(),
            url: self.url.expose().to_string(),
            headers,
            body,
        })
    }
}

/// `hex(HMAC-SHA256(secret, "{timestamp}.{body}"))`, see the module doc.
pub fn sign(secret: &str, timestamp: u64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

pub(crate) struct WebhookChannel {
    spec: Spec,
    client: reqwest::Client,
    allow: Arc<AllowList>,
}

impl WebhookChannel {
    /// A channel whose requests go to public addresses and those `allow` permits.
    pub(crate) fn new(ch: &campaign::Channel, allow: Arc<AllowList>) -> anyhow::Result<Self> {
        let spec = Spec::new(ch)?;
        let client = client(spec.timeout, &allow)?;
        Ok(Self {
            spec,
            client,
            allow,
        })
    }

    async fn deliver(&self, msg: &Outgoing) -> Result<Receipt, ChannelError> {
        let req = self.spec.prepare(msg, unix_now())?;
        let response = execute(&self.client, &self.allow, &req, self.spec.timeout).await?;
        let status = response.status;
        if status.is_success() {
            return Ok(Receipt { provider_id: None });
        }
        Err(response.error(&msg.address))
    }
}

impl Channel for WebhookChannel {
    fn send<'a>(&'a self, msg: &'a Outgoing) -> BoxFuture<'a, Result<Receipt, ChannelError>> {
        Box::pin(self.deliver(msg))
    }
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_over_timestamp_dot_body() {
        // Computed independently: python3 -c 'import hmac,hashlib;
        // print(hmac.new(b"key", b"1.{}", hashlib.sha256).hexdigest())'
        assert_eq!(
            sign("key", 1, "{}"),
            "1ba6b8171186efc613e8bcc0cbdab2748f24984d7c5a84faa2637afa0e40d224"
        );
        assert_ne!(sign("key", 1, "{}"), sign("key", 2, "{}"));
    }

    #[test]
    fn urls_lose_passwords_and_keys() {
        assert_eq!(
            mask_url("https://u:pw@sms.example.vn/send?access-token=abc&to=1"),
            "https://u:%5BREDACTED%5D@sms.example.vn/send?access-token=%5BREDACTED%5D&to=1"
        );
        assert_eq!(
            mask_url("https://sms.example.vn/send"),
            "https://sms.example.vn/send"
        );
    }
}
