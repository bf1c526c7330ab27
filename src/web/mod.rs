//! The daemon's HTTP side (docs/http.md): health, metrics, delivery callbacks and unsubscribe
//! links, as axum routers over one shared [`WebState`].
//!
//! - [`health`]: `GET /healthz` — 200 or 503 with a reason ([`HealthThresholds`]).
//! - [`metrics`]: `GET /metrics` — Prometheus text; [`Metrics`] are the counters the
//!   dispatcher bumps.
//! - [`figures`]: the ledger's counts by state for `/metrics` and the dashboard, counted
//!   once at a time and kept for a while when counting takes long.
//! - [`callback`]: `POST /callbacks/zalo`, `POST /callbacks/webhook/{channel}` — signed
//!   delivery receipts ([`signature`] verifies them), applied through the ledger.
//! - [`unsubscribe`]: `GET`/`POST /unsubscribe/{token}` — signed links
//!   ([`unsubscribe_token`]) that record suppressions.
//! - [`session`]: staff sessions (HttpOnly, SameSite=Strict cookie) with a CSRF token and
//!   the failed-login limit; [`session::Staff`] guards the dashboard's routes with the role
//!   each needs ([`ROUTES`]). [`login`]: `/login`, `/logout` — a staff account's name and
//!   password or, while no account exists, `LOA_ADMIN_TOKEN`.
//! - [`dashboard`]: `/`, `/campaigns/{id}` and its pause, resume and retry buttons — the
//!   staff dashboard (Vietnamese, or English with `?lang=en`), over the ledger and the
//!   loaded [`Workspace`] ([`WebState::with_workspace`]); while it is off,
//!   [`dashboard_off`] answers `/` with how to turn it on.
//! - [`keys`]: which secret each route verifies with; [`Keys::check`] refuses a route
//!   enabled without its key.
//! - [`error`]: [`WebError`], the one error type, and its answers.
//! - [`mod@start`]: [`start()`] — keys checked, unsubscribe key loaded, listener bound, server
//!   spawned: the one call `loa run` makes.
//! - [`listen`]: the server loop — header and request time, connections and the file
//!   descriptors they may take, all bounded; the stop bounded too ([`STOP_WITHIN`]).
//!
//! The web side never sends: it meets the rest of loa only through the [`Store`] (the
//! ledger), the [`Metrics`] it shares with the dispatcher, the webhook channels' secrets it
//! takes from the loaded campaigns ([`Keys::from_campaigns`], then the version in force
//! after each hot reload) and, for the dashboard, the loaded [`Workspace`]; the one file
//! it reads is a coverage audience's CSV (schools), on a blocking thread.
//! [`serve`] runs until its cancellation token fires, then lets requests in flight finish.

pub mod callback;
pub(crate) mod dashboard;
mod dashboard_off;
pub(crate) mod error;
pub mod figures;
pub(crate) mod health;
pub(crate) mod keys;
pub(crate) mod listen;
mod login;
pub(crate) mod metrics;
mod receipts;
pub(crate) mod session;
pub mod signature;
pub mod start;
#[cfg(test)]
mod tests;
pub(crate) mod unsubscribe;

use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};
use futures::StreamExt as _;
use tokio_util::sync::CancellationToken;

use crate::account::Role;
use crate::campaign::{Live, Workspace};
use crate::log_limit::LogLimit;
use crate::store::{Millis, Store};
pub(crate) use error::WebError;
pub use health::HealthThresholds;
pub use keys::{Keys, KeysEnv, unsubscribe_key};
pub(crate) use listen::STOP_WITHIN;
pub use metrics::Metrics;
pub(crate) use start::{Prepared, prepare};
pub use start::{WebConfig, start};
pub use unsubscribe::unsubscribe_token;

/// The clock the routes read: UTC epoch milliseconds.
pub(crate) type Clock = Arc<dyn Fn() -> Millis + Send + Sync>;

/// What every route shares. Cheap to clone.
#[derive(Clone)]
pub struct WebState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    metrics: Arc<Metrics>,
    keys: Keys,
    health: HealthThresholds,
    clock: Clock,
    sessions: Arc<session::Sessions>,
    /// The loaded campaigns as the daemon runs them now (hot reload replaces them), for
    /// the dashboard; its pages show less without them.
    workspace: Option<Arc<Live>>,
    /// Receipts on their way to the ledger, one transaction per burst.
    receipts: receipts::Receipts,
    /// The last count of messages by state.
    figures: figures::Figures,
    /// The log lines any client can cause, at most one per kind per 10 s.
    logs: Arc<LogLimit>,
}

impl WebState {
    /// State over `store`, sharing `metrics` with the dispatcher, verifying with `keys`;
    /// default health thresholds and the system clock.
    pub fn new(store: Store, metrics: Arc<Metrics>, keys: Keys) -> WebState {
        let clock: Clock = Arc::new(|| chrono::Utc::now().timestamp_millis());
        WebState {
            inner: Arc::new(Inner {
                store,
                metrics,
                keys,
                health: HealthThresholds::default(),
                clock,
                sessions: Arc::new(session::Sessions::new(false)),
                workspace: None,
                receipts: Default::default(),
                figures: Default::default(),
                logs: Arc::new(LogLimit::new(crate::log_limit::EVERY)),
            }),
        }
    }

