//! `GET /healthz`: 200 `ok` while the ledger answers and dispatch keeps up; 503 with a
//! plain-text reason otherwise (docs/reliability.md#rule-12, #r3, #r7).
//!
//! Unhealthy when:
//!
//! - the last write to the ledger failed (disk full, read-only file, I/O error): at once,
//!   with SQLite's reason, until a write succeeds again ([`Store::write_failure`]);
//! - the database does not answer within [`HealthThresholds::db_timeout`];
//! - the oldest due message has waited longer than [`HealthThresholds::max_due_age`]
//!   (a backlog that is not draining, or a channel paused for hours);
//! - work is due and no send has succeeded for [`HealthThresholds::max_silence`]: the
//!   silence counts from the latest of the last success, the moment the oldest due
//!   message became due, and the process start — so a daemon waking to new work after a
//!   quiet night is not called stalled.
//!
//! The route needs no authentication and says nothing but these figures.

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::get;

use super::WebState;
use super::error::WebError;
use crate::store::Millis;
#[cfg(doc)]
use crate::store::Store;

/// When `/healthz` turns 503.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthThresholds {
    pub max_due_age: Duration,
    pub max_silence: Duration,
    pub db_timeout: Duration,
}

impl Default for HealthThresholds {
    /// A backlog may take a while to drain under rate limits (10,000 messages at 20/s is
    /// over 8 minutes), so the age limit is generous; a stall is caught by the silence.
    fn default() -> Self {
        Self {
            max_due_age: Duration::from_secs(30 * 60),
            max_silence: Duration::from_secs(120),
            db_timeout: Duration::from_secs(2),
        }
    }
}

pub(super) fn router() -> Router<WebState> {
    Router::new().route("/healthz", get(healthz))
}

async fn healthz(State(state): State<WebState>) -> Result<&'static str, WebError> {
    let limits = state.health();
    if let Some(why) = state.store().write_failure() {
        return Err(WebError::Unhealthy(format!(
            "the message ledger cannot be written: {why}"
        )));
    }
    let now = state.now();
    let answered = tokio::time::timeout(limits.db_timeout, async {
        state.store().ping().await?;
        // With the daemon's channels an index seek each, however long the backlog (a walk
        // over 2,000,000 pending messages would outlast the timeout).
        state.oldest_due(now).await
    })
    .await;
    let oldest_due = match answered {
        Ok(Ok(oldest)) => oldest,
        Ok(Err(e)) => {
            tracing::warn!(error = %format!("{e:#}"), "health: the database failed");
            return Err(WebError::Unhealthy("database unavailable".into()));
        }
        Err(_) => {
            return Err(WebError::Unhealthy(
                "database did not answer in time".into(),
            ));
        }
    };
    let metrics = state.metrics();
    let since = metrics
        .last_success()
        .unwrap_or(0)
        .max(metrics.started_at());
    judge(now, oldest_due, since, &limits).map_err(WebError::Unhealthy)?;
    Ok("ok\n")
}

/// The verdict at `now`: `oldest_due` is when the oldest due message became due, `since`
/// the later of the last success and the process start.
fn judge(
    now: Millis,
    oldest_due: Option<Millis>,
    since: Millis,
    limits: &HealthThresholds,
) -> Result<(), String> {
    let Some(due) = oldest_due else {
        return Ok(());
    };
    let waited = now - due;
    let max_age = millis(limits.max_due_age);
    if waited > max_age {
        return Err(format!(
            "oldest due message has waited {} s (limit {} s)",
            waited / 1000,
            max_age / 1000
        ));
    }
    let silent = now - since.max(due);
    let max_silence = millis(limits.max_silence);
    if silent > max_silence {
        return Err(format!(
            "no message sent for {} s while work is due (limit {} s)",
            silent / 1000,
            max_silence / 1000
        ));
    }
    Ok(())
}

fn millis(d: Duration) -> Millis {
    Millis::try_from(d.as_millis()).unwrap_or(Millis::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = 10_000_000;
    const S: Millis = 1000;

    fn limits() -> HealthThresholds {
        HealthThresholds {
            max_due_age: Duration::from_secs(600),
            max_silence: Duration::from_secs(60),
            db_timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn nothing_due_is_healthy_however_long_since_the_last_send() {
        assert_eq!(judge(NOW, None, 0, &limits()), Ok(()));
    }

    #[test]
    fn work_due_with_recent_sends_is_healthy() {
        assert_eq!(
            judge(NOW, Some(NOW - 300 * S), NOW - 5 * S, &limits()),
            Ok(())
        );
    }

    #[test]
    fn work_that_just_fell_due_after_a_quiet_night_is_not_a_stall() {
        assert_eq!(
            judge(NOW, Some(NOW - 30 * S), NOW - 36_000 * S, &limits()),
            Ok(())
        );
    }

    #[test]
    fn work_due_with_no_send_for_longer_than_the_silence_is_a_stall() {
        let verdict = judge(NOW, Some(NOW - 200 * S), NOW - 61 * S, &limits());
        assert_eq!(
            verdict,
            Err("no message sent for 61 s while work is due (limit 60 s)".into())
        );
    }

    #[test]
    fn a_message_waiting_past_the_age_limit_is_unhealthy_even_while_others_go() {
        let verdict = judge(NOW, Some(NOW - 601 * S), NOW - S, &limits());
        assert_eq!(
            verdict,
            Err("oldest due message has waited 601 s (limit 600 s)".into())
        );
    }
}
