//! The ledger's message counts by campaign, channel and state, as `/metrics` and the
//! dashboard's first page show them, counted at most once at a time and reused while young.
//!
//! Counting is a walk over the whole `message` table: about a second with 2,000,000
//! messages (`bench_delivery health 2000000`), however few states there are. A Prometheus
//! scrape every 15 s and a few staff keeping the dashboard open would each pay that, on the
//! readers beside the sending daemon. So a count that took [`WORTH_KEEPING`] or longer is
//! reused for ten times what it took (at most [`MAX_AGE`]): counting then costs at most a
//! tenth of one reader, whatever the ledger's size or the number of viewers. A count
//! quicker than that is not kept, so a ledger of ordinary size is counted afresh on every
//! request, as before. Requests that arrive while a count runs wait for it and share it.
//! A change made on the dashboard ([`Figures::forget`]) is seen on the next page.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::store::{StateCount, Store};

/// Counts that took less than this are not reused.
pub const WORTH_KEEPING: Duration = Duration::from_millis(50);

/// The oldest a reused count may be.
pub const MAX_AGE: Duration = Duration::from_secs(60);

/// One count and how it was taken.
#[derive(Clone, Debug)]
pub struct Reading {
    pub counts: Arc<Vec<StateCount>>,
    /// When the count started: the figures are at least this old.
    pub started: Instant,
    pub took: Duration,
}

impl Reading {
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

/// The last count, shared by every clone of the web state.
#[derive(Clone, Default)]
pub struct Figures {
    last: Arc<Mutex<Option<Reading>>>,
}

impl Figures {
    /// The counts of `store`: the last reading while it is fresh, else a new one.
    pub async fn counts(&self, store: &Store) -> anyhow::Result<Reading> {
        self.counts_with(|| store.state_counts()).await
    }

    async fn counts_with<F, Fut>(&self, count: F) -> anyhow::Result<Reading>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = anyhow::Result<Vec<StateCount>>>,
    {
        // Held while counting: the requests arriving meanwhile wait and take this count.
        let mut last = self.last.lock().await;
        if let Some(reading) = last.as_ref()
            && reading.fresh_at(Instant::now())
        {
            return Ok(reading.clone());
        }
        let started = Instant::now();
        let counts = Arc::new(count().await?);
        let reading = Reading {
            counts,
            started,
            took: started.elapsed(),
        };
        *last = Some(reading.clone());
        Ok(reading)
    }

    /// Drops the last count: the next request counts again (after a dashboard action).
    pub async fn forget(&self) {
        *self.last.lock().await = None;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn reading(took: Duration) -> (Reading, Instant) {
        let started = Instant::now();
        let r = Reading {
            counts: Arc::new(Vec::new()),
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
                state: "sent".into(),
                count: n,
                last_change: 0,
            }])
        }
    }

    #[tokio::test]
    async fn requests_during_a_slow_count_share_it_and_forget_makes_the_next_count_again() {
        let figures = Figures::default();
        let calls = AtomicUsize::new(0);
        // 300 ms to count: reused for 3 s, far more than the two requests need.
        let slow = Duration::from_millis(300);
        let (a, b) = tokio::join!(
            figures.counts_with(|| count(&calls, slow)),
            figures.counts_with(|| count(&calls, slow)),
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1, "one count for both");
        assert_eq!(a.unwrap().counts, b.unwrap().counts);
        let again = figures.counts_with(|| count(&calls, slow)).await.unwrap();
        assert_eq!(
            (calls.load(Ordering::SeqCst), again.counts[0].count),
            (1, 0)
        );
        figures.forget().await;
        let after = figures.counts_with(|| count(&calls, slow)).await.unwrap();
        assert_eq!(
            (calls.load(Ordering::SeqCst), after.counts[0].count),
            (2, 1)
        );
    }

    #[tokio::test]
    async fn quick_counts_are_taken_afresh_each_time() {
        let figures = Figures::default();
        let calls = AtomicUsize::new(0);
        for expected in 0..3 {
            let r = figures
                .counts_with(|| count(&calls, Duration::ZERO))
                .await
                .unwrap();
            assert_eq!(r.counts[0].count, expected);
        }
    }
}
