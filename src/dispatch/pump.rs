//! The daemon's dispatcher: keeps every channel busy, each on its own.
//!
//! One claimer and one recorder task, and one task per message in flight:
//!
//! - The **claimer** claims, for each channel with room, as many due messages as it has free
//!   leases and rate-limit tokens, and starts a send task for each. A channel holds at most
//!   [`super::LEASES_PER_SEND`] × its `concurrency` leases, each until the message's
//!   outcome is durable: a crash repeats at most that many of its messages
//!   (docs/reliability.md#r1), and a slow or throttled channel only ever waits on itself
//!   (docs/reliability.md#r6: no head-of-line blocking). Tokens are taken before the claim,
//!   so a lease never runs out waiting for the rate limit.
//! - Each **send task** waits for one of the channel's `concurrency` turns, runs
//!   [`Dispatcher::deliver`], gives the turn back at once and hands the outcome, with its
//!   lease, to the recorder: the channel keeps sending while outcomes are written.
//! - The **recorder** writes whatever outcomes have arrived in one transaction (with the
//!   fallback rows the ledger then calls for), then frees their leases and wakes the
//!   claimer. A failed write is retried: outcomes are never dropped while the process
//!   lives.
//!
//! On `stop` the claimer claims nothing more, the sends in flight finish, and the recorder
//! writes every outcome before [`Dispatcher::pump`] returns.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use chrono::Utc;
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::warn;

use super::{Dispatcher, Slot, failpoint};
use crate::store::{Claimed, Millis, NewMessage, Outcome, OutcomeKind};

/// Outcomes written per transaction at most.
const RECORD_BATCH: usize = 2_000;

/// When the claimer looks again, soonest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Next {
    /// A channel took all it asked for and has room: at once.
    Now,
    /// When a rate-limited channel gets its next token (or something wakes it).
    Token(Duration),
    /// At the next poll, or when a lease comes free or the daemon enqueues.
    Poll,
}

/// Time a channel's outcome needs, after its send, to be written before the lease ends.
const TIME_TO_RECORD: Duration = Duration::from_secs(5);

/// How much of its lease a message must have left for its send to start: two of the
/// channel's timeouts (an SMTP session may be opened before the message goes, a Zalo token
/// refreshed) and the time to record the outcome; never more than half the lease, so that a
/// message whose turn comes at once always goes, however short the lease.
fn time_to_send(timeout: Duration, lease: Duration) -> Millis {
    (timeout * 2 + TIME_TO_RECORD).min(lease / 2).as_millis() as Millis
}

/// One finished send on its way to the ledger, holding its lease until then.
struct Done {
    outcome: Outcome,
    fallback: Option<NewMessage>,
    _lease: OwnedSemaphorePermit,
}

