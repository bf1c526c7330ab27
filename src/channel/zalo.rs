//! The Zalo ZNS channel: a template message to a phone number (Zalo ZNS API "Send ZNS";
//! docs/campaign-file.md#zalo_zns).
//!
//! `POST {endpoint}/message/template` with the bare header `access_token: <OA token>` and
//! the JSON body `{"phone", "template_id", "template_data", "tracking_id"}`; `endpoint`
//! defaults to `https://business.openapi.zalo.me`. `tracking_id` is the message id, echoed
//! in Zalo's delivery events. Zalo answers HTTP 200 for application errors too: the integer
//! `error` in the body decides (0 = accepted, `data.msg_id` is the provider id), classified
//! by [`super::classify::zalo`].
//!
//! Tokens (docs/operations.md#zalo-tokens): the OA access token lives 25 h; on −124 the channel
//! refreshes it once with `POST {oauth}/v4/oa/access_token` (form `refresh_token`, `app_id`,
//! `grant_type=refresh_token`; header `secret_key: <app secret>`) and sends again. The refresh
//! token is single-use, so the new one is written to the [`TokenStore`] **before** the new
//! access token is used; refreshes are single-flight. `oauth` is `https://oauth.zaloapp.com`,
//! or the channel's `endpoint` when one is set (a relay or a test server serves both paths).
//!
//! Store keys: `zalo/<app_id or channel>/{access_token, refresh_token, seed}`. `seed` is a
//! hash of the tokens configured in the environment: while it matches, the stored (newer)
//! tokens win; when an operator puts fresh tokens in the environment (re-consent), they win.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use futures::future::BoxFuture;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::classify::{self, ZaloClass};
use super::outbound::AllowList;
use super::webhook::{self, Prepared};
use super::{Channel, ChannelError, Outgoing, Receipt, TokenStore, check_message_id, mask_address};
use crate::campaign::{self, Secret};

pub(crate) const DEFAULT_ENDPOINT: &str = "https://business.openapi.zalo.me";
pub(crate) const DEFAULT_OAUTH: &str = "https://oauth.zaloapp.com";

/// Builds the ZNS request; shared with the outbox.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    send_url: String,
}

impl Spec {
    pub(crate) fn new(ch: &campaign::Channel) -> anyhow::Result<Self> {
        let base = base(ch)?;
        Ok(Self {
            send_url: format!("{base}/message/template"),
        })
    }

    /// The request for `msg`, with `token` in the `access_token` header.
    pub(crate) fn prepare(&self, msg: &Outgoing, token: &str) -> Result<Prepared, ChannelError> {
        check_message_id(&msg.message_id)?;
        let phone = msg.address.trim();
        let is_phone = phone.starts_with("84")
            && (10..=12).contains(&phone.len())
            && phone.bytes().all(|b| b.is_ascii_digit());
        if !is_phone {
            return Err(ChannelError::Permanent {
                message: format!("{} is not a phone number 84xxxxxxxxx", mask_address(phone)),
                code: None,
                no_account: true,
            });
        }
        let zns = msg.rendered.zns.as_ref().ok_or_else(|| {
            ChannelError::permanent("nothing rendered for Zalo (no zns.yaml parameters)")
        })?;
        let body = json!({
            "phone": phone,
            "template_id": zns.template_id,
            "template_data": zns.params,
            "tracking_id": msg.message_id,
        });
        Ok(Prepared {
            method: "POST".into(),
            url: self.send_url.clone(),
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("access_token".into(), token.to_string()),
            ],
            body: body.to_string(),
        })
    }
}

fn base(ch: &campaign::Channel) -> anyhow::Result<String> {
    let base = ch.endpoint.as_deref().unwrap_or(DEFAULT_ENDPOINT);
    let u = url::Url::parse(base).map_err(|e| anyhow::anyhow!("bad Zalo endpoint: {e}"))?;
    anyhow::ensure!(
        matches!(u.scheme(), "http" | "https"),
        "Zalo endpoint must be http or https"
    );
    Ok(base.trim_end_matches('/').to_string())
}

/// The tokens in use, and whether a refreshed pair still has to reach the store.
struct Tokens {
    access: String,
    refresh: Option<String>,
    unsaved: bool,
}

pub(crate) struct ZaloChannel {
    spec: Spec,
    oauth_url: String,
    client: reqwest::Client,
    allow: Arc<AllowList>,
    timeout: Duration,
    env_access: Secret,
    env_refresh: Option<Secret>,
    app_id: Option<String>,
    app_secret: Option<Secret>,
    store: Arc<dyn TokenStore>,
    key: String,
    /// Loaded on first use; a tokio mutex so that refreshes are single-flight.
    tokens: tokio::sync::Mutex<Option<Tokens>>,
}

