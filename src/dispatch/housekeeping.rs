//! The daemon's round of housekeeping over the ledger, as one testable step: enqueue what
//! fell due, rescue the leases of crashed processes, expire rows whose window closed.
//!
//! The daemon calls [`housekeeping`] every poll and wakes the pump when it made messages
//! due; it decides only how often expiry runs.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use chrono::Utc;
use tracing::{info, warn};

use super::enqueue::enqueue_due;
use crate::campaign::{Campaign, Status, Workspace};
use crate::metrics::Metrics;
use crate::store::Store;

/// Where a campaign stands against its period on the local date of its time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// The period starts on this date, after today.
    Waiting(chrono::NaiveDate),
    Running,
    /// The period ended on this date, before today.
    Ended(chrono::NaiveDate),
}

/// Where `c` stands at `now` (the daemon's start-up block and the rounds' log say it).
pub(crate) fn phase(c: &Campaign, now: chrono::DateTime<Utc>) -> Phase {
    let today = now.with_timezone(&c.calendar.tz).date_naive();
    let period = &c.calendar.period;
    if period.end < today {
        Phase::Ended(period.end)
    } else if period.start > today {
        Phase::Waiting(period.start)
    } else {
        Phase::Running
    }
}

/// One round of housekeeping: after a failed write, check whether the ledger takes writes
/// again ([`Store::check_writable`]); enqueue due occurrences of active campaigns, rescue
/// leases of crashed processes, and (when `expire`) expire rows whose window closed.
/// Returns how many messages it made due (inserted or rescued), so the caller can wake the
/// dispatcher.
pub(crate) async fn housekeeping(
    store: &Store,
    ws: &Arc<Workspace>,
    max_attempts: u32,
    grace: Duration,
    expire: bool,
    metrics: Option<&Metrics>,
) -> Result<u64> {
    let now = Utc::now();
    store.check_writable(now.timestamp_millis()).await;
    let mut due = 0;
    for (i, c) in ws.campaigns.iter().enumerate() {
        if c.status != Status::Active {
            continue;
        }
        let stats = enqueue_due(store, ws, i, now, None, grace).await?;
        if let Phase::Ended(end) = phase(c, now)
            && stats.occurrences == 0
        {
            // A daemon started after the period records every occurrence as missed at
            // once; "missed=68" reads as a fault, when the campaign is simply over.
            if stats.missed > 0 {
                info!(campaign = %c.id, ended = %end, "campaign ended: its period is over, nothing more to send");
            }
        } else if stats.occurrences > 0 || stats.missed > 0 {
            info!(campaign = %c.id, occurrences = stats.occurrences, inserted = stats.inserted, missed = stats.missed, "enqueued");
        }
        due += stats.inserted;
    }
    let now_ms = now.timestamp_millis();
    let rescued = store.rescue_expired(now_ms, max_attempts).await?;
    if rescued > 0 {
        warn!(rescued, "leases of a stopped process were rescued");
        if let Some(m) = metrics {
            m.leases_rescued(rescued);
        }
    }
    if expire {
        store.expire_closed(now_ms).await?;
    }
    Ok(due + rescued)
}