impl Dispatcher {
    /// Dispatches until `stop` is cancelled, then waits for the sends in flight and records
    /// their outcomes. Errors of single rounds are logged and retried, never returned: a
    /// database outage must not end the daemon (docs/reliability.md#r3).
    pub async fn pump(self: Arc<Self>, stop: CancellationToken) {
        let (tx, rx) = mpsc::unbounded_channel();
        let recorder = tokio::spawn(Arc::clone(&self).record_loop(rx));
        let sends = TaskTracker::new();
        while !stop.is_cancelled() {
            let next = match self.claim_round(&tx, &sends).await {
                Ok(next) => next,
                Err(e) => {
                    warn!(error = %format!("{e:#}"), "claiming failed; trying again");
                    Next::Poll
                }
            };
            let idle = match next {
                Next::Now => continue,
                Next::Token(wait) => wait.min(self.settings.poll),
                Next::Poll => self.settings.poll,
            };
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(idle) => {}
            }
        }
        sends.close();
        sends.wait().await;
        drop(tx);
        if let Err(e) = recorder.await {
            warn!(error = %e, "the recorder stopped unexpectedly");
        }
    }

    /// Claims for every channel with room and starts its sends; says when to look again.
    async fn claim_round(
        self: &Arc<Self>,
        tx: &mpsc::UnboundedSender<Done>,
        sends: &TaskTracker,
    ) -> Result<Next> {
        let now = Utc::now().timestamp_millis();
        let mut next = Next::Poll;
        let holds = self.operator_holds().await?;
        for ((campaign, channel), slot) in &self.slots {
            let room = slot.leases.available_permits();
            if room == 0 || self.gate(campaign, slot, &holds, now).await.is_err() {
                continue;
            }
            let mut want = room;
            if let Some(bucket) = &slot.bucket {
                let (tokens, wait) = bucket.take_up_to(want).await;
                if tokens == 0 {
                    next = next.min(Next::Token(wait));
                    continue;
                }
                want = tokens;
            }
            let claimed = self.claim_slot(slot, campaign, channel, want, now).await?;
            if claimed.is_empty() {
                continue;
            }
            failpoint::hit(failpoint::Point::AfterClaim);
            if claimed.len() == want && room > want {
                // It took all it asked for and has room left: probably more to do, at once
                // or as soon as the rate limit gives another token.
                next = next.min(match slot.bucket {
                    Some(_) => Next::Token(Duration::ZERO),
                    None => Next::Now,
                });
            }
            let lease_until = now + self.settings.lease.as_millis() as Millis;
            self.start_sends(slot, claimed, lease_until, tx, sends)
                .await?;
        }
        Ok(next)
    }

    /// Claims up to `want` due messages of one channel, giving back the rate-limit tokens
    /// taken for messages that were not there.
    async fn claim_slot(
        &self,
        slot: &Slot,
        campaign: &str,
        channel: &str,
        want: usize,
        now: Millis,
    ) -> Result<Vec<Claimed>> {
        let s = &self.settings;
        let claimed = self
            .store
            .claim_channel(&s.owner, now, s.lease, want as u32, campaign, channel)
            .await;
        let unused = claimed.as_ref().map_or(want, |c| want - c.len());
        if let Some(bucket) = &slot.bucket
            && unused > 0
        {
            bucket.give_back(unused).await;
        }
        claimed
    }

    /// One send task per claimed message, each holding one of the channel's leases until
    /// the recorder has written its outcome. A message whose turn comes with less of its
    /// lease left (`lease_until`) than a send may take ([`time_to_send`]) is not sent but
    /// released, so that no lease runs out while its message is on its way: the rescue
    /// would offer it again and it could go twice. A ledger error here (the suppression
    /// lookup) leaves the claimed rows leased; the lease rescue gives them back.
    async fn start_sends(
        self: &Arc<Self>,
        slot: &Slot,
        claimed: Vec<Claimed>,
        lease_until: Millis,
        tx: &mpsc::UnboundedSender<Done>,
        sends: &TaskTracker,
    ) -> Result<()> {
        let contexts = Arc::new(self.contexts(&claimed));
        let suppressed = self.suppressed(&claimed).await?;
        let last_start = lease_until - time_to_send(slot.timeout, self.settings.lease);
        for m in claimed {
            let opted_out = m.address.as_ref().is_some_and(|a| suppressed.contains(a));
            // Only the claimer takes leases, and it claimed no more than it saw free.
            let Ok(permit) = Arc::clone(&slot.leases).try_acquire_owned() else {
                break;
            };
            let (me, contexts, tx) = (Arc::clone(self), Arc::clone(&contexts), tx.clone());
            let sending = Arc::clone(&slot.sending);
            sends.spawn(async move {
                let turn = sending.acquire_owned().await.expect("never closed");
                let now = Utc::now();
                let (outcome, fallback) = if now.timestamp_millis() > last_start {
                    (me.released(&m, now.timestamp_millis()), None)
                } else {
                    me.deliver(m, now, &contexts, opted_out).await
                };
                drop(turn);
                let done = Done {
                    outcome,
                    fallback,
                    _lease: permit,
                };
                // The recorder outlives every send task (see `pump`).
                let _ = tx.send(done);
            });
        }
        Ok(())
    }

    /// The outcome of a claimed message given back unsent ([`OutcomeKind::Released`]).
    fn released(&self, m: &Claimed, now: Millis) -> Outcome {
        Outcome {
            id: m.id,
            attempt: m.attempt,
            owner: self.settings.owner.clone(),
            started_at: now,
            duration_ms: 0,
            result: OutcomeKind::Released,
        }
    }

    /// Writes outcomes as they arrive, in batches, until every sender is gone.
    async fn record_loop(self: Arc<Self>, mut rx: mpsc::UnboundedReceiver<Done>) {
        let mut batch = Vec::with_capacity(RECORD_BATCH);
        while rx.recv_many(&mut batch, RECORD_BATCH).await > 0 {
            self.record_durably(&batch).await;
            failpoint::hit(failpoint::Point::AfterRecord);
            // Dropping the batch frees its leases: only now may their channels claim more.
            batch.clear();
            self.wake.notify_one();
        }
    }

    /// Records one batch, retrying until the ledger takes it.
    async fn record_durably(&self, batch: &[Done]) {
        let fallbacks: Vec<NewMessage> = batch.iter().filter_map(|d| d.fallback.clone()).collect();
        let outcomes: Vec<Outcome> = batch.iter().map(|d| d.outcome.clone()).collect();
        let mut wait = Duration::from_millis(100);
        loop {
            let now = Utc::now().timestamp_millis();
            let written = self.store.record_with_fallbacks(&outcomes, &fallbacks, now);
            match written.await {
                Ok(_) => {
                    if let Some(metrics) = &self.settings.metrics {
                        metrics.outcomes(&outcomes);
                    }
                    return;
                }
                Err(e) => {
                    warn!(error = %format!("{e:#}"), outcomes = outcomes.len(), "recording outcomes failed; trying again");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}