/// Zalo's answer to a send.
struct Reply {
    error: i64,
    message: String,
    msg_id: Option<String>,
}

impl ZaloChannel {
    /// A channel whose requests go to public addresses and those `allow` permits.
    pub(crate) fn new(
        ch: &campaign::Channel,
        store: Arc<dyn TokenStore>,
        allow: Arc<AllowList>,
    ) -> anyhow::Result<Self> {
        let spec = Spec::new(ch)?;
        let oauth = match &ch.endpoint {
            Some(_) => base(ch)?,
            None => DEFAULT_OAUTH.to_string(),
        };
        let owner = ch.app_id.clone().unwrap_or_else(|| ch.name.clone());
        Ok(Self {
            spec,
            oauth_url: format!("{oauth}/v4/oa/access_token"),
            client: webhook::client(ch.timeout, &allow)?,
            allow,
            timeout: ch.timeout,
            env_access: ch
                .access_token
                .clone()
                .context("a zalo_zns channel needs `access_token`")?,
            env_refresh: ch.refresh_token.clone(),
            app_id: ch.app_id.clone(),
            app_secret: ch.app_secret.clone(),
            store,
            key: format!("zalo/{owner}"),
            tokens: tokio::sync::Mutex::new(None),
        })
    }

    fn key(&self, what: &str) -> String {
        format!("{}/{what}", self.key)
    }

