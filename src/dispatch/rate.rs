//! Per-channel rate limits: a token bucket filled at `rate:` messages per second.
//!
//! The bucket holds at most one second's worth of tokens (at least one), so a burst never
//! exceeds the rate by more than that (docs/reliability.md#r5). It starts empty: a process does
//! not know what the one before it sent in its last second (a restart after a crash,
//! docs/reliability.md#r1), and its first messages reach the provider late — connection setup —
//! so a full bucket at start let the provider see more than rate + burst in its first window.
//! `slow_down` halves the rate for a minute after a provider says it is overwhelmed (SMTP
//! 421/454, HTTP 429).

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

#[derive(Debug)]
pub(crate) struct TokenBucket {
    inner: Mutex<State>,
}

#[derive(Debug)]
struct State {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
    slow_until: Option<Instant>,
}

impl TokenBucket {
    pub(crate) fn new(per_second: f64) -> Self {
        let capacity = per_second.max(1.0);
        Self {
            inner: Mutex::new(State {
                rate: per_second,
                capacity,
                tokens: 0.0,
                last: Instant::now(),
                slow_until: None,
            }),
        }
    }

    /// Waits until one token is available and takes it.
    pub(crate) async fn acquire(&self) {
        loop {
            let (taken, wait) = self.take_up_to(1).await;
            if taken == 1 {
                return;
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// Takes as many whole tokens as there are, up to `max`, without waiting. Returns how
    /// many it took and, when that is none, how long until the next one. The pump takes
    /// tokens before it claims, so a leased message is sent at once: a lease never waits
    /// for the rate limit, and cannot run out while its process is alive and well.
    pub(crate) async fn take_up_to(&self, max: usize) -> (usize, Duration) {
        let mut s = self.inner.lock().await;
        let now = Instant::now();
        let rate = match s.slow_until {
            Some(t) if t > now => s.rate / 2.0,
            _ => s.rate,
        };
        let elapsed = now.duration_since(s.last).as_secs_f64();
        s.tokens = (s.tokens + elapsed * rate).min(s.capacity);
        s.last = now;
        let taken = (s.tokens.floor() as usize).min(max);
        s.tokens -= taken as f64;
        let wait = if taken > 0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - s.tokens) / rate)
        };
        (taken, wait)
    }

    /// Returns tokens taken but not used (the claim found fewer messages than tokens).
    pub(crate) async fn give_back(&self, tokens: usize) {
        let mut s = self.inner.lock().await;
        s.tokens = (s.tokens + tokens as f64).min(s.capacity);
    }

    /// Halves the rate for the next minute.
    pub(crate) async fn slow_down(&self) {
        let mut s = self.inner.lock().await;
        s.slow_until = Some(Instant::now() + Duration::from_secs(60));
        s.tokens = s.tokens.min(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_new_bucket_of_10_per_second_lets_10_through_per_second_without_a_burst() {
        let bucket = TokenBucket::new(10.0);
        let start = Instant::now();
        for _ in 0..20 {
            bucket.acquire().await;
        }
        let elapsed = start.elapsed().as_secs_f64();
        assert!((1.9..=2.1).contains(&elapsed), "{elapsed}");
    }

    #[tokio::test(start_paused = true)]
    async fn taking_many_takes_only_whole_tokens_and_says_when_the_next_one_comes() {
        let bucket = TokenBucket::new(10.0);
        assert_eq!(bucket.take_up_to(5).await, (0, Duration::from_millis(100)));
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert_eq!(bucket.take_up_to(5).await.0, 3);
        let (none, wait) = bucket.take_up_to(5).await;
        assert_eq!(none, 0);
        assert!((49..=51).contains(&wait.as_millis()), "{wait:?}");
        bucket.give_back(2).await;
        assert_eq!(bucket.take_up_to(5).await.0, 2);
        // Never more than one second's worth, however long it idled.
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(bucket.take_up_to(100).await.0, 10);
    }

    #[tokio::test(start_paused = true)]
    async fn after_an_idle_second_a_bucket_of_10_per_second_lets_20_through_in_one_second() {
        let bucket = TokenBucket::new(10.0);
        tokio::time::sleep(Duration::from_secs(5)).await;
        let start = Instant::now();
        for _ in 0..20 {
            bucket.acquire().await;
        }
        // 10 from the full bucket, then 10 more at 10/s.
        let elapsed = start.elapsed().as_secs_f64();
        assert!((0.9..=1.1).contains(&elapsed), "{elapsed}");
    }

    #[tokio::test(start_paused = true)]
    async fn slow_down_halves_the_rate() {
        let bucket = TokenBucket::new(10.0);
        bucket.slow_down().await;
        let start = Instant::now();
        // An empty bucket: 10 at 5/s.
        for _ in 0..10 {
            bucket.acquire().await;
        }
        let elapsed = start.elapsed().as_secs_f64();
        assert!((1.9..=2.1).contains(&elapsed), "{elapsed}");
    }
}
