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
use crate::campaign::{Status, Workspace};
use crate::metrics::Metrics;
use crate::store::Store;

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
        if stats.occurrences > 0 || stats.missed > 0 {
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
