//! What `/metrics` and the dashboard count in the ledger, counted once at a time and
//! reused while young.
//!
//! Counting messages by state is a walk over the whole `message` table: about 1.3 s with
//! 2,000,000 messages (`bench_delivery health 2000000`), and a campaign's page walks that
//! campaign's messages more than once. A Prometheus scrape every 15 s and a few staff
//! keeping the dashboard open would each pay that, on the readers beside the sending
//! daemon. So a count that took [`WORTH_KEEPING`] or longer is reused for ten times what
//! it took (at most [`MAX_AGE`]): counting then costs at most a tenth of one reader,
//! whatever the ledger's size or the number of viewers. A count quicker than that is not
//! kept, so a ledger of ordinary size is counted afresh on every request, as before.
//! Requests that arrive while a count runs wait for it and share it. A change made on the
//! dashboard ([`Figures::forget`]) is seen on the next page.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::store::{FailedMessage, OccurrenceFigures, StateCount, StatusRow, Store};

/// Counts that took less than this are not reused.
pub(crate) const WORTH_KEEPING: Duration = Duration::from_millis(50);

/// The oldest a reused count may be.
pub(crate) const MAX_AGE: Duration = Duration::from_secs(60);

/// One count and how it was taken.
#[derive(Debug)]
pub struct Reading<T> {
    pub value: Arc<T>,
    /// When the count started: the figures are at least this old.
    pub started: Instant,
    pub took: Duration,
}

impl<T> Clone for Reading<T> {
    fn clone(&self) -> Self {
        Reading {
            value: Arc::clone(&self.value),
            started: self.started,
            took: self.took,
        }
    }
}

impl<T> Reading<T> {
    /// Whether this count may still be shown at `now` instead of counting again.
    fn fresh_at(&self, now: Instant) -> bool {
        self.took >= WORTH_KEEPING
            && now.saturating_duration_since(self.started) < (self.took * 10).min(MAX_AGE)
    }

    /// How old the figures are at `now`.
    pub fn age_at(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.started)
    }
}

/// The last reading of one figure.
struct Kept<T> {
    last: Mutex<Option<Reading<T>>>,
}

impl<T> Default for Kept<T> {
    fn default() -> Self {
        Kept {
            last: Mutex::new(None),
        }
    }
}

impl<T> Kept<T> {
    /// The last reading while it is fresh, else a new one by `count`.
    async fn get<F, Fut>(&self, count: F) -> anyhow::Result<Reading<T>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = anyhow::Result<T>>,
    {
        // Held while counting: the requests arriving meanwhile wait and take this count.
        let mut last = self.last.lock().await;
        if let Some(reading) = last.as_ref()
            && reading.fresh_at(Instant::now())
        {
            return Ok(reading.clone());
        }
        let started = Instant::now();
        let value = Arc::new(count().await?);
        let reading = Reading {
            value,
            started,
            took: started.elapsed(),
        };
        *last = Some(reading.clone());
        Ok(reading)
    }

    async fn forget(&self) {
        *self.last.lock().await = None;
    }
}

/// What a campaign's page counts: its messages by step, channel and state, its
/// occurrences with their messages by state, and its latest failures.
#[derive(Debug)]
pub struct CampaignFigures {
    pub status: Vec<StatusRow>,
    pub occurrences: Vec<OccurrenceFigures>,
    pub failed: Vec<FailedMessage>,
}

/// The last counts, shared by every clone of the web state.
#[derive(Clone, Default)]
pub struct Figures {
    all: Arc<Kept<Vec<StateCount>>>,
    /// By campaign id; only campaigns that exist get here (the page checks first).
    campaigns: Arc<std::sync::Mutex<HashMap<String, Arc<Kept<CampaignFigures>>>>>,
}

impl Figures {
    /// Every campaign's messages by channel and state ([`Store::state_counts`]).
    pub async fn counts(&self, store: &Store) -> anyhow::Result<Reading<Vec<StateCount>>> {
        self.all.get(|| store.state_counts()).await
    }

