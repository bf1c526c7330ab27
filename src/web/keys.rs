//! The secrets the HTTP side verifies with, and which callback routes are switched on.
//!
//! Callback routes are off unless enabled by name (`LOA_CALLBACKS=zalo,webhook/sms`), and
//! an enabled route must have its key: [`Keys::check`] refuses the configuration
//! otherwise, and the daemon must not start (fail-closed
//! verifiers, docs/reliability.md#r12). Even unchecked, a route without a key accepts nothing.
//!
//! - `/callbacks/zalo`: `LOA_ZALO_CALLBACK_KEY` (the OA secret key that Zalo's
//!   `X-ZEvent-Signature` is computed with; `LOA_ZALO_CALLBACK_KEY_PREVIOUS` during a
//!   change of key) and optionally `LOA_ZALO_APP_ID` to accept only that app's events.
//! - `/callbacks/webhook/<channel>`: the `secret` of the webhook channel `<channel>` in
//!   every campaign that has one (the same secret loa signs its own requests with, so one
//!   loa can relay receipts to another), as the campaigns are loaded now: a hot reload
//!   that adds, changes or removes such a secret takes effect at the next request
//!   ([`Keys::webhook_secrets`]).
//! - `/unsubscribe/<token>`: `LOA_UNSUBSCRIBE_KEY`, or a random key kept in the ledger
//!   ([`unsubscribe_key`]).
//! - `/metrics`: `LOA_METRICS_TOKEN`, optional.
//! - the dashboard (`/login`, `/`): `LOA_ADMIN_TOKEN`, at least 16 characters; off without.
//!
//! Every key is a [`Secret`]: it prints as `[REDACTED]`.

use std::collections::BTreeMap;

use anyhow::Context as _;

use crate::campaign::{Campaign, ChannelKind, Secret};
use crate::store::{Millis, Store};

/// Where the unsubscribe key is kept when the environment does not give one.
const UNSUBSCRIBE_KV: &str = "web.unsubscribe_key";

/// A configuration the daemon must refuse to start with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeysError {
    #[error(
        "the callback route /callbacks/zalo is enabled but has no key: set LOA_ZALO_CALLBACK_KEY"
    )]
    ZaloWithoutKey,
    #[error(
        "the callback route /callbacks/webhook/{0} is enabled but the webhook channel {0:?} \
         has no `secret` in any campaign"
    )]
    WebhookWithoutSecret(String),
    #[error("LOA_CALLBACKS names {0:?}: expected `zalo` or `webhook/<channel>`")]
    UnknownRoute(String),
    #[error("LOA_ADMIN_TOKEN must be at least 16 characters")]
    WeakAdminToken,
    #[error("an empty key was given for {0}")]
    EmptyKey(&'static str),
}

/// The Zalo route's keys.
#[derive(Clone, Debug, Default)]
pub(super) struct ZaloKeys {
    pub(super) keys: Vec<Secret>,
    pub(super) app_id: Option<String>,
    /// The `zalo_zns` channels of the campaigns the keys were made from: the only
    /// messages a Zalo receipt may move.
    pub(super) channels: Vec<String>,
}

/// What [`Keys::from_campaigns`] reads from the environment; see the module docs.
#[derive(Clone, Debug, Default)]
pub struct KeysEnv {
    /// Callback routes to switch on: `zalo`, `webhook/<channel>`.
    pub callbacks: Vec<String>,
    pub zalo_keys: Vec<Secret>,
    pub zalo_app_id: Option<String>,
    pub unsubscribe_key: Option<Secret>,
    pub metrics_token: Option<Secret>,
    pub admin_token: Option<Secret>,
}

impl KeysEnv {
    /// The variables [`KeysEnv::from_lookup`] reads.
    pub const VARIABLES: [&'static str; 7] = [
        "LOA_CALLBACKS",
        "LOA_ZALO_CALLBACK_KEY",
        "LOA_ZALO_CALLBACK_KEY_PREVIOUS",
        "LOA_ZALO_APP_ID",
        "LOA_UNSUBSCRIBE_KEY",
        "LOA_METRICS_TOKEN",
        "LOA_ADMIN_TOKEN",
    ];

