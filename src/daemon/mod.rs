//! The daemon: wires the store, the scheduler (enqueue), the dispatcher and the HTTP side
//! together from one [`Settings`] ([`Daemon`], in `assemble`), and stops cleanly. What it
//! runs each round lives with its noun: `dispatch::housekeeping` (enqueue, lease rescue,
//! expiry) and `dispatch::register` (campaign rows and their audit).
//! When it starts it says in one block of log lines what is on and off (`startup`), and
//! whether another daemon works on the same ledger (`heartbeat`, which it keeps writing).
//!
//! The dispatcher's pump runs on its own (see `dispatch::pump`); every poll the daemon
//! enqueues what fell due, rescues leases of crashed processes and expires rows whose
//! window closed, and wakes the pump when that made messages due. On SIGINT/SIGTERM the
//! pump stops claiming and lets the sends in flight finish; then the daemon releases its
//! leases and returns. Every wait on the way out is bounded ([`STOP_SENDS_WITHIN`],
//! [`RELEASE_WITHIN`]), whatever state the ledger is in: outcomes that could not be
//! recorded by then (the disk is full, say) leave their messages leased, and they are sent
//! again after the restart — at most once, as after a crash.

pub(crate) mod approval;
mod assemble;
mod heartbeat;
pub(crate) mod reload;
pub(crate) mod settings;
mod startup;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use chrono::Utc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::campaign::{Status, Workspace};
use crate::dispatch::Dispatcher;
use crate::dispatch::housekeeping::housekeeping;
pub use crate::dispatch::register::register;
pub(crate) use crate::dispatch::register::register_audited;
use crate::metrics::Metrics;
use crate::store::Store;
pub use assemble::Daemon;
pub(crate) use reload::Reload;
pub(crate) use settings::Rounds;
pub use settings::Settings;

/// How often pending messages whose window closed are swept to `expired`. Finding them
/// reads every pending row; a claim never takes one meanwhile, and a send finds it expired.
pub(crate) const EXPIRE_EVERY: Duration = Duration::from_secs(60);

/// How long, after the stop, the sends in flight have to finish and be recorded.
pub(crate) const STOP_SENDS_WITHIN: Duration = Duration::from_secs(8);

/// How long releasing this process's leases may take on the way out.
pub(crate) const RELEASE_WITHIN: Duration = Duration::from_secs(3);

/// The dispatcher of one version of the workspace, pumping in its own task.
struct Running {
    /// The files as loaded (what reload watches, registers and the dashboard shows).
    loaded: Arc<Workspace>,
    /// What the dispatcher sends from: `loaded`, or under approval the versions approved
    /// ([`approval`]).
    ws: Arc<Workspace>,
    dispatcher: Arc<Dispatcher>,
    pump: tokio::task::JoinHandle<()>,
    /// Stops this pump alone (a reload) or with the daemon (`stop`'s child).
    stop: CancellationToken,
}

impl Running {
    fn start(
        loaded: Arc<Workspace>,
        ws: Arc<Workspace>,
        dispatcher: Dispatcher,
        stop: &CancellationToken,
    ) -> Running {
        let dispatcher = Arc::new(dispatcher);
        let stop = stop.child_token();
        let pump = tokio::spawn(Arc::clone(&dispatcher).pump(stop.clone()));
        Running {
            loaded,
            ws,
            dispatcher,
            pump,
            stop,
        }
    }

    /// Stops claiming and waits until every send in flight is recorded; once `daemon` is
    /// stopped, for [`STOP_SENDS_WITHIN`] at most. False when it gave up waiting.
    async fn finish(self, daemon: &CancellationToken) -> Result<bool> {
        self.stop.cancel();
        let mut pump = self.pump;
        tokio::select! {
            done = &mut pump => {
                done.context("the dispatcher stopped unexpectedly")?;
                return Ok(true);
            }
            _ = daemon.cancelled() => {}
        }
        match tokio::time::timeout(STOP_SENDS_WITHIN, pump).await {
            Ok(done) => done
                .context("the dispatcher stopped unexpectedly")
                .map(|()| true),
            Err(_) => Ok(false),
        }
    }
}

