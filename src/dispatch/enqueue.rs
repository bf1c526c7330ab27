//! Turning due occurrences into message rows (SPEC §3: `where` is evaluated when an
//! occurrence is enqueued, on the data as it is then).
//!
//! Every message is a row before it is sent. Expansion streams the audience on a blocking
//! thread and hands bounded batches to the inserter, so memory does not grow with the
//! audience. Inserts are idempotent (UNIQUE key, `ON CONFLICT DO NOTHING`); the occurrence is
//! marked enqueued only after its last batch, so a crash half-way simply runs it again.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context as _, Result};
use chrono::{DateTime, NaiveTime, TimeZone, Utc};
use tokio::sync::mpsc;

use crate::campaign::context::{Shared, snapshot};
use crate::campaign::select::{address, joins, recipients, selects};
use crate::campaign::{Campaign, Step, Workspace};
use crate::schedule::{self, Occurrence};
use crate::store::{Millis, NewMessage, NewState, Store, message_id};

/// Rows inserted per transaction.
pub const BATCH: usize = 10_000;

/// Rows per transaction in this process: [`BATCH`] unless `loa run --enqueue-batch` set it
/// (the reliability tests make an occurrence span several batches to crash half-way, R2).
static BATCH_ROWS: AtomicUsize = AtomicUsize::new(BATCH);

/// Sets the rows inserted per transaction for the rest of the process (at least 1).
pub fn set_batch_rows(rows: usize) {
    BATCH_ROWS.store(rows.max(1), Ordering::Relaxed);
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct EnqueueStats {
    pub occurrences: u64,
    pub inserted: u64,
    pub missed: u64,
}

/// Enqueues every occurrence of `campaign` that is due at `now` (and not before
/// `not_before`) and not yet enqueued. An occurrence first seen more than `grace` after its
/// time is recorded as missed and sends nothing (R9: a daemon that was down does not fire
/// old reminders on its own).
pub async fn enqueue_due(
    store: &Store,
    ws: &Arc<Workspace>,
    campaign: usize,
    now: DateTime<Utc>,
    not_before: Option<DateTime<Utc>>,
    grace: Duration,
) -> Result<EnqueueStats> {
    let c = &ws.campaigns[campaign];
    let mut stats = EnqueueStats::default();
    for (step_index, step) in c.steps.iter().enumerate() {
        let occ = schedule::occurrences(&c.calendar, &step.schedule)
            .with_context(|| format!("step {}", step.id))?;
        for o in occ
            .kept
            .iter()
            .filter(|o| o.at <= now && not_before.is_none_or(|nb| o.at >= nb))
        {
            let at = o.at.timestamp_millis();
            let existing = store.find_occurrence(&c.id, &step.id, o.n).await?;
            if existing
                .as_ref()
                .is_some_and(|r| r.enqueued_at.is_some() || r.missed_at.is_some())
            {
                continue;
            }
            let row = store.occurrence(&c.id, &step.id, o.n, at).await?;
            let late = now.signed_duration_since(o.at).to_std().unwrap_or_default();
            if existing.is_none() && late > grace {
                store.mark_missed(row.id, now.timestamp_millis()).await?;
                stats.missed += 1;
                continue;
            }
            stats.inserted += expand(
                store,
                ws,
                campaign,
                step_index,
                o,
                row.id,
                now.timestamp_millis(),
            )
            .await?;
            store.mark_enqueued(row.id, now.timestamp_millis()).await?;
            stats.occurrences += 1;
        }
    }
    Ok(stats)
}

/// The end of the step's window, as UTC milliseconds: after it a pending message expires.
pub fn expires_at(c: &Campaign, step: &Step) -> Millis {
    let end = step
        .schedule
        .window
        .end
        .succ_opt()
        .unwrap_or(step.schedule.window.end);
    let local = end.and_time(NaiveTime::MIN);
    c.calendar
        .tz
        .from_local_datetime(&local)
        .earliest()
        .map(|t| t.timestamp_millis())
        .unwrap_or(Millis::MAX)
}

async fn expand(
    store: &Store,
    ws: &Arc<Workspace>,
    campaign: usize,
    step: usize,
    o: &Occurrence,
    occurrence_id: i64,
    now: Millis,
) -> Result<u64> {
    let (tx, mut rx) = mpsc::channel::<Vec<NewMessage>>(2);
    let ws2 = Arc::clone(ws);
    let o = o.clone();
    let producer = tokio::task::spawn_blocking(move || {
        produce(&ws2, campaign, step, &o, occurrence_id, now, &tx)
    });
    let mut inserted = 0;
    while let Some(batch) = rx.recv().await {
        inserted += store.insert_messages(&batch, now).await?;
        super::failpoint::hit(super::failpoint::Point::MidEnqueue);
    }
    producer.await.context("expansion thread")??;
    Ok(inserted)
}

/// Streams the audience and sends batches of rows; runs on a blocking thread.
fn produce(
    ws: &Workspace,
    campaign: usize,
    step: usize,
    o: &Occurrence,
    occurrence_id: i64,
    now: Millis,
    tx: &mpsc::Sender<Vec<NewMessage>>,
) -> Result<()> {
    let c = &ws.campaigns[campaign];
    let s = &c.steps[step];
    let shared = Shared::new(c, s, &s.channels[0], o.at, o.n);
    let joined = joins(c, &s.audience)?;
    let base = Base {
        campaign: c,
        step: s,
        occurrence_id,
        at: o.at.timestamp_millis(),
        n: o.n,
        now,
        expires: expires_at(c, s),
    };
    let rows = BATCH_ROWS.load(Ordering::Relaxed);
    let mut batch = Vec::with_capacity(rows);
    for r in recipients(c, &s.audience, &joined)?.flatten() {
        let ctx = shared.for_recipient(&r);
        if !selects(&ws.renderer, c, s, &ctx)
            .with_context(|| format!("step {}: `where` on line {}", s.id, r.line))?
        {
            continue;
        }
        base.rows(&r, &mut batch);
        if batch.len() >= rows && tx.blocking_send(std::mem::take(&mut batch)).is_err() {
            return Ok(());
        }
    }
    if !batch.is_empty() {
        let _ = tx.blocking_send(batch);
    }
    Ok(())
}

struct Base<'a> {
    campaign: &'a Campaign,
    step: &'a Step,
    occurrence_id: i64,
    at: Millis,
    n: u32,
    now: Millis,
    expires: Millis,
}

