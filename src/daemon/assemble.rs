//! [`Daemon`]: the one place that composes the store, the dispatcher, the scheduler's
//! rounds and the HTTP side from one [`Settings`].
//!
//! [`Daemon::assemble`] does everything that can refuse a start before any port opens:
//! it loads the workspace with the same validation `loa validate` runs (every channel's
//! configuration included) and stops on its errors, opens the ledger, checks the HTTP
//! keys (docs/reliability.md#r12), and builds every channel of the dispatcher. [`Daemon::run`] then listens,
//! runs until the stop and waits for the HTTP side to finish.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use tokio_util::sync::CancellationToken;

use super::reload::{Builder, Loader, Reload};
use super::{Rounds, Settings};
use super::{heartbeat, startup};
use crate::campaign::{DataScan, Diagnostics, EnvPolicy, Live, LoadOptions, Workspace};
use crate::channel::TokenStore;
use crate::dispatch::{self, Dispatcher, enqueue};
use crate::metrics::Metrics;
use crate::store::Store;
use crate::web::{self, WebConfig};

/// A daemon put together and checked, not listening yet.
pub struct Daemon {
    store: Store,
    ws: Arc<Workspace>,
    dispatcher: Dispatcher,
    reload: Reload,
    rounds: Rounds,
    owner: String,
    web: web::Prepared,
    web_config: WebConfig,
    metrics: Arc<Metrics>,
    outbox: Option<PathBuf>,
    /// Send only approved versions (docs/approval.md).
    approval: bool,
}

impl Daemon {
    /// Loads and checks the workspace, shows its problems through `report` (warnings
    /// too), and puts the daemon together; `None` when the workspace has errors. Nothing
    /// listens yet.
    pub async fn assemble(
        settings: Settings,
        report: impl FnOnce(&Diagnostics),
    ) -> Result<Option<Daemon>> {
        if let Some(rows) = settings.enqueue_batch {
            enqueue::set_batch_rows(rows);
        }
        let load = loader(&settings);
        let (ws, diags) = load();
        report(&diags);
        if diags.has_errors() {
            return Ok(None);
        }
        let ws = Arc::new(ws.context("the workspace did not load")?);
        let store = Store::open(&settings.database_url).await?;
        // Keys are checked before anything listens: a callback route without its key, or
        // a weak admin token, stops the daemon here (docs/reliability.md#r12).
        let web = web::prepare(&store, &ws.campaigns, &settings.web.env).await?;
        let metrics = Arc::new(Metrics::new(chrono::Utc::now().timestamp_millis()));
        let mut dispatch = settings.dispatch;
        dispatch.unsubscribe_key = Some(web.unsubscribe_key.clone());
        dispatch.metrics = Some(Arc::clone(&metrics));
        let owner = dispatch.owner.clone();
        let build = builder(&store, settings.outbox.clone(), dispatch);
        // Every channel is built here, so one that cannot be also stops the start.
        let dispatcher = build(Arc::clone(&ws))?;
        let reload = Reload {
            load,
            build,
            watch: vec![settings.campaigns, settings.templates],
            live: Arc::new(Live::new(Arc::clone(&ws))),
        };
        Ok(Some(Daemon {
            store,
            ws,
            dispatcher,
            reload,
            rounds: settings.rounds,
            owner,
            web,
            web_config: settings.web,
            metrics,
            approval: settings.approval && settings.outbox.is_none(),
            outbox: settings.outbox,
        }))
    }

    /// Listens, then schedules, enqueues and delivers until `stop` is cancelled; returns
    /// when the sends in flight are recorded and the HTTP side has stopped.
    pub async fn run(self, stop: CancellationToken) -> Result<()> {
        let config = WebConfig {
            workspace: Some(Arc::clone(&self.reload.live)),
            ..self.web_config.clone()
        };
        let web = self
            .web
            .listen(&self.store, config, self.metrics, stop.clone())
            .await?;
        if let Some(dir) = &self.outbox {
            eprintln!(
                "loa: delivering to files under {} (--outbox); Ctrl-C to stop",
                dir.display()
            );
            // Approval gates what leaves the machine, and nothing does here.
            eprintln!(
                "loa: approval is not awaited with --outbox: every active campaign is \
                 delivered to the files as it is on disk (docs/approval.md)"
            );
        }
        // After the outbox line, so that the block stands together.
        say_what_is_on(
            &self.store,
            &self.owner,
            &self.ws,
            &self.web_config,
            web.addr,
            self.approval,
        )
        .await;
        let running = super::run(
            self.store,
            self.ws,
            self.dispatcher,
            self.rounds,
            &self.owner,
            stop.clone(),
            Some(self.reload),
            self.approval.then(super::approval::Approvals::default),
        )
        .await;
        stop.cancel();
        // The HTTP side has been stopping since the signal and bounds its own wait
        // (`web::serve`); this bound only keeps a bug there from holding the process.
        match tokio::time::timeout(web::STOP_WITHIN * 2, web.task).await {
            Ok(served) => served.context("the HTTP server panicked")??,
            Err(_) => tracing::warn!("the HTTP side did not stop in time; leaving it"),
        }
        running
    }
}

/// The start-up block ([`startup`]): looks for another daemon's heartbeat before writing
/// this one's, so that the block can name it.
async fn say_what_is_on(
    store: &Store,
    owner: &str,
    ws: &Workspace,
    web: &WebConfig,
    addr: std::net::SocketAddr,
    approval: bool,
) {
    let now = chrono::Utc::now();
    let other = heartbeat::other(store, owner, now.timestamp_millis()).await;
    heartbeat::beat(store, owner, now.timestamp_millis()).await;
    let accounts = store
        .accounts()
        .await
        .ok()
        .map(|all| (all.len(), all.iter().filter(|a| !a.is_disabled()).count()));
    startup::log(&startup::lines(&startup::Facts {
        ws,
        env: &web.env,
        public_url: &web.public_url,
        addr,
        other,
        now,
        accounts,
        approval,
    }));
}

/// Loads the workspace as `loa run` does, at start and at every reload: the data files'
/// headers only; secrets may be missing under `--outbox`, where nothing reaches a provider.
fn loader(settings: &Settings) -> Loader {
    let env = if settings.outbox.is_some() {
        EnvPolicy::Optional
    } else {
        EnvPolicy::Required
    };
    let (campaigns, templates) = (settings.campaigns.clone(), settings.templates.clone());
    Box::new(move || {
        let opts = LoadOptions {
            env,
            data: DataScan::Headers,
        };
        Workspace::load(std::slice::from_ref(&campaigns), &templates, opts)
    })
}

/// Builds the dispatcher of one version of the workspace, at start and at every reload.
fn builder(store: &Store, outbox: Option<PathBuf>, settings: dispatch::Settings) -> Builder {
    let tokens = Arc::new(dispatch::tokens::DbTokens::new(store.clone()));
    let db = store.clone();
    Box::new(move |ws: Arc<Workspace>| {
        let tokens: Arc<dyn TokenStore> = tokens.clone();
        Dispatcher::new(db.clone(), ws, outbox.as_deref(), tokens, settings.clone())
    })
}
