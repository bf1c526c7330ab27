//! Deciding what to send next and recording what happened: claim → send → record.
//!
//! Due messages are claimed with a lease (the attempt counter is the fencing token), sent
//! concurrently within each channel's rate limit and concurrency, and their outcomes
//! recorded in batched transactions. Nothing is sent that is not a row first, and a row is
//! `sent` only after the provider accepted it (docs/reliability.md#rule-2, #rule-3).
//!
//! Two drivers share [`deliver`] (one message): the daemon's continuous [`pump`], which
//! keeps every channel busy on its own and holds at most `concurrency` leases per channel,
//! and [`Dispatcher::run_once`], one batch in a testable step for `simulate` (virtual time)
//! and tests.
//!
//! [`failpoint`] names the crash windows between those steps, for the reliability tests.

mod deliver;
pub mod enqueue;
pub(crate) mod failpoint;
mod gate;
pub(crate) mod housekeeping;
mod pump;
pub(crate) mod rate;
pub(crate) mod register;
pub(crate) mod retry;
pub(crate) mod tokens;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use chrono::{DateTime, TimeZone, Utc};
use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::{Mutex, Notify, Semaphore};

use crate::campaign::Workspace;
use crate::campaign::context::Shared;
use crate::channel::outbound::AllowList;
use crate::channel::{self, Channel, TokenStore};
use crate::store::{Claimed, Millis, NewMessage, Outcome, OutcomeKind, Store};
use rate::TokenBucket;
use retry::RetryPolicy;

/// How the dispatcher works; the defaults suit a daemon, tests and `simulate` change them.
#[derive(Debug, Clone)]
pub struct Settings {
    pub owner: String,
    pub lease: Duration,
    /// Most messages one [`Dispatcher::run_once`] step claims (`simulate`, tests). The
    /// daemon's pump claims per channel what the channel's `concurrency` lets it send.
    pub batch: u32,
    /// How often the pump looks for messages that became due (retries) when nothing woke it.
    pub poll: Duration,
    pub retry: RetryPolicy,
    /// Apply `rate:` limits (off in `simulate`, which runs in virtual time).
    pub rate_limits: bool,
    /// Base of unsubscribe links (`{public_url}/unsubscribe/{token}`).
    pub public_url: String,
    /// Signs unsubscribe links ([`crate::links::unsubscribe_token`]); without it (simulate,
    /// tests) mails carry no unsubscribe link.
    pub unsubscribe_key: Option<crate::campaign::Secret>,
    /// Counters for `/metrics` and `/healthz`, when the daemon serves them.
    pub metrics: Option<Arc<crate::metrics::Metrics>>,
    /// Non-public networks webhook and Zalo requests may reach (docs/reliability.md#r13); none
    /// by default.
    pub allow_networks: Arc<AllowList>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            owner: owner_name(),
            lease: Duration::from_secs(300),
            batch: 1000,
            poll: Duration::from_secs(1),
            retry: RetryPolicy::default(),
            rate_limits: true,
            public_url: "http://127.0.0.1:8080".into(),
            unsubscribe_key: None,
            metrics: None,
            allow_networks: Arc::new(AllowList::none()),
        }
    }
}

/// Leases the pump holds per message a channel may have in flight. A lease is held from
/// the claim until the outcome is recorded, a send only while the provider answers: with one
/// lease per send, a channel would sit idle while its outcomes are written and the next
/// messages claimed. Sixteen sent twice as fast as four, and sixty-four no faster for
/// e-mail and slower for webhooks (measured in docs/delivery.md#concurrency). A message
/// whose turn comes too late in its lease is released unsent (`pump`), so a long queue of
/// leases never sends after a lease ran out. A crash may send again what was sent and not
/// yet recorded, so this also bounds the repeats (docs/reliability.md#rule-3).
pub const LEASES_PER_SEND: usize = 16;

/// The leases the pump holds at most on a channel of `concurrency`.
fn lease_window(concurrency: usize) -> usize {
    concurrency * LEASES_PER_SEND
}

/// (campaign, step, channel, occurrence number): messages that share a template context.
type ContextKey = (String, String, String, u32);

/// One channel of one campaign, ready to send.
struct Slot {
    channel: Arc<dyn Channel>,
    bucket: Option<TokenBucket>,
    /// Sends in flight on this channel: its `concurrency`.
    sending: Arc<Semaphore>,
    /// Leases the pump holds on this channel: [`LEASES_PER_SEND`] × its `concurrency`.
    leases: Arc<Semaphore>,
    /// The channel's `timeout`, which bounds how long one send may take.
    timeout: Duration,
    /// Until when the provider paused this channel ([`gate::Held::ChannelBackoff`]).
    backoff_until: Mutex<Option<Millis>>,
}

pub struct Dispatcher {
    store: Store,
    ws: Arc<Workspace>,
    slots: HashMap<(String, String), Slot>,
    settings: Settings,
    /// Wakes the pump: capacity came free, or the daemon enqueued or rescued messages.
    wake: Notify,
    /// Campaigns an operator holds (the dashboard's pause), as last read, and when.
    operator_holds: gate::HoldsCache,
}

/// What one step of the dispatcher did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub claimed: usize,
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
}