    /// A short hash of the configured tokens (never the tokens themselves).
    fn seed(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.env_access.expose());
        h.update([0]);
        h.update(self.env_refresh.as_ref().map_or("", |s| s.expose()));
        hex::encode(&h.finalize()[..8])
    }

    fn store_error(e: anyhow::Error) -> ChannelError {
        ChannelError::transient(format!("token store: {e:#}"))
    }

    /// The access token to use now, loading the stored pair on first use.
    async fn access_token(&self) -> Result<String, ChannelError> {
        let mut guard = self.tokens.lock().await;
        if guard.is_none() {
            *guard = Some(self.load().await?);
        }
        let tokens = guard.as_mut().expect("loaded");
        if tokens.unsaved {
            self.persist(tokens).await?;
        }
        Ok(tokens.access.clone())
    }

    async fn load(&self) -> Result<Tokens, ChannelError> {
        let seed = self.seed();
        let stored_seed = self
            .store
            .get(&self.key("seed"))
            .await
            .map_err(Self::store_error)?;
        if stored_seed.as_deref() == Some(seed.as_str()) {
            let access = self.store.get(&self.key("access_token")).await;
            let refresh = self.store.get(&self.key("refresh_token")).await;
            let access = access.map_err(Self::store_error)?;
            let refresh = refresh.map_err(Self::store_error)?;
            return Ok(Tokens {
                access: access.unwrap_or_else(|| self.env_access.expose().to_string()),
                refresh: refresh.or_else(|| self.env_refresh.as_ref().map(|s| s.expose().into())),
                unsaved: false,
            });
        }
        let mut tokens = Tokens {
            access: self.env_access.expose().to_string(),
            refresh: self.env_refresh.as_ref().map(|s| s.expose().to_string()),
            unsaved: true,
        };
        self.persist(&mut tokens).await?;
        self.store
            .put(&self.key("seed"), &seed)
            .await
            .map_err(Self::store_error)?;
        Ok(tokens)
    }

    /// Writes the refresh token first, then the access token.
    async fn persist(&self, tokens: &mut Tokens) -> Result<(), ChannelError> {
        let result = async {
            if let Some(refresh) = &tokens.refresh {
                self.store.put(&self.key("refresh_token"), refresh).await?;
            }
            self.store
                .put(&self.key("access_token"), &tokens.access)
                .await
        }
        .await;
        match result {
            Ok(()) => {
                tokens.unsaved = false;
                Ok(())
            }
            Err(e) => Err(ChannelError::Paused {
                message: format!("cannot store the Zalo tokens, not using them: {e:#}"),
                code: None,
                until: None,
            }),
        }
    }

    /// Replaces `rejected` by a fresh access token (once per rejected token, single-flight).
    async fn refresh(&self, rejected: &str) -> Result<String, ChannelError> {
        let mut guard = self.tokens.lock().await;
        let tokens = guard.as_mut().expect("loaded before any send");
        if tokens.access != rejected {
            // Another send already refreshed it.
            if tokens.unsaved {
                self.persist(tokens).await?;
            }
            return Ok(tokens.access.clone());
        }
        let (Some(refresh), Some(app_id), Some(secret)) =
            (&tokens.refresh, &self.app_id, &self.app_secret)
        else {
            return Err(ChannelError::Paused {
                message: "Zalo access token expired (-124) and the channel has no \
                          refresh_token, app_id and app_secret to renew it"
                    .into(),
                code: Some("-124".into()),
                until: None,
            });
        };
        let req = self.refresh_request(refresh, app_id, secret);
        let answer = webhook::execute(&self.client, &self.allow, &req, self.timeout).await?;
        let (access, new_refresh) = new_pair(&answer)?;
        // Single-use refresh token: the old one is dead now. Keep the new pair in memory
        // whatever happens, and use it only once it is stored.
        tokens.access = access;
        tokens.refresh = Some(new_refresh);
        tokens.unsaved = true;
        self.persist(tokens).await?;
        Ok(tokens.access.clone())
    }

    /// The OAuth request that trades `refresh` for a new pair of tokens.
    fn refresh_request(&self, refresh: &str, app_id: &str, secret: &Secret) -> Prepared {
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("refresh_token", refresh)
            .append_pair("app_id", app_id)
            .append_pair("grant_type", "refresh_token")
            .finish();
        Prepared {
            method: "POST".into(),
            url: self.oauth_url.clone(),
            headers: vec![
                (
                    "Content-Type".into(),
                    "application/x-www-form-urlencoded".into(),
                ),
                ("secret_key".into(), secret.expose().to_string()),
            ],
            body: form,
        }
    }

    async fn post(&self, msg: &Outgoing, token: &str) -> Result<Reply, ChannelError> {
        let req = self.spec.prepare(msg, token)?;
        let answer = webhook::execute(&self.client, &self.allow, &req, self.timeout).await?;
        if !answer.status.is_success() {
            return Err(answer.error(&msg.address));
        }
        let v: Value = serde_json::from_slice(&answer.body).map_err(|_| {
            ChannelError::transient("Zalo answered with something that is not JSON")
        })?;
        let error = match v.get("error") {
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        }
        .ok_or_else(|| ChannelError::transient("Zalo's answer has no `error` code"))?;
        let message = v
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .replace(&msg.address, &mask_address(&msg.address));
        let msg_id = v.pointer("/data/msg_id").and_then(|m| match m {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        });
        Ok(Reply {
            error,
            message,
            msg_id,
        })
    }

    async fn deliver(&self, msg: &Outgoing) -> Result<Receipt, ChannelError> {
        self.spec.prepare(msg, "")?; // refuse bad input before touching tokens
        let token = self.access_token().await?;
        let mut reply = self.post(msg, &token).await?;
        if reply.error != 0 && classify::zalo_class(reply.error) == ZaloClass::RefreshToken {
            let fresh = self.refresh(&token).await?;
            reply = self.post(msg, &fresh).await?;
            if reply.error == -124 {
                return Err(ChannelError::Paused {
                    message: format!("Zalo refused a freshly refreshed token: {}", reply.message),
                    code: Some("-124".into()),
                    until: None,
                });
            }
        }
        if reply.error == 0 {
            return Ok(Receipt {
                provider_id: reply.msg_id,
            });
        }
        Err(classify::zalo(reply.error, &reply.message, Utc::now()))
    }
}

/// The new access and refresh tokens of Zalo's answer to a refresh. A refusal pauses the
/// channel (an OA admin must grant access again); a server error is retried as any other.
fn new_pair(answer: &webhook::Answer) -> Result<(String, String), ChannelError> {
    let parsed: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    let field = |k: &str| parsed.get(k).and_then(Value::as_str).map(str::to_string);
    if let (Some(access), Some(refresh)) = (field("access_token"), field("refresh_token")) {
        return Ok((access, refresh));
    }
    if !answer.status.is_success() && !answer.status.is_client_error() {
        return Err(answer.error(""));
    }
    let why = field("error_description")
        .or_else(|| field("message"))
        .or_else(|| field("error_name"))
        .unwrap_or_else(|| format!("HTTP {}", answer.status.as_u16()));
    Err(ChannelError::Paused {
        message: format!(
            "Zalo refused to refresh the access token ({why}); an OA admin must grant access again"
        ),
        code: parsed.get("error").map(|e| e.to_string()),
        until: None,
    })
}

impl Channel for ZaloChannel {
    fn send<'a>(&'a self, msg: &'a Outgoing) -> BoxFuture<'a, Result<Receipt, ChannelError>> {
        Box::pin(self.deliver(msg))
    }
}