    /// Reads `LOA_CALLBACKS`, `LOA_ZALO_CALLBACK_KEY`, `LOA_ZALO_CALLBACK_KEY_PREVIOUS`,
    /// `LOA_ZALO_APP_ID`, `LOA_UNSUBSCRIBE_KEY`, `LOA_METRICS_TOKEN` and `LOA_ADMIN_TOKEN`
    /// through `var` ([`crate::campaign::env::lookup`] in the daemon: each may also come
    /// from the file its `_FILE` variable names).
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> KeysEnv {
        let callbacks = var("LOA_CALLBACKS")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let zalo_keys = ["LOA_ZALO_CALLBACK_KEY", "LOA_ZALO_CALLBACK_KEY_PREVIOUS"]
            .into_iter()
            .filter_map(&var)
            .map(Secret::new)
            .collect();
        KeysEnv {
            callbacks,
            zalo_keys,
            zalo_app_id: var("LOA_ZALO_APP_ID").filter(|s| !s.is_empty()),
            unsubscribe_key: var("LOA_UNSUBSCRIBE_KEY").map(Secret::new),
            metrics_token: var("LOA_METRICS_TOKEN").map(Secret::new),
            admin_token: var("LOA_ADMIN_TOKEN").map(Secret::new),
        }
    }
}

/// Every key of the HTTP side. Routes absent here are off (404).
#[derive(Clone, Debug, Default)]
pub struct Keys {
    pub(super) unsubscribe: Option<Secret>,
    pub(super) metrics_token: Option<Secret>,
    pub(super) admin_token: Option<Secret>,
    /// Some = the route is on (with possibly no key: then it refuses everything).
    pub(super) zalo: Option<ZaloKeys>,
    /// Channel name → its secrets; present = the route is on.
    pub(super) webhooks: BTreeMap<String, Vec<Secret>>,
    /// Route names that matched nothing, kept for [`Keys::check`].
    unknown: Vec<String>,
}

impl Keys {
    /// Every route off.
    pub fn new() -> Keys {
        Keys::default()
    }

    pub fn with_unsubscribe_key(mut self, key: Secret) -> Keys {
        self.unsubscribe = Some(key);
        self
    }

    pub fn with_metrics_token(mut self, token: Secret) -> Keys {
        self.metrics_token = Some(token);
        self
    }

    /// Switches the dashboard (`/login`, `/`) on.
    pub fn with_admin_token(mut self, token: Secret) -> Keys {
        self.admin_token = Some(token);
        self
    }

    /// Switches `/callbacks/zalo` on with `keys` (any may sign; empty = refuses all).
    pub fn with_zalo(mut self, keys: Vec<Secret>, app_id: Option<String>) -> Keys {
        let channels = self.zalo.take().map(|z| z.channels).unwrap_or_default();
        self.zalo = Some(ZaloKeys {
            keys,
            app_id,
            channels,
        });
        self
    }

    /// The channels whose messages Zalo receipts may move when the daemon's workspace is
    /// not known (tests); [`Keys::from_campaigns`] sets the campaigns' `zalo_zns` channels.
    pub fn with_zalo_channels(mut self, channels: &[&str]) -> Keys {
        if let Some(zalo) = &mut self.zalo {
            zalo.channels = channels.iter().map(|c| (*c).to_owned()).collect();
        }
        self
    }

    /// Switches `/callbacks/webhook/{channel}` on with `secrets` (empty = refuses all).
    pub fn with_webhook(mut self, channel: &str, secrets: Vec<Secret>) -> Keys {
        self.webhooks.insert(channel.to_owned(), secrets);
        self
    }

    /// The keys for the workspace's `campaigns` and `env`: each enabled
    /// `webhook/<channel>` route gets the `secret` of every webhook channel of that name.
    pub fn from_campaigns(campaigns: &[Campaign], env: &KeysEnv) -> Keys {
        let mut keys = Keys {
            unsubscribe: env.unsubscribe_key.clone(),
            metrics_token: env.metrics_token.clone(),
            admin_token: env.admin_token.clone(),
            ..Keys::default()
        };
        for route in &env.callbacks {
            if route == "zalo" {
                let channels = zalo_channels(campaigns);
                let channels: Vec<&str> = channels.iter().map(String::as_str).collect();
                keys = keys
                    .with_zalo(env.zalo_keys.clone(), env.zalo_app_id.clone())
                    .with_zalo_channels(&channels);
            } else if let Some(channel) = route.strip_prefix("webhook/") {
                keys = keys.with_webhook(channel, secrets_of(campaigns, channel));
            } else {
                keys.unknown.push(route.clone());
            }
        }
        keys
    }

