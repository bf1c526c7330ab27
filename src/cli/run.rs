//! `loa run`: the daemon — schedules, enqueues and delivers until SIGINT/SIGTERM.
//!
//! Besides its documented options it takes hidden tuning flags ([`Tuning`]), each also an
//! environment variable, so the reliability tests can run with second-scale retries and
//! leases; operators should not need them.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};

use super::Global;
use crate::campaign::{DataScan, EnvPolicy, LoadOptions, Workspace, parse_duration};
use crate::channel::outbound::AllowList;
use crate::daemon::{self, DaemonSettings};
use crate::dispatch::{Dispatcher, Settings, enqueue, failpoint};
use crate::store::Store;
use crate::web::{self, KeysEnv, Metrics, WebConfig};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Public base URL of this daemon, for unsubscribe links in e-mails.
    #[arg(long, env = "LOA_PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
    pub public_url: String,
    /// Non-public networks (comma-separated CIDRs, e.g. 127.0.0.0/8) that webhook and Zalo
    /// requests may reach; by default they reach public addresses only. SMTP is not
    /// concerned (docs/outbound-policy.md).
    #[arg(
        long,
        env = "LOA_ALLOW_NETWORKS",
        default_value = "",
        hide_default_value = true
    )]
    pub allow_networks: AllowList,
    /// Minutes after its time an occurrence first seen by the daemon is still sent; older
    /// ones are recorded as missed.
    #[arg(long, env = "LOA_GRACE_MINUTES", default_value_t = 60)]
    pub grace_minutes: u64,
    #[command(flatten)]
    pub tuning: Tuning,
}

/// Hidden knobs over the dispatcher's and the daemon's defaults (durations as `500ms`, `2s`,
/// `1m`). Unset, the defaults of [`Settings`] and [`DaemonSettings`] hold.
#[derive(Debug, Default, clap::Args)]
pub struct Tuning {
    /// First retry delay.
    #[arg(long, hide = true, env = "LOA_RETRY_BASE", value_parser = parse_duration)]
    pub retry_base: Option<Duration>,
    /// Growth of the retry delay per attempt.
    #[arg(long, hide = true, env = "LOA_RETRY_FACTOR")]
    pub retry_factor: Option<f64>,
    /// Longest retry delay.
    #[arg(long, hide = true, env = "LOA_RETRY_CAP", value_parser = parse_duration)]
    pub retry_cap: Option<Duration>,
    /// Jitter as a fraction, e.g. 0.2 for ±20 %.
    #[arg(long, hide = true, env = "LOA_RETRY_JITTER")]
    pub retry_jitter: Option<f64>,
    /// Tries per message before it fails.
    #[arg(long, hide = true, env = "LOA_MAX_ATTEMPTS")]
    pub max_attempts: Option<u32>,
    /// How long a claim holds a message before another round may rescue it.
    #[arg(long, hide = true, env = "LOA_LEASE", value_parser = parse_duration)]
    pub lease: Option<Duration>,
    /// Pause between rounds when idle.
    #[arg(long, hide = true, env = "LOA_POLL", value_parser = parse_duration)]
    pub poll: Option<Duration>,
    /// Messages claimed per round.
    #[arg(long, hide = true, env = "LOA_BATCH")]
    pub batch: Option<u32>,
    /// Rows inserted per transaction when an occurrence is enqueued.
    #[arg(long, hide = true, env = "LOA_ENQUEUE_BATCH")]
    pub enqueue_batch: Option<usize>,
    /// Sends in flight per channel.
    #[arg(long, hide = true, env = "LOA_CONCURRENCY")]
    pub concurrency: Option<usize>,
}

impl Tuning {
    fn apply(&self, s: &mut Settings, d: &mut DaemonSettings) {
        let r = &mut s.retry;
        r.base = self.retry_base.unwrap_or(r.base);
        r.factor = self.retry_factor.unwrap_or(r.factor);
        r.cap = self.retry_cap.unwrap_or(r.cap);
        r.jitter = self.retry_jitter.unwrap_or(r.jitter);
        r.max_attempts = self.max_attempts.unwrap_or(r.max_attempts);
        s.lease = self.lease.unwrap_or(s.lease);
        s.batch = self.batch.unwrap_or(s.batch);
        s.concurrency = self.concurrency.unwrap_or(s.concurrency).max(1);
        d.poll = self.poll.unwrap_or(d.poll);
        s.poll = d.poll;
        if let Some(rows) = self.enqueue_batch {
            enqueue::set_batch_rows(rows);
        }
    }
}

