//! Per-channel rate limits: a token bucket filled at `rate:` messages per second.
//!
//! The bucket holds at most one second's worth of tokens (at least one), so a burst never
//! exceeds the rate by more than that (R5). It starts empty: a process does not know what
//! the one before it sent in its last second (a restart after a crash, R1), and its first
//! messages reach the provider late — connection setup — so a full bucket at start let the
//! provider see more than rate + burst in its first window. `slow_down` halves the rate for
//! a minute after a provider says it is overwhelmed (SMTP 421/454, HTTP 429).

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

#[derive(Debug)]
pub struct TokenBucket {
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
    pub fn new(per_second: f64) -> Self {
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
    pub async fn acquire(&self) {
        loop {
            let wait = {
                let mut s = self.inner.lock().await;
                let now = Instant::now();
                let rate = match s.slow_until {
                    Some(t) if t > now => s.rate / 2.0,
                    _ => s.rate,
                };
                let elapsed = now.duration_since(s.last).as_secs_f64();
                s.tokens = (s.tokens + elapsed * rate).min(s.capacity);
                s.last = now;
                if s.tokens >= 1.0 {
                    s.tokens -= 1.0;
                    return;
                }
                Duration::from_secs_f64((1.0 - s.tokens) / rate)
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Halves the rate for the next minute.
    pub async fn slow_down(&self) {
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
