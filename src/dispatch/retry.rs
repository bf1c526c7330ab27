//! When to try again: capped exponential backoff with jitter, and what a channel error
//! means for the message (docs/reliability.md#rule-7).
//!
//! Transient errors are retried after `base · factor^(attempt-1)`, capped, ±jitter, or at the
//! provider's `Retry-After` when it is later; permanent errors fail the message at once;
//! `Paused` errors put the message back without counting the try and pause the channel.

use std::time::Duration;

use crate::channel::ChannelError;
use crate::store::{Millis, OutcomeKind};

/// Retry settings; the defaults suit real providers, tests shrink them.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub base: Duration,
    pub factor: f64,
    pub cap: Duration,
    /// ±fraction, e.g. 0.2 for ±20 %.
    pub jitter: f64,
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(30),
            factor: 2.0,
            cap: Duration::from_secs(3600),
            jitter: 0.2,
            max_attempts: 8,
        }
    }
}

impl RetryPolicy {
    /// The delay before attempt `attempt + 1`, given a uniform random `u` in [0, 1).
    pub fn delay(&self, attempt: u32, u: f64) -> Duration {
        let exp = self.factor.powi(attempt.saturating_sub(1).min(60) as i32);
        let raw = (self.base.as_secs_f64() * exp).min(self.cap.as_secs_f64());
        let spread = 1.0 + self.jitter * (2.0 * u - 1.0);
        Duration::from_secs_f64((raw * spread).max(0.0))
    }

    /// What happens to a message whose attempt `attempt` ended with `err` at `now`.
    pub fn outcome(&self, err: &ChannelError, attempt: u32, now: Millis, u: f64) -> OutcomeKind {
        match err {
            ChannelError::Transient {
                message,
                code,
                retry_after,
                ..
            } => {
                if attempt >= self.max_attempts {
                    let error = format!("{message} (gave up after {attempt} attempts)");
                    return OutcomeKind::Failed {
                        code: code.clone(),
                        error,
                    };
                }
                let backoff = self.delay(attempt, u).as_millis() as i64;
                let provider = retry_after.map(|d| d.as_millis() as i64).unwrap_or(0);
                OutcomeKind::Retry {
                    at: now + backoff.max(provider),
                    code: code.clone(),
                    error: message.clone(),
                }
            }
            ChannelError::Permanent { message, code, .. } => OutcomeKind::Failed {
                code: code.clone(),
                error: message.clone(),
            },
            ChannelError::Paused {
                message,
                code,
                until,
            } => {
                let at = until
                    .map(|t| t.timestamp_millis())
                    .unwrap_or(now + self.cap.as_millis() as i64);
                OutcomeKind::Retry {
                    at,
                    code: code.clone(),
                    error: format!("channel paused: {message}"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_secs(1),
            factor: 2.0,
            cap: Duration::from_secs(30),
            jitter: 0.2,
            max_attempts: 12,
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_within_the_jitter() {
        let p = policy();
        for attempt in 1..=10 {
            let expected = (2f64.powi(attempt as i32 - 1)).min(30.0);
            let low = p.delay(attempt, 0.0).as_secs_f64();
            let high = p.delay(attempt, 0.999_999).as_secs_f64();
            assert!(
                (low - 0.8 * expected).abs() < 1e-6,
                "attempt {attempt}: {low}"
            );
            assert!(
                (high - 1.2 * expected).abs() < 1e-3,
                "attempt {attempt}: {high}"
            );
        }
    }

    #[test]
    fn a_later_retry_after_wins_over_the_backoff() {
        let err = ChannelError::Transient {
            message: "429".into(),
            code: Some("429".into()),
            retry_after: Some(Duration::from_secs(5)),
            slow_down: true,
        };
        match policy().outcome(&err, 1, 1_000, 0.5) {
            OutcomeKind::Retry { at, .. } => assert_eq!(at, 6_000),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_permanent_error_fails_at_once_and_the_last_transient_one_too() {
        let perm = ChannelError::Permanent {
            message: "550".into(),
            code: Some("550".into()),
            no_account: false,
        };
        assert!(matches!(
            policy().outcome(&perm, 1, 0, 0.5),
            OutcomeKind::Failed { .. }
        ));
        let trans = ChannelError::Transient {
            message: "451".into(),
            code: None,
            retry_after: None,
            slow_down: false,
        };
        assert!(matches!(
            policy().outcome(&trans, 12, 0, 0.5),
            OutcomeKind::Failed { .. }
        ));
        assert!(matches!(
            policy().outcome(&trans, 11, 0, 0.5),
            OutcomeKind::Retry { .. }
        ));
    }
}