    pub fn with_health(self, health: HealthThresholds) -> WebState {
        self.rebuild(|inner| inner.health = health)
    }

    /// Session cookies marked `Secure`: set it when the daemon is reached over HTTPS
    /// (its public URL starts with `https://`).
    pub fn with_secure_cookies(self, secure: bool) -> WebState {
        self.rebuild(|inner| inner.sessions = Arc::new(session::Sessions::new(secure)))
    }

    /// Another clock (tests).
    pub fn with_clock(self, clock: Clock) -> WebState {
        self.rebuild(|inner| inner.clock = clock)
    }

    /// The loaded workspace, for the dashboard's timeline, schedule and coverage.
    pub fn with_workspace(self, workspace: Arc<Workspace>) -> WebState {
        self.with_live(Arc::new(Live::new(workspace)))
    }

    /// The workspace as the running daemon replaces it on each good edit.
    pub fn with_live(self, live: Arc<Live>) -> WebState {
        self.rebuild(|inner| inner.workspace = Some(live))
    }

    fn rebuild(self, change: impl FnOnce(&mut Inner)) -> WebState {
        let old = &self.inner;
        let mut inner = Inner {
            store: old.store.clone(),
            metrics: Arc::clone(&old.metrics),
            keys: old.keys.clone(),
            health: old.health,
            clock: Arc::clone(&old.clock),
            sessions: Arc::clone(&old.sessions),
            workspace: old.workspace.clone(),
            receipts: old.receipts.clone(),
            figures: old.figures.clone(),
            logs: Arc::clone(&old.logs),
        };
        change(&mut inner);
        WebState {
            inner: Arc::new(inner),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub fn keys(&self) -> &Keys {
        &self.inner.keys
    }

    /// What `/callbacks/webhook/{channel}` verifies with: the secrets of the campaigns in
    /// force now when the daemon's workspace is known, else those at start.
    pub fn webhook_secrets(&self, channel: &str) -> Option<Vec<crate::campaign::Secret>> {
        let ws = self.workspace();
        self.inner
            .keys
            .webhook_secrets(channel, ws.as_ref().map(|ws| ws.campaigns.as_slice()))
    }

    /// The channels whose messages `/callbacks/zalo` may move: the `zalo_zns` channels of
    /// the campaigns in force now when the daemon's workspace is known, else at start.
    pub fn zalo_channels(&self) -> Vec<String> {
        let ws = self.workspace();
        self.inner
            .keys
            .zalo_channels(ws.as_ref().map(|ws| ws.campaigns.as_slice()))
    }

    /// Whether a log line of `kind` that a client caused may be written now: `Some(n)`
    /// with how many of that kind were left out since the last ([`crate::log_limit`]).
    pub fn log_line(&self, kind: &'static str) -> Option<u64> {
        self.inner.logs.admit(kind, self.now())
    }

    pub fn health(&self) -> HealthThresholds {
        self.inner.health
    }

    pub fn sessions(&self) -> &session::Sessions {
        &self.inner.sessions
    }

    /// The workspace in force now.
    pub fn workspace(&self) -> Option<Arc<Workspace>> {
        self.inner.workspace.as_ref().map(|l| l.current())
    }

    /// What the running daemon sends of `campaign` under four-eyes approval; `None` without
    /// a daemon, with approval off, or for a campaign that is not `active`.
    pub(crate) fn sending(&self, campaign: &str) -> Option<crate::campaign::Sending> {
        self.inner.workspace.as_ref()?.sending(campaign)
    }

    /// Whether the running daemon sends only approved versions (docs/approval.md).
    pub(crate) fn approval_on(&self) -> bool {
        self.inner
            .workspace
            .as_ref()
            .is_some_and(|l| l.approval_on())
    }

    /// Why the latest edit of the workspace was refused, while it is.
    pub fn refused_edit(&self) -> Option<String> {
        self.inner.workspace.as_ref().and_then(|l| l.refused())
    }

    pub fn now(&self) -> Millis {
        (self.inner.clock)()
    }

    /// The ledger's messages by campaign, channel and state, as [`figures`] keeps them.
    pub async fn counts(&self) -> anyhow::Result<figures::Reading<Vec<crate::store::StateCount>>> {
        self.inner.figures.counts(&self.inner.store).await
    }

    /// What the page of `campaign` shows of its messages, as [`figures`] keeps it.
    pub async fn campaign_figures(
        &self,
        campaign: &str,
        failures: u32,
    ) -> anyhow::Result<figures::Reading<figures::CampaignFigures>> {
        self.inner
            .figures
            .campaign(&self.inner.store, campaign, failures)
            .await
    }

    /// Counts again at the next [`WebState::counts`]: after a change made here.
    pub async fn forget_counts(&self) {
        self.inner.figures.forget().await;
    }

    /// When the oldest message due at `now` became due. With the daemon's workspace known,
    /// an index seek for each of its channels, however long the backlog; without it, a
    /// walk over every pending message (a second with 2,000,000 of them).
    pub async fn oldest_due(&self, now: Millis) -> anyhow::Result<Option<Millis>> {
        let store = &self.inner.store;
        match self.workspace() {
            Some(ws) => {
                let channels: Vec<(&str, &str)> = ws
                    .campaigns
                    .iter()
                    .flat_map(|c| c.channels.keys().map(|ch| (c.id.as_str(), ch.as_str())))
                    .collect();
                store.oldest_due_among(now, &channels).await
            }
            None => store.oldest_due(now).await,
        }
    }

    /// Applies a delivery receipt, group-committed with the others arriving meanwhile.
    pub(crate) async fn apply_receipt(
        &self,
        receipt: &crate::store::DeliveryReceipt<'_>,
        now: Millis,
    ) -> anyhow::Result<crate::store::ReceiptOutcome> {
        self.inner
            .receipts
            .apply(&self.inner.store, receipt, now)
            .await
    }
}

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone: `/healthz`, the login form.
    Public,
    /// A bearer token when one is configured (`LOA_METRICS_TOKEN`).
    Token,
    /// A valid signature by the route's key.
    Signed,
    /// A signed unsubscribe link.
    Link,
    /// A staff session whose role is at least this one (and a CSRF token for changes);
    /// a lower role is answered 403 (docs/accounts.md#roles).
    Staff(Role),
}

/// Every route [`router`] serves — method, path, who may call it — so that tests can walk
/// them all (docs/reliability.md#r14). A route added to a router belongs here too.
pub const ROUTES: &[(&str, &str, Access)] = &[
    ("GET", "/healthz", Access::Public),
    ("GET", "/metrics", Access::Token),
    ("POST", "/callbacks/zalo", Access::Signed),
    ("POST", "/callbacks/webhook/{channel}", Access::Signed),
    ("GET", "/unsubscribe/{token}", Access::Link),
    ("POST", "/unsubscribe/{token}", Access::Link),
    ("GET", "/login", Access::Public),
    ("POST", "/login", Access::Public),
    ("POST", "/logout", Access::Staff(Role::Viewer)),
    ("GET", "/", Access::Staff(Role::Viewer)),
    ("GET", "/campaigns/{id}", Access::Staff(Role::Viewer)),
    (
        "POST",
        "/campaigns/{id}/pause",
        Access::Staff(Role::Operator),
    ),
    (
        "POST",
        "/campaigns/{id}/resume",
        Access::Staff(Role::Operator),
    ),
    (
        "POST",
        "/campaigns/{id}/retry",
        Access::Staff(Role::Operator),
    ),
    (
        "POST",
        "/campaigns/{id}/submit",
        Access::Staff(Role::Operator),
    ),
    (
        "POST",
        "/campaigns/{id}/approve",
        Access::Staff(Role::Approver),
    ),
];

/// Every route; anything else is 404.
pub(crate) fn router(state: WebState) -> Router {
    Router::new()
        .merge(health::router())
        .merge(metrics::router())
        .merge(callback::router())
        .merge(unsubscribe::router())
        .merge(login::router())
        .merge(dashboard::router())
        // Without LOA_ADMIN_TOKEN, `/` says how to turn the dashboard on.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            dashboard_off::answer,
        ))
        .with_state(state)
}

