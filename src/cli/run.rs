//! `loa run`: the daemon — schedules, enqueues and delivers until SIGINT/SIGTERM.
//!
//! Besides its documented options it takes hidden tuning flags ([`Tuning`]), each also an
//! environment variable, so the reliability tests can run with second-scale retries and
//! leases; operators should not need them. How much a channel sends at once is not among
//! them: that is the channel's `concurrency:` (docs/campaign-file.md#channels).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;

use super::Global;
use crate::campaign::parse_duration;
use crate::channel::outbound::AllowList;
use crate::daemon::{self, Daemon, Rounds};
use crate::dispatch::{self, failpoint};
use crate::web::{KeysEnv, WebConfig};

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
    /// Four-eyes approval (docs/approval.md): `on` (default) sends only approved versions
    /// of active campaigns; `off` sends them as they are on disk, for an office where one
    /// person does everything. Not awaited with --outbox, where nothing leaves the machine.
    #[arg(long, env = "LOA_APPROVAL", default_value = "on", value_parser = ["on", "off"])]
    pub approval: String,
    #[command(flatten)]
    pub tuning: Tuning,
}

/// Hidden knobs over the dispatcher's and the daemon's defaults (durations as `500ms`, `2s`,
/// `1m`). Unset, the defaults of [`dispatch::Settings`] and [`Rounds`] hold.
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
    /// Rows inserted per transaction when an occurrence is enqueued.
    #[arg(long, hide = true, env = "LOA_ENQUEUE_BATCH")]
    pub enqueue_batch: Option<usize>,
}

impl Tuning {
    fn apply(&self, s: &mut dispatch::Settings, d: &mut Rounds) {
        let r = &mut s.retry;
        r.base = self.retry_base.unwrap_or(r.base);
        r.factor = self.retry_factor.unwrap_or(r.factor);
        r.cap = self.retry_cap.unwrap_or(r.cap);
        r.jitter = self.retry_jitter.unwrap_or(r.jitter);
        r.max_attempts = self.max_attempts.unwrap_or(r.max_attempts);
        s.lease = self.lease.unwrap_or(s.lease);
        d.poll = self.poll.unwrap_or(d.poll);
        s.poll = d.poll;
    }
}

pub(super) async fn run(global: &Global, args: &Args) -> Result<ExitCode> {
    failpoint::arm_from_env()?;
    let reported = |diags: &_| {
        super::report(diags);
    };
    let Some(daemon) = Daemon::assemble(settings(global, args)?, reported).await? else {
        return Ok(ExitCode::FAILURE);
    };
    daemon.run(daemon::shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

/// The daemon's settings from the global options, `loa run`'s own and the environment.
fn settings(global: &Global, args: &Args) -> Result<daemon::Settings> {
    let mut dispatch = dispatch::Settings {
        public_url: args.public_url.clone(),
        allow_networks: Arc::new(args.allow_networks.clone()),
        ..dispatch::Settings::default()
    };
    let mut rounds = Rounds {
        grace: Duration::from_secs(args.grace_minutes * 60),
        ..Rounds::default()
    };
    args.tuning.apply(&mut dispatch, &mut rounds);
    Ok(daemon::Settings {
        database_url: global.database_url.clone(),
        campaigns: global.campaigns.clone(),
        templates: global.templates.clone(),
        outbox: global.outbox.clone(),
        approval: args.approval == "on",
        rounds,
        dispatch,
        web: WebConfig {
            listen: global.listen.clone(),
            public_url: args.public_url.clone(),
            env: keys_env()?,
            health: Default::default(),
            workspace: None,
        },
        enqueue_batch: args.tuning.enqueue_batch,
    })
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
