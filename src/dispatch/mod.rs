//! Deciding what to send next and recording what happened: claim → send → record.
//!
//! A batch of due messages is claimed with a lease (the attempt counter is the fencing token),
//! sent concurrently within each channel's rate limit and concurrency, and the outcomes are
//! recorded in one transaction. Nothing is sent that is not a row first, and a row is `sent`
//! only after the provider accepted it (reliability-security §8 rules 2–3). [`Dispatcher::run_once`]
//! is one testable step; the daemon and `simulate` call it with their own clock.
//!
//! [`failpoint`] names the crash windows between those steps, for the reliability tests.

pub mod enqueue;
pub mod failpoint;
pub mod rate;
pub mod retry;
pub mod tokens;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use chrono::{DateTime, TimeZone, Utc};
use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::{Mutex, Semaphore};

use crate::campaign::Workspace;
use crate::campaign::context::Shared;
use crate::channel::{self, Channel, ChannelError, Outgoing, TokenStore};
use crate::render::message::{Target, render};
use crate::store::{
    Claimed, Millis, NewMessage, NewState, Outcome, OutcomeKind, Store, message_tag,
};
use rate::TokenBucket;
use retry::RetryPolicy;

/// How the dispatcher works; the defaults suit a daemon, tests and `simulate` change them.
#[derive(Debug, Clone)]
pub struct Settings {
    pub owner: String,
    pub lease: Duration,
    pub batch: u32,
    /// Sends in flight per channel.
    pub concurrency: usize,
    pub retry: RetryPolicy,
    /// Apply `rate:` limits (off in `simulate`, which runs in virtual time).
    pub rate_limits: bool,
    /// Base of unsubscribe links (`{public_url}/unsubscribe/{token}`).
    pub public_url: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            owner: format!("loa-{}", std::process::id()),
            lease: Duration::from_secs(300),
            batch: 1000,
            concurrency: 16,
            retry: RetryPolicy::default(),
            rate_limits: true,
            public_url: "http://127.0.0.1:8080".into(),
        }
    }
}

/// (campaign, step, channel, occurrence number): messages that share a template context.
type ContextKey = (String, String, String, u32);

/// One channel of one campaign, ready to send.
struct Slot {
    channel: Arc<dyn Channel>,
    bucket: Option<TokenBucket>,
    inflight: Semaphore,
    paused_until: Mutex<Option<Millis>>,
}

