//! The HTTP exchange the outbound channels share (webhook, Zalo): one client with no
//! redirects, no proxy, bounded time and the outbound policy's resolver; one request sent
//! and a capped answer read, transport failures already classified. What the answer means
//! for the message is the channel's to say ([`Answer::error`] for the common case).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::{MAX_RESPONSE_BYTES, Prepared};
use crate::channel::ChannelError;
use crate::channel::classify;
use crate::channel::outbound::{self, AllowList};

/// The HTTP client every outbound channel uses: no redirects, no proxy, bounded time, and
/// only to the addresses `allow` permits once names are resolved ([`outbound`]).
pub(crate) fn client(timeout: Duration, allow: &Arc<AllowList>) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(outbound::Resolver::new(Arc::clone(allow))))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("loa/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("cannot build the HTTP client")
}

/// A response, read up to [`MAX_RESPONSE_BYTES`].
pub(crate) struct Answer {
    pub status: reqwest::StatusCode,
    pub location_host: Option<String>,
    pub retry_after: Option<Duration>,
    pub body: Vec<u8>,
}

impl Answer {
    /// The error for a non-2xx answer; `address` is masked in anything quoted from the body.
    pub(crate) fn error(&self, address: &str) -> ChannelError {
        let status = self.status.as_u16();
        if self.status.is_redirection() {
            let to = self.location_host.as_deref().unwrap_or("an unknown host");
            return ChannelError::Permanent {
                message: format!(
                    "HTTP {status}: redirect to {to} not followed; put the final URL in the channel"
                ),
                code: Some(status.to_string()),
                no_account: false,
            };
        }
        let mut detail: String = String::from_utf8_lossy(&self.body)
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect();
        if status == 410 {
            detail = format!("the endpoint is gone; disable or fix the channel. {detail}");
        }
        classify::http_status(status, self.retry_after, detail.trim()).masking(address)
    }
}

/// Sends `req` and reads a capped answer; transport failures are already classified. A
/// target `allow` refuses fails permanently before anything is sent.
pub(crate) async fn execute(
    client: &reqwest::Client,
    allow: &AllowList,
    req: &Prepared,
    timeout: Duration,
) -> Result<Answer, ChannelError> {
    // IP literals never reach the client's resolver ([`outbound`]).
    outbound::check_url(&req.url, allow).map_err(|r| ChannelError::permanent(r.to_string()))?;
    let method = reqwest::Method::from_bytes(req.method.as_bytes())
        .map_err(|_| ChannelError::permanent(format!("bad HTTP method {:?}", req.method)))?;
    let host = host_of(&req.url);
    let sent = client
        .request(method, &req.url)
        .headers(header_map(req)?)
        .body(req.body.clone())
        .send()
        .await;
    let response = sent.map_err(|e| transport_error(&e, &host, timeout))?;
    Ok(Answer::read(response, &req.url).await)
}

/// `req`'s headers as reqwest takes them; one that HTTP cannot carry fails the message.
fn header_map(req: &Prepared) -> Result<HeaderMap, ChannelError> {
    let mut headers = HeaderMap::new();
    for (k, v) in &req.headers {
        let name = HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| ChannelError::permanent(format!("bad header name {k:?}")))?;
        let value = HeaderValue::from_str(v)
            .map_err(|_| ChannelError::permanent(format!("header {k:?} cannot be sent")))?;
        headers.append(name, value);
    }
    Ok(headers)
}

impl Answer {
    /// The status, the headers an error names, and at most [`MAX_RESPONSE_BYTES`] of the
    /// body of `response` to a request to `url`.
    async fn read(mut response: reqwest::Response, url: &str) -> Answer {
        let status = response.status();
        let header = |name: reqwest::header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let location_host = header(reqwest::header::LOCATION).map(|l| {
            url::Url::parse(url)
                .and_then(|base| base.join(&l))
                .ok()
                .and_then(|u| u.host_str().map(str::to_string))
                .unwrap_or_else(|| "an unparsable Location".into())
        });
        let retry_after = header(reqwest::header::RETRY_AFTER)
            .and_then(|v| classify::retry_after(&v, SystemTime::now()));
        let mut body = Vec::new();
        while body.len() < MAX_RESPONSE_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let room = MAX_RESPONSE_BYTES - body.len();
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
                Ok(None) => break,
                // The status line is what counts; a body cut short changes nothing.
                Err(_) => break,
            }
        }
        Answer {
            status,
            location_host,
            retry_after,
            body,
        }
    }
}

/// The host of `url`, for messages that must not carry the URL (it may hold a key).
pub(crate) fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| "the endpoint".into())
}

fn transport_error(e: &reqwest::Error, host: &str, timeout: Duration) -> ChannelError {
    if let Some(refused) = outbound::refusal_in(e) {
        return ChannelError::permanent(refused.to_string());
    }
    if e.is_timeout() {
        return ChannelError::transient(format!(
            "{host} did not answer within {} s",
            timeout.as_secs_f64()
        ));
    }
    // reqwest's own message repeats the URL; keep only the causes.
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        causes.push(s.to_string());
        source = s.source();
    }
    let what = if e.is_connect() {
        "cannot connect to"
    } else {
        "request failed to"
    };
    ChannelError::transient(format!("{what} {host}: {}", causes.join(": ")))
}