    /// Refuses a configuration with an enabled route that has no key, an empty key, or an
    /// unknown route name. Call it before serving; on error the daemon must not start.
    pub fn check(&self) -> Result<(), KeysError> {
        if let Some(route) = self.unknown.first() {
            return Err(KeysError::UnknownRoute(route.clone()));
        }
        if let Some(zalo) = &self.zalo {
            if zalo.keys.is_empty() {
                return Err(KeysError::ZaloWithoutKey);
            }
            if zalo.keys.iter().any(|k| k.expose().is_empty()) {
                return Err(KeysError::EmptyKey("/callbacks/zalo"));
            }
        }
        for (channel, secrets) in &self.webhooks {
            if secrets.is_empty() {
                return Err(KeysError::WebhookWithoutSecret(channel.clone()));
            }
            if secrets.iter().any(|k| k.expose().is_empty()) {
                return Err(KeysError::EmptyKey("/callbacks/webhook"));
            }
        }
        let empty = |k: &Option<Secret>| k.as_ref().is_some_and(|k| k.expose().is_empty());
        if empty(&self.unsubscribe) {
            return Err(KeysError::EmptyKey("LOA_UNSUBSCRIBE_KEY"));
        }
        if empty(&self.metrics_token) {
            return Err(KeysError::EmptyKey("LOA_METRICS_TOKEN"));
        }
        if self
            .admin_token
            .as_ref()
            .is_some_and(|t| t.expose().chars().count() < 16)
        {
            return Err(KeysError::WeakAdminToken);
        }
        Ok(())
    }

    /// The secrets `/callbacks/webhook/{channel}` verifies with, `None` when the route is
    /// off: those of `campaigns` when given (the campaigns in force now), else those of
    /// the campaigns the keys were made from. Empty: the route refuses everything.
    ///
    /// [`Keys::check`] refused empty secrets at start; one that a later edit brings in is
    /// left out here, so that nobody can sign with an empty key.
    pub fn webhook_secrets(
        &self,
        channel: &str,
        campaigns: Option<&[Campaign]>,
    ) -> Option<Vec<Secret>> {
        let at_start = self.webhooks.get(channel)?;
        Some(match campaigns {
            Some(campaigns) => secrets_of(campaigns, channel)
                .into_iter()
                .filter(|s| !s.expose().is_empty())
                .collect(),
            None => at_start.clone(),
        })
    }

    /// The channels Zalo receipts may move: the `zalo_zns` channels of `campaigns` when
    /// given (the campaigns in force now), else those the keys were made with.
    pub fn zalo_channels(&self, campaigns: Option<&[Campaign]>) -> Vec<String> {
        match (campaigns, &self.zalo) {
            (Some(campaigns), _) => zalo_channels(campaigns),
            (None, Some(zalo)) => zalo.channels.clone(),
            (None, None) => Vec::new(),
        }
    }

    pub(super) fn admin_token(&self) -> Option<&Secret> {
        self.admin_token.as_ref()
    }

    pub(super) fn metrics_token(&self) -> Option<&Secret> {
        self.metrics_token.as_ref()
    }

    /// The key unsubscribe tokens are signed with, if set.
    pub fn unsubscribe(&self) -> Option<&Secret> {
        self.unsubscribe.as_ref()
    }
}

/// The names of the `zalo_zns` channels of `campaigns`, sorted, once each.
fn zalo_channels(campaigns: &[Campaign]) -> Vec<String> {
    let names: std::collections::BTreeSet<&String> = campaigns
        .iter()
        .flat_map(|c| c.channels.iter())
        .filter(|(_, ch)| ch.kind == ChannelKind::ZaloZns)
        .map(|(name, _)| name)
        .collect();
    names.into_iter().cloned().collect()
}