/// Runs until `stop` is cancelled: the dispatcher's pump in its own task, housekeeping
/// and (with `reload`) a look for edited files every poll. Then waits for the sends in
/// flight and releases this process's leases. With `approvals` (docs/approval.md) the
/// dispatcher sends only approved versions, and is rebuilt when a waiting one is approved.
#[allow(clippy::too_many_arguments)]
async fn run(
    store: Store,
    ws: Arc<Workspace>,
    dispatcher: Dispatcher,
    rounds: Rounds,
    owner: &str,
    stop: CancellationToken,
    reload: Option<Reload>,
    mut approvals: Option<approval::Approvals>,
) -> Result<()> {
    register_audited(&store, &ws).await?;
    info!(campaigns = ws.campaigns.len(), "loa daemon started");
    if let Some((campaign, step, at)) = next_occurrence(&ws, Utc::now()) {
        info!(%campaign, %step, at = %at.to_rfc3339(), "next occurrence");
    }
    let mut keeper = Keeper {
        max_attempts: dispatcher.settings().retry.max_attempts,
        metrics: dispatcher.settings().metrics.clone(),
        grace: rounds.grace,
        last_expiry: None,
        owner: owner.to_owned(),
        last_beat: None,
    };
    let mut seen = reload.as_ref().map(|r| reload::fingerprint(&r.watch, &ws));
    let (sending, dispatcher) = match (&mut approvals, &reload) {
        (Some(a), Some(r)) => {
            let sending = a.sending(&store, &ws).await?;
            r.live.set_sending(Some(a.standing()));
            let dispatcher = (r.build)(Arc::clone(&sending))?;
            (sending, dispatcher)
        }
        _ => (Arc::clone(&ws), dispatcher),
    };
    let mut running = Running::start(ws, sending, dispatcher, &stop);
    while !stop.is_cancelled() {
        if let Some(r) = &reload {
            running = reloaded(&store, r, running, &mut seen, &stop, approvals.as_mut()).await?;
        }
        if !keeper.round(&store, &running, &stop).await {
            break;
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(rounds.poll) => {}
        }
    }
    wind_down(running, &store, owner, &stop).await
}

/// What the daemon's rounds of housekeeping keep between them.
struct Keeper {
    max_attempts: u32,
    metrics: Option<Arc<Metrics>>,
    grace: Duration,
    last_expiry: Option<tokio::time::Instant>,
    /// This daemon's lease owner, which its heartbeat names ([`heartbeat`]).
    owner: String,
    last_beat: Option<tokio::time::Instant>,
}

impl Keeper {
    /// One round of [`housekeeping`] (expiring at most every [`EXPIRE_EVERY`]), waking the
    /// pump when it made messages due; false when the stop cut it short.
    async fn round(&mut self, store: &Store, running: &Running, stop: &CancellationToken) -> bool {
        if self
            .last_beat
            .is_none_or(|t| t.elapsed() >= heartbeat::EVERY)
        {
            self.last_beat = Some(tokio::time::Instant::now());
            heartbeat::beat(store, &self.owner, Utc::now().timestamp_millis()).await;
        }
        let expire = self.last_expiry.is_none_or(|t| t.elapsed() >= EXPIRE_EVERY);
        if expire {
            self.last_expiry = Some(tokio::time::Instant::now());
        }
        let round = housekeeping(
            store,
            &running.ws,
            self.max_attempts,
            self.grace,
            expire,
            self.metrics.as_deref(),
        );
        // A round cut short by the stop leaves nothing half-done: each write is a
        // transaction, and enqueueing is made to be repeated.
        let round = tokio::select! {
            round = round => round,
            _ = stop.cancelled() => return false,
        };
        match round {
            Ok(0) => {}
            Ok(_) => running.dispatcher.wake(),
            // A database outage or a bad data file must not kill the daemon
            // (docs/reliability.md#r3).
            Err(e) => warn!(error = %format!("{e:#}"), "round failed; trying again"),
        }
        true
    }
}