    /// What the page of `campaign` shows of its messages, with at most `failures` of the
    /// failed ones.
    pub async fn campaign(
        &self,
        store: &Store,
        campaign: &str,
        failures: u32,
    ) -> anyhow::Result<Reading<CampaignFigures>> {
        let kept = {
            let mut map = self.campaigns.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(map.entry(campaign.to_owned()).or_default())
        };
        kept.get(|| async {
            let (status, occurrences) = store.campaign_breakdown(campaign).await?;
            Ok(CampaignFigures {
                status,
                occurrences,
                failed: store.failed_messages(campaign, failures).await?,
            })
        })
        .await
    }

    /// Drops every kept count: the next request counts again (after a dashboard action).
    pub async fn forget(&self) {
        self.all.forget().await;
        let kept: Vec<_> = {
            let map = self.campaigns.lock().unwrap_or_else(|e| e.into_inner());
            map.values().cloned().collect()
        };
        for k in kept {
            k.forget().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn reading(took: Duration) -> (Reading<()>, Instant) {
        let started = Instant::now();
        let r = Reading {
            value: Arc::new(()),
            started,
            took,
        };
        (r, started)
    }

    #[test]
    fn a_slow_count_is_reused_for_ten_times_what_it_took_and_a_quick_one_never() {
        let (slow, t0) = reading(Duration::from_millis(1_200));
        assert!(slow.fresh_at(t0 + Duration::from_secs(11)));
        assert!(!slow.fresh_at(t0 + Duration::from_secs(12)));
        let (slowest, t0) = reading(Duration::from_secs(30));
        assert!(slowest.fresh_at(t0 + Duration::from_secs(59)));
        assert!(!slowest.fresh_at(t0 + MAX_AGE), "never older than a minute");
        let (quick, t0) = reading(WORTH_KEEPING - Duration::from_millis(1));
        assert!(
            !quick.fresh_at(t0),
            "an ordinary ledger is counted every time"
        );
        assert_eq!(
            quick.age_at(t0 + Duration::from_secs(3)),
            Duration::from_secs(3)
        );
    }

    fn count(
        calls: &AtomicUsize,
        took: Duration,
    ) -> impl Future<Output = anyhow::Result<Vec<StateCount>>> {
        let n = calls.fetch_add(1, Ordering::SeqCst) as u64;
        async move {
            tokio::time::sleep(took).await;
            Ok(vec![StateCount {
                campaign: "c".into(),
                channel: "email".into(),
                state: crate::store::MessageState::Sent,
                count: n,
                last_change: 0,
            }])
        }
    }

    #[tokio::test]
    async fn requests_during_a_slow_count_share_it_and_forget_makes_the_next_count_again() {
        let figures = Kept::default();
        let calls = AtomicUsize::new(0);
        // 300 ms to count: reused for 3 s, far more than the two requests need.
        let slow = Duration::from_millis(300);
        let (a, b) = tokio::join!(
            figures.get(|| count(&calls, slow)),
            figures.get(|| count(&calls, slow)),
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1, "one count for both");
        assert_eq!(a.unwrap().value, b.unwrap().value);
        let again = figures.get(|| count(&calls, slow)).await.unwrap();
        assert_eq!((calls.load(Ordering::SeqCst), again.value[0].count), (1, 0));
        figures.forget().await;
        let after = figures.get(|| count(&calls, slow)).await.unwrap();
        assert_eq!((calls.load(Ordering::SeqCst), after.value[0].count), (2, 1));
    }

    #[tokio::test]
    async fn quick_counts_are_taken_afresh_each_time() {
        let figures = Kept::default();
        let calls = AtomicUsize::new(0);
        for expected in 0..3 {
            let r = figures.get(|| count(&calls, Duration::ZERO)).await.unwrap();
            assert_eq!(r.value[0].count, expected);
        }
    }
}