/// The `secret` of every webhook channel named `channel` in `campaigns`.
fn secrets_of(campaigns: &[Campaign], channel: &str) -> Vec<Secret> {
    campaigns
        .iter()
        .filter_map(|c| c.channels.get(channel))
        .filter(|ch| ch.kind == ChannelKind::Webhook)
        .filter_map(|ch| ch.secret.clone())
        .collect()
}

/// The unsubscribe key: `configured` when given, else the random one kept in the ledger,
/// created (32 bytes from the operating system, hex) on first use. Links stay valid
/// across restarts either way.
pub async fn unsubscribe_key(
    store: &Store,
    configured: Option<Secret>,
    now: Millis,
) -> anyhow::Result<Secret> {
    if let Some(key) = configured {
        return Ok(key);
    }
    if let Some(hex) = store.kv_get(UNSUBSCRIBE_KV).await? {
        return Ok(Secret::new(hex));
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("drawing a random unsubscribe key")?;
    let key = hex::encode(bytes);
    store.kv_put(UNSUBSCRIBE_KV, &key, now).await?;
    Ok(Secret::new(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listed_variables_are_exactly_those_read() {
        let asked = std::sync::Mutex::new(Vec::new());
        KeysEnv::from_lookup(|k| {
            asked.lock().unwrap().push(k.to_owned());
            None
        });
        let mut asked = asked.into_inner().unwrap();
        asked.sort();
        let mut listed = KeysEnv::VARIABLES.map(str::to_owned).to_vec();
        listed.sort();
        assert_eq!(asked, listed);
    }

    fn env(callbacks: &[&str]) -> KeysEnv {
        KeysEnv {
            callbacks: callbacks.iter().map(|s| s.to_string()).collect(),
            ..KeysEnv::default()
        }
    }

    #[test]
    fn every_route_is_off_by_default_and_that_passes_the_check() {
        let keys = Keys::from_campaigns(&[], &KeysEnv::default());
        assert!(keys.zalo.is_none() && keys.webhooks.is_empty());
        assert_eq!(keys.check(), Ok(()));
    }

    #[test]
    fn an_enabled_route_without_its_key_is_refused() {
        let keys = Keys::from_campaigns(&[], &env(&["zalo"]));
        assert_eq!(keys.check(), Err(KeysError::ZaloWithoutKey));
        let keys = Keys::from_campaigns(&[], &env(&["webhook/sms"]));
        assert_eq!(
            keys.check(),
            Err(KeysError::WebhookWithoutSecret("sms".into()))
        );
        let keys = Keys::from_campaigns(&[], &env(&["smtp"]));
        assert_eq!(keys.check(), Err(KeysError::UnknownRoute("smtp".into())));
        let keys = Keys::new().with_zalo(vec![Secret::new("")], None);
        assert_eq!(keys.check(), Err(KeysError::EmptyKey("/callbacks/zalo")));
    }

    #[test]
    fn the_environment_is_read_by_name_and_keys_never_print() {
        let vars = |k: &str| match k {
            "LOA_CALLBACKS" => Some("zalo, webhook/sms,".to_string()),
            "LOA_ZALO_CALLBACK_KEY" => Some("zalo-key-canary".to_string()),
            "LOA_ZALO_CALLBACK_KEY_PREVIOUS" => Some("zalo-old-canary".to_string()),
            _ => None,
        };
        let e = KeysEnv::from_lookup(vars);
        assert_eq!(e.callbacks, ["zalo", "webhook/sms"]);
        assert_eq!(e.zalo_keys.len(), 2);
        assert_eq!(e.unsubscribe_key, None);
        let keys = Keys::from_campaigns(&[], &e);
        let printed = format!("{e:?} {keys:?}");
        assert!(!printed.contains("canary"), "{printed}");
    }

    #[tokio::test]
    async fn the_unsubscribe_key_is_drawn_once_and_kept_in_the_ledger() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("loa.db").display());
        let store = Store::open(&url).await.unwrap();
        let first = unsubscribe_key(&store, None, 1).await.unwrap();
        let again = unsubscribe_key(&store, None, 2).await.unwrap();
        assert_eq!(first, again);
        assert_eq!(first.expose().len(), 64);
        let given = unsubscribe_key(&store, Some(Secret::new("k")), 3)
            .await
            .unwrap();
        assert_eq!(given.expose(), "k");
    }
}