/// Serves [`router`] on `listener` until `stop` is cancelled, then stops accepting and
/// waits for the requests in flight, [`STOP_WITHIN`] at most ([`listen`] bounds headers,
/// requests and connections). Beside it runs the receipt reconciler ([`callback`]'s early
/// receipts, callback-id pruning).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: WebState,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let addr = listener
        .local_addr()
        .context("reading the listening address")?;
    tracing::info!(%addr, "HTTP listening");
    // A child token: stopping the reconciler must not stop whoever owns `stop`.
    let background = stop.child_token();
    let reconciler = tokio::spawn(callback::reconcile(state.clone(), background.clone()));
    let limit = listen::connection_limit(listen::file_limit());
    tracing::debug!(limit, "HTTP connections at most");
    listen::serve(listener, router(state), limit, stop).await;
    background.cancel();
    reconciler
        .await
        .context("the receipt reconciler panicked")?;
    tracing::info!(%addr, "HTTP stopped");
    Ok(())
}

/// A request body of at most `limit` bytes: refused ([`WebError::TooLarge`]) from its
/// `Content-Length` before reading, or as soon as more arrives; [`WebError::Timeout`]
/// after 10 s.
pub(crate) async fn read_limited(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
) -> Result<Bytes, WebError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(WebError::TooLarge);
    }
    let read = async {
        let mut stream = body.into_data_stream();
        let mut buf = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| WebError::BadRequest("the body could not be read"))?;
            if buf.len() + chunk.len() > limit {
                return Err(WebError::TooLarge);
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(buf))
    };
    tokio::time::timeout(BODY_TIMEOUT, read)
        .await
        .map_err(|_| WebError::Timeout)?
}

/// How long a request body may take to arrive.
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