impl Base<'_> {
    /// One row per channel of the step; a channel without an address becomes `skipped`, and
    /// the fallback channel (if any) gets a row instead.
    fn rows(&self, r: &crate::audience::recipients::Recipient, out: &mut Vec<NewMessage>) {
        let context = snapshot(r);
        let mut need_fallback = None;
        for name in &self.step.channels {
            let Some(ch) = self.campaign.channels.get(name) else {
                continue;
            };
            match address(self.step, ch, r) {
                Ok(a) => out.push(self.row(r, name, Some(a), NewState::Pending, &context)),
                Err(reason) => {
                    let why = match &self.step.fallback {
                        Some(f) => format!("{reason}; sent by {f} instead"),
                        None => reason.clone(),
                    };
                    out.push(self.row(r, name, None, NewState::Skipped { reason: why }, &context));
                    need_fallback = Some(reason);
                }
            }
        }
        if need_fallback.is_some()
            && let Some(f) = &self.step.fallback
            && let Some(ch) = self.campaign.channels.get(f)
        {
            let row = match address(self.step, ch, r) {
                Ok(a) => self.row(r, f, Some(a), NewState::Pending, &context),
                Err(reason) => self.row(r, f, None, NewState::Skipped { reason }, &context),
            };
            out.push(row);
        }
    }

    fn row(
        &self,
        r: &crate::audience::recipients::Recipient,
        channel: &str,
        address: Option<String>,
        state: NewState,
        context: &str,
    ) -> NewMessage {
        NewMessage {
            message_id: message_id(&self.campaign.id, &self.step.id, self.n, &r.key, channel),
            campaign: self.campaign.id.clone(),
            step: self.step.id.clone(),
            occurrence_id: self.occurrence_id,
            occurrence_at: self.at,
            occurrence_n: self.n,
            recipient: r.key.clone(),
            channel: channel.to_string(),
            fallback_of: None,
            address,
            state,
            next_attempt_at: self.now.max(self.at),
            expires_at: self.expires,
            context: context.to_string(),
        }
    }
}