impl Dispatcher {
    /// Builds every channel of every campaign (to files when `outbox` is set).
    pub fn new(
        store: Store,
        ws: Arc<Workspace>,
        outbox: Option<&std::path::Path>,
        tokens: Arc<dyn TokenStore>,
        settings: Settings,
    ) -> Result<Self> {
        let mut slots = HashMap::new();
        for c in &ws.campaigns {
            for (name, ch) in &c.channels {
                let channel = channel::build_allowing(
                    ch,
                    outbox,
                    &c.id,
                    Arc::clone(&tokens),
                    &settings.allow_networks,
                )?;
                let bucket = ch
                    .rate
                    .filter(|_| settings.rate_limits)
                    .map(|r| TokenBucket::new(r.per_second));
                let slot = Slot {
                    channel,
                    bucket,
                    sending: Arc::new(Semaphore::new(ch.concurrency)),
                    leases: Arc::new(Semaphore::new(lease_window(ch.concurrency))),
                    timeout: ch.timeout,
                    backoff_until: Mutex::new(None),
                };
                slots.insert((c.id.clone(), name.clone()), slot);
            }
        }
        Ok(Self {
            store,
            ws,
            slots,
            settings,
            wake: Notify::new(),
            operator_holds: Mutex::new(None),
        })
    }

    /// Tells the pump to look for due messages now instead of at its next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Claims one batch of due messages of the channels the gate lets send, sends them and
    /// records the outcomes.
    pub async fn run_once(&self, now: DateTime<Utc>) -> Result<Progress> {
        let now_ms = now.timestamp_millis();
        let claimed = self.claim_open(now_ms).await?;
        if claimed.is_empty() {
            return Ok(Progress::default());
        }
        failpoint::hit(failpoint::Point::AfterClaim);
        let contexts = self.contexts(&claimed);
        let suppressed = self.suppressed(&claimed).await?;
        let sends: FuturesUnordered<_> = claimed
            .into_iter()
            .map(|m| async {
                let slot = self.slots.get(&(m.campaign.clone(), m.channel.clone()));
                let _turn = match slot {
                    Some(s) => Some(s.sending.acquire().await),
                    None => None,
                };
                if let Some(bucket) = slot.and_then(|s| s.bucket.as_ref()) {
                    bucket.acquire().await;
                }
                let opted_out = m.address.as_ref().is_some_and(|a| suppressed.contains(a));
                self.deliver(m, now, &contexts, opted_out).await
            })
            .collect();
        let progress = self.record_all(sends, now_ms).await?;
        failpoint::hit(failpoint::Point::AfterRecord);
        Ok(progress)
    }

    /// Claims up to `batch` due messages, channel by channel, of the channels the gate
    /// ([`Dispatcher::gate`]) lets send at `now`.
    async fn claim_open(&self, now: Millis) -> Result<Vec<Claimed>> {
        let s = &self.settings;
        let holds = self.operator_holds().await?;
        let mut claimed = Vec::new();
        for ((campaign, channel), slot) in &self.slots {
            let want = s.batch.saturating_sub(claimed.len() as u32);
            if want == 0 {
                break;
            }
            if self.gate(campaign, slot, &holds, now).await.is_err() {
                continue;
            }
            let more = self
                .store
                .claim_channel(&s.owner, now, s.lease, want, campaign, channel);
            claimed.extend(more.await?);
        }
        Ok(claimed)
    }

    /// Waits for every send, then records all outcomes (with the fallback rows they call
    /// for) in one transaction.
    async fn record_all(
        &self,
        mut sends: FuturesUnordered<impl Future<Output = (Outcome, Option<NewMessage>)>>,
        now: Millis,
    ) -> Result<Progress> {
        let mut progress = Progress {
            claimed: sends.len(),
            ..Progress::default()
        };
        let mut outcomes = Vec::with_capacity(progress.claimed);
        let mut fallbacks = Vec::new();
        while let Some((outcome, fallback)) = sends.next().await {
            match &outcome.result {
                OutcomeKind::Sent { .. } => progress.sent += 1,
                OutcomeKind::Retry { .. } => progress.retried += 1,
                _ => progress.failed += 1,
            }
            outcomes.push(outcome);
            fallbacks.extend(fallback);
        }
        let at = Utc::now().timestamp_millis().max(now);
        self.store
            .record_with_fallbacks(&outcomes, &fallbacks, at)
            .await?;
        if let Some(metrics) = &self.settings.metrics {
            metrics.outcomes(&outcomes);
        }
        Ok(progress)
    }

    /// The context shared by all messages of one occurrence on one channel, built once per
    /// batch rather than once per message.
    fn contexts(&self, claimed: &[Claimed]) -> HashMap<ContextKey, Shared> {
        let mut out = HashMap::new();
        for m in claimed {
            let key = (
                m.campaign.clone(),
                m.step.clone(),
                m.channel.clone(),
                m.occurrence_n,
            );
            if out.contains_key(&key) {
                continue;
            }
            let Some(c) = self.ws.campaign(&m.campaign) else {
                continue;
            };
            let Some(step) = c.step(&m.step) else {
                continue;
            };
            let Some(at) = c.calendar.tz.timestamp_millis_opt(m.occurrence_at).single() else {
                continue;
            };
            out.insert(key, Shared::new(c, step, &m.channel, at, m.occurrence_n));
        }
        out
    }

    /// The addresses among `claimed` that are suppressed (unsubscribed): they are skipped,
    /// not sent, whichever campaign suppressed them.
    async fn suppressed(&self, claimed: &[Claimed]) -> Result<std::collections::HashSet<String>> {
        let addresses: Vec<String> = claimed.iter().filter_map(|m| m.address.clone()).collect();
        if addresses.is_empty() {
            return Ok(Default::default());
        }
        self.store.suppressed_among(&addresses).await
    }
}

/// A lease owner unique to this process start: a restarted container can reuse a pid, and
/// a lease it held before must not look like its own (the fence is attempt and owner).
fn owner_name() -> String {
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros();
    format!("loa-{}-{started:x}", std::process::id())
}