/// The way out: the sends in flight finish and are recorded, then this process's leases
/// are released — each wait bounded.
async fn wind_down(
    running: Running,
    store: &Store,
    owner: &str,
    stop: &CancellationToken,
) -> Result<()> {
    if !running.finish(stop).await? {
        warn!(
            "stopping before every send in flight was recorded (the ledger did not take \
             them in time); their messages stay leased and go again after the restart"
        );
    }
    heartbeat::clear(store, owner, Utc::now().timestamp_millis()).await;
    let release = store.release(owner, Utc::now().timestamp_millis());
    match tokio::time::timeout(RELEASE_WITHIN, release).await {
        Ok(released) => info!(released = released?, "stopped; leases released"),
        Err(_) => warn!("stopped; releasing the leases took too long, a restart rescues them"),
    }
    Ok(())
}

/// `running`, or its successor on the edited workspace when the watched files changed and
/// load cleanly (see [`reload`]), or on the same files when a version that waited for
/// approval was approved ([`approval`]).
async fn reloaded(
    store: &Store,
    r: &Reload,
    running: Running,
    seen: &mut Option<u64>,
    stop: &CancellationToken,
    approvals: Option<&mut approval::Approvals>,
) -> Result<Running> {
    let now = reload::fingerprint(&r.watch, &running.loaded);
    let edited = *seen != Some(now);
    // Whatever the outcome, this version of the files has been looked at.
    *seen = Some(now);
    let approved = match &approvals {
        Some(a) if !edited => match a.approved_since(store).await {
            Ok(approved) => approved,
            Err(e) => {
                warn!(error = %format!("{e:#}"), "reading the approvals failed; trying again");
                false
            }
        },
        _ => false,
    };
    let new = if edited {
        match reload::load(r) {
            Some(new) => Arc::new(new),
            None => return Ok(running),
        }
    } else if approved {
        Arc::clone(&running.loaded)
    } else {
        return Ok(running);
    };
    let sending = match approvals {
        Some(a) => match a.sending(store, &new).await {
            Ok(sending) => {
                r.live.set_sending(Some(a.standing()));
                sending
            }
            Err(e) => {
                warn!(error = %format!("{e:#}"), "checking the approvals of the edited workspace failed; the last good version keeps running");
                *seen = None;
                return Ok(running);
            }
        },
        None => Arc::clone(&new),
    };
    let dispatcher = match (r.build)(Arc::clone(&sending)) {
        Ok(d) => d,
        Err(e) => {
            warn!(error = %format!("{e:#}"), "the edited workspace cannot be dispatched; the last good version keeps running");
            return Ok(running);
        }
    };
    let old = Arc::clone(&running.ws);
    running.finish(stop).await?;
    if let Err(e) = reload::cancel_removed(store, &old, &sending).await {
        warn!(error = %format!("{e:#}"), "cancelling removed steps failed; trying at the next edit");
    }
    register_audited(store, &new).await?;
    r.live.replace(Arc::clone(&new));
    if edited {
        info!(
            campaigns = new.campaigns.len(),
            "reloaded the edited workspace"
        );
    }
    *seen = Some(reload::fingerprint(&r.watch, &new));
    Ok(Running::start(new, sending, dispatcher, stop))
}

/// The first occurrence after `now` of any active campaign: (campaign, step, local time).
pub(crate) fn next_occurrence(
    ws: &Workspace,
    now: chrono::DateTime<Utc>,
) -> Option<(String, String, chrono::DateTime<chrono_tz::Tz>)> {
    ws.campaigns
        .iter()
        .filter(|c| c.status == Status::Active)
        .flat_map(|c| {
            c.steps.iter().filter_map(move |s| {
                let occ = crate::schedule::occurrences(&c.calendar, &s.schedule).ok()?;
                let o = occ.kept.into_iter().find(|o| o.at > now)?;
                Some((c.id.clone(), s.id.clone(), o.at))
            })
        })
        .min_by_key(|(_, _, at)| *at)
}

/// A token cancelled on SIGINT or SIGTERM.
pub(crate) fn shutdown_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(_) => {
                        let _ = ctrl_c.await;
                        t.cancel();
                        return;
                    }
                };
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        t.cancel();
    });
    token
}