pub async fn run(global: &Global, args: &Args) -> Result<ExitCode> {
    failpoint::arm_from_env()?;
    let env = if global.outbox.is_some() {
        EnvPolicy::Optional
    } else {
        EnvPolicy::Required
    };
    let (campaigns, templates) = (global.campaigns.clone(), global.templates.clone());
    let load = move || {
        let opts = LoadOptions {
            env,
            data: DataScan::Headers,
        };
        Workspace::load(std::slice::from_ref(&campaigns), &templates, opts)
    };
    let (ws, diags) = load();
    if super::report(&diags) {
        return Ok(ExitCode::FAILURE);
    }
    let ws = Arc::new(ws.context("the workspace did not load")?);
    let store = Store::open(&global.database_url).await?;
    let mut settings = Settings {
        public_url: args.public_url.clone(),
        allow_networks: Arc::new(args.allow_networks.clone()),
        ..Settings::default()
    };
    let mut daemon_settings = DaemonSettings {
        grace: Duration::from_secs(args.grace_minutes * 60),
        ..DaemonSettings::default()
    };
    args.tuning.apply(&mut settings, &mut daemon_settings);
    let owner = settings.owner.clone();
    let live = Arc::new(crate::campaign::Live::new(Arc::clone(&ws)));
    let stop = daemon::shutdown_signal();
    let metrics = Arc::new(Metrics::new(chrono::Utc::now().timestamp_millis()));
    // Keys are checked before anything listens: a callback route without its key, or a
    // weak admin token, stops the daemon here (docs/reliability.md#r12).
    let web = web::start(
        &store,
        &ws.campaigns,
        WebConfig {
            listen: global.listen.clone(),
            public_url: args.public_url.clone(),
            env: keys_env()?,
            health: Default::default(),
            workspace: Some(Arc::clone(&live)),
        },
        Arc::clone(&metrics),
        stop.clone(),
    )
    .await?;
    settings.unsubscribe_key = Some(web.unsubscribe_key.clone());
    settings.metrics = Some(metrics);
    let tokens = Arc::new(crate::dispatch::tokens::DbTokens::new(store.clone()));
    let (db, outbox) = (store.clone(), global.outbox.clone());
    let build = move |ws: Arc<Workspace>| {
        let tokens: Arc<dyn crate::channel::TokenStore> = tokens.clone();
        Dispatcher::new(db.clone(), ws, outbox.as_deref(), tokens, settings.clone())
    };
    let dispatcher = build(Arc::clone(&ws))?;
    let reload = daemon::Reload {
        load: Box::new(load),
        build: Box::new(build),
        watch: vec![global.campaigns.clone(), global.templates.clone()],
        live,
    };
    if let Some(dir) = &global.outbox {
        eprintln!(
            "loa: delivering to files under {} (--outbox); Ctrl-C to stop",
            dir.display()
        );
    }
    let daemon = daemon::run(
        store,
        ws,
        dispatcher,
        daemon_settings,
        &owner,
        stop.clone(),
        Some(reload),
    );
    daemon.await?;
    stop.cancel();
    // The HTTP side has been stopping since the signal and bounds its own wait
    // (`web::serve`); this bound only keeps a bug there from holding the process.
    match tokio::time::timeout(web::STOP_WITHIN * 2, web.task).await {
        Ok(served) => served.context("the HTTP server panicked")??,
        Err(_) => tracing::warn!("the HTTP side did not stop in time; leaving it"),
    }
    Ok(ExitCode::SUCCESS)
}

/// The HTTP side's variables; a `_FILE` variable naming a file that cannot be read stops
/// the daemon rather than leave its route off or open.
fn keys_env() -> Result<KeysEnv> {
    let var = |n: &str| std::env::var(n).ok();
    if let Some(why) = KeysEnv::VARIABLES
        .iter()
        .find_map(|name| crate::campaign::env::unreadable_file(name, &var))
    {
        anyhow::bail!("{why}");
    }
    Ok(KeysEnv::from_lookup(crate::campaign::env::lookup))
}