pub struct Dispatcher {
    store: Store,
    ws: Arc<Workspace>,
    slots: HashMap<(String, String), Slot>,
    settings: Settings,
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
                let channel = channel::build(ch, outbox, &c.id, Arc::clone(&tokens))?;
                let bucket = ch
                    .rate
                    .filter(|_| settings.rate_limits)
                    .map(|r| TokenBucket::new(r.per_second));
                let slot = Slot {
                    channel,
                    bucket,
                    inflight: Semaphore::new(settings.concurrency),
                    paused_until: Mutex::new(None),
                };
                slots.insert((c.id.clone(), name.clone()), slot);
            }
        }
        Ok(Self {
            store,
            ws,
            slots,
            settings,
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Claims one batch of due messages, sends them and records the outcomes.
    pub async fn run_once(&self, now: DateTime<Utc>) -> Result<Progress> {
        let now_ms = now.timestamp_millis();
        let channels = self.active_channels(now_ms).await;
        if channels.is_empty() {
            return Ok(Progress::default());
        }
        let claimed = self
            .store
            .claim(
                &self.settings.owner,
                now_ms,
                self.settings.lease,
                self.settings.batch,
                &channels,
            )
            .await?;
        if !claimed.is_empty() {
            failpoint::hit(failpoint::Point::AfterClaim);
        }
        let mut progress = Progress {
            claimed: claimed.len(),
            ..Progress::default()
        };
        let contexts = self.contexts(&claimed);
        let mut sends: FuturesUnordered<_> = claimed
            .into_iter()
            .map(|m| self.deliver(m, now, &contexts))
            .collect();
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
        if !fallbacks.is_empty() {
            self.store.insert_messages(&fallbacks, now_ms).await?;
        }
        self.store
            .record(&outcomes, Utc::now().timestamp_millis().max(now_ms))
            .await?;
        if progress.claimed > 0 {
            failpoint::hit(failpoint::Point::AfterRecord);
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

    /// Channels (as `campaign/channel` names the store understands) not paused at `now`.
    async fn active_channels(&self, now: Millis) -> Vec<String> {
        let mut out = Vec::new();
        for ((_, name), slot) in &self.slots {
            let paused = slot.paused_until.lock().await.is_some_and(|t| t > now);
            if !paused && !out.contains(name) {
                out.push(name.clone());
            }
        }
        out
    }

    /// Sends one claimed message; returns its outcome and, when the provider says the
    /// recipient cannot be reached there, the row for the step's fallback channel.
    async fn deliver(
        &self,
        m: Claimed,
        now: DateTime<Utc>,
        contexts: &HashMap<ContextKey, Shared>,
    ) -> (Outcome, Option<NewMessage>) {
        let started = Instant::now();
        let now_ms = now.timestamp_millis();
        let (result, fallback) = self.attempt(&m, now, contexts).await;
        let outcome = Outcome {
            id: m.id,
            attempt: m.attempt,
            owner: self.settings.owner.clone(),
            started_at: now_ms,
            duration_ms: started.elapsed().as_millis() as i64,
            result,
        };
        (outcome, fallback)
    }

    async fn attempt(
        &self,
        m: &Claimed,
        now: DateTime<Utc>,
        contexts: &HashMap<ContextKey, Shared>,
    ) -> (OutcomeKind, Option<NewMessage>) {
        let started = Instant::now();
        let now_ms = now.timestamp_millis();
        if m.expires_at <= now_ms {
            return (OutcomeKind::Expired, None);
        }
        let Some((campaign, step)) = self
            .ws
            .campaign(&m.campaign)
            .and_then(|c| c.step(&m.step).map(|s| (c, s)))
        else {
            return (
                OutcomeKind::Failed {
                    code: None,
                    error: "the step is no longer in the campaign".into(),
                },
                None,
            );
        };
        let local = now.with_timezone(&campaign.calendar.tz);
        let allowed = crate::schedule::next_allowed(&campaign.calendar, local);
        if allowed > local {
            let error = "waiting for the end of quiet hours or a skip date".to_string();
            return (
                OutcomeKind::Retry {
                    at: allowed.timestamp_millis(),
                    code: None,
                    error,
                },
                None,
            );
        }
        let Some(slot) = self.slots.get(&(m.campaign.clone(), m.channel.clone())) else {
            return (
                OutcomeKind::Failed {
                    code: None,
                    error: format!("no channel {}", m.channel),
                },
                None,
            );
        };
        let key = (
            m.campaign.clone(),
            m.step.clone(),
            m.channel.clone(),
            m.occurrence_n,
        );
        let Some(shared) = contexts.get(&key) else {
            let error = "the occurrence time is not valid".to_string();
            return (OutcomeKind::Failed { code: None, error }, None);
        };
        let out = match self.outgoing(m, campaign, step, shared) {
            Ok(o) => o,
            Err(error) => return (OutcomeKind::Failed { code: None, error }, None),
        };
        let _permit = slot.inflight.acquire().await;
        if let Some(b) = &slot.bucket {
            b.acquire().await;
        }
        match slot.channel.send(&out).await {
            Ok(r) => {
                failpoint::hit(failpoint::Point::AfterSend);
                (
                    OutcomeKind::Sent {
                        provider_id: r.provider_id,
                    },
                    None,
                )
            }
            Err(e) => {
                // Backoff and `Retry-After` count from the answer (RFC 9110 §10.2.3), not
                // from the claim: a send can wait for its turn long after the claim.
                let failed_at = now_ms + started.elapsed().as_millis() as i64;
                self.on_error(e, m, slot, campaign, step, failed_at).await
            }
        }
    }

    fn outgoing(
        &self,
        m: &Claimed,
        campaign: &crate::campaign::Campaign,
        step: &crate::campaign::Step,
        shared: &Shared,
    ) -> Result<Outgoing, String> {
        let ch = campaign.channels.get(&m.channel).ok_or("unknown channel")?;
        let mut ctx = shared
            .for_snapshot(&m.context)
            .map_err(|e| format!("stored data unreadable: {e}"))?;
        let address = m.address.clone().unwrap_or_default();
        let target = Target {
            kind: ch.kind,
            template: &step.template,
            body_template: ch.body.as_deref(),
            address: &address,
            message_id: &m.message_id,
        };
        let rendered = render(&self.ws.renderer, &target, &mut ctx)
            .map_err(|e| format!("template error: {e}"))?;
        let unsubscribe_url = Some(format!(
            "{}/unsubscribe/{}",
            self.settings.public_url, m.message_id
        ));
        Ok(Outgoing {
            message_id: m.message_id.clone(),
            campaign: m.campaign.clone(),
            step: m.step.clone(),
            channel: m.channel.clone(),
            address,
            attempt: m.attempt,
            rendered,
            unsubscribe_url,
        })
    }

    async fn on_error(
        &self,
        e: ChannelError,
        m: &Claimed,
        slot: &Slot,
        campaign: &crate::campaign::Campaign,
        step: &crate::campaign::Step,
        now: Millis,
    ) -> (OutcomeKind, Option<NewMessage>) {
        match &e {
            ChannelError::Transient {
                slow_down: true, ..
            } => {
                if let Some(b) = &slot.bucket {
                    b.slow_down().await;
                }
            }
            ChannelError::Paused { until, .. } => {
                let until = until
                    .map(|t| t.timestamp_millis())
                    .unwrap_or(now + self.settings.retry.cap.as_millis() as i64);
                *slot.paused_until.lock().await = Some(until);
            }
            _ => {}
        }
        let fallback = match (&e, &step.fallback) {
            (
                ChannelError::Permanent {
                    no_account: true, ..
                },
                Some(f),
            ) if *f != m.channel => self.fallback_row(m, f, campaign, now),
            _ => None,
        };
        let u: f64 = rand_unit(m.id, m.attempt);
        let mut result = self.settings.retry.outcome(&e, m.attempt, now, u);
        if let OutcomeKind::Retry { at, .. } = &mut result {
            let local = campaign.calendar.tz.timestamp_millis_opt(*at).single();
            if let Some(l) = local {
                *at = crate::schedule::next_allowed(&campaign.calendar, l).timestamp_millis();
            }
        }
        (result, fallback)
    }

    fn fallback_row(
        &self,
        m: &Claimed,
        fallback: &str,
        campaign: &crate::campaign::Campaign,
        now: Millis,
    ) -> Option<NewMessage> {
        let ch = campaign.channels.get(fallback)?;
        let step = campaign.step(&m.step)?;
        let data: serde_json::Value = serde_json::from_str(&m.context).ok()?;
        let field = step.recipient_field(ch);
        let address = data
            .get("row")
            .and_then(|r| r.get(field))
            .map(crate::audience::key_string)
            .filter(|a| !a.is_empty());
        let state = match &address {
            Some(_) => NewState::Pending,
            None => NewState::Skipped {
                reason: format!("no {field} for the fallback"),
            },
        };
        Some(NewMessage {
            tag: message_tag(&m.campaign, &m.step, m.occurrence_n, &m.recipient, fallback),
            campaign: m.campaign.clone(),
            step: m.step.clone(),
            occurrence_id: m.occurrence_id,
            occurrence_at: m.occurrence_at,
            occurrence_n: m.occurrence_n,
            recipient: m.recipient.clone(),
            channel: fallback.to_string(),
            fallback_of: Some(m.id),
            address,
            state,
            next_attempt_at: now,
            expires_at: m.expires_at,
            context: m.context.clone(),
        })
    }
}

/// A uniform number in [0, 1) from the message and attempt: jitter without a random source,
/// reproducible in tests, and different for messages that failed together.
fn rand_unit(id: i64, attempt: u32) -> f64 {
    let mut x = (id as u64) ^ ((attempt as u64) << 32) ^ 0x9E37_79B9_7F4A_7C15;
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^= x >> 33;
    (x >> 11) as f64 / (1u64 << 53) as f64
}
