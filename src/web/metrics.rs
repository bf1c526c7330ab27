//! `GET /metrics`: the daemon's figures in the Prometheus text exposition format
//! (version 0.0.4), over the ledger and [`Metrics`] (`crate::metrics`), the counters the
//! dispatcher and the callback routes bump.
//!
//! Ledger figures (`loa_messages`, `loa_oldest_due_pending_seconds`) are read from the
//! database at each scrape, so they are right after a restart; counters live in memory
//! and start at 0 with the process, as Prometheus counters may.
//!
//! The text is written by hand: seven families with fixed label sets do not need a
//! registry crate, and writing them here keeps every label in view — labels carry campaign
//! ids, channel names, states, classes and reasons, never recipient data
//! (docs/reliability.md#r16). With `LOA_METRICS_TOKEN` set, a scrape must send
//! `Authorization: Bearer <token>` (compared in constant time).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use subtle::ConstantTimeEq;

use super::WebState;
use super::error::WebError;
pub(crate) use crate::metrics::AttemptClass;
pub use crate::metrics::Metrics;
use crate::metrics::Rejection;
use crate::store::{MessageState, Millis, StateCount};

pub(super) fn router() -> Router<WebState> {
    Router::new().route("/metrics", get(scrape))
}

async fn scrape(State(state): State<WebState>, headers: HeaderMap) -> Result<Response, WebError> {
    if let Some(token) = state.keys().metrics_token()
        && !bearer_matches(&headers, token.expose().as_bytes())
    {
        return Err(WebError::Unauthorized);
    }
    let now = state.now();
    let reading = state.counts().await.map_err(WebError::internal)?;
    let oldest = state.oldest_due(now).await.map_err(WebError::internal)?;
    let ledger = Ledger {
        counts: &reading.value,
        counted_ago: reading.age_at(Instant::now()),
        oldest_due_age: oldest.map(|t| now - t),
    };
    let text = exposition(&ledger, state.metrics());
    let content_type = HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8");
    Ok(([(header::CONTENT_TYPE, content_type)], text).into_response())
}

/// Whether `Authorization` is `Bearer <token>`, compared in constant time.
fn bearer_matches(headers: &HeaderMap, token: &[u8]) -> bool {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return false;
    };
    let Some(given) = value.as_bytes().strip_prefix(b"Bearer ") else {
        return false;
    };
    // `ct_eq` on slices of different lengths is false without comparing bytes.
    bool::from(given.ct_eq(token))
}

/// What the exposition says of the ledger.
struct Ledger<'a> {
    counts: &'a [StateCount],
    /// How long ago `counts` were counted ([`super::figures`] keeps a slow count).
    counted_ago: Duration,
    /// In ms.
    oldest_due_age: Option<Millis>,
}

/// The whole exposition.
fn exposition(ledger: &Ledger<'_>, m: &Metrics) -> String {
    let mut out = String::new();
    ledger_families(&mut out, ledger);
    counter_families(&mut out, m);
    out
}

/// The figures read from the ledger: every state of each (campaign, channel) that has a
/// message, zeros included, how long ago they were counted, and the age of the oldest
/// due message.
fn ledger_families(out: &mut String, ledger: &Ledger<'_>) {
    let counts = ledger.counts;
    family(out, "loa_messages", "gauge", "Messages in the ledger.");
    let mut groups: Vec<(&str, &str)> = counts
        .iter()
        .map(|c| (c.campaign.as_str(), c.channel.as_str()))
        .collect();
    groups.dedup();
    for (campaign, channel) in groups {
        for state in MessageState::ALL {
            let n = counts
                .iter()
                .find(|c| c.campaign == campaign && c.channel == channel && c.state == state)
                .map_or(0, |c| c.count);
            let labels = [
                ("campaign", campaign),
                ("channel", channel),
                ("state", state.as_str()),
            ];
            sample(out, "loa_messages", &labels, n);
        }
    }
    let name = "loa_messages_counted_seconds_ago";
    let help = "How long ago loa_messages was counted (a count that takes long is kept for \
                ten times its duration, at most a minute).";
    family(out, name, "gauge", help);
    sample(out, name, &[], ledger.counted_ago.as_secs_f64());
    let name = "loa_oldest_due_pending_seconds";
    let help = "Age of the oldest message due and not yet sent (0 when none).";
    family(out, name, "gauge", help);
    sample(
        out,
        name,
        &[],
        ledger.oldest_due_age.unwrap_or(0).max(0) as f64 / 1000.0,
    );
}

/// The in-memory counters.
fn counter_families(out: &mut String, m: &Metrics) {
    let name = "loa_attempts_total";
    family(out, name, "counter", "Send attempts by outcome class.");
    for class in AttemptClass::ALL {
        sample(out, name, &[("class", class.label())], m.attempts(class));
    }
    let name = "loa_leases_rescued_total";
    family(
        out,
        name,
        "counter",
        "Expired leases given back to the queue or failed.",
    );
    sample(out, name, &[], m.rescued());
    let name = "loa_callback_rejected_total";
    family(out, name, "counter", "Callbacks refused, by reason.");
    for reason in Rejection::ALL {
        sample(
            out,
            name,
            &[("reason", reason.label())],
            m.rejections(reason),
        );
    }
    let name = "loa_callback_replays_total";
    family(
        out,
        name,
        "counter",
        "Callbacks that repeated one already applied.",
    );
    sample(out, name, &[], m.replays());
    let name = "loa_dispatch_last_success_timestamp_seconds";
    let help = "When a send last succeeded in this process (0 before the first).";
    family(out, name, "gauge", help);
    sample(
        out,
        name,
        &[],
        m.last_success().unwrap_or(0) as f64 / 1000.0,
    );
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{k}=\"{}\"", escape(v));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// A label value as the exposition format wants it: `\`, `"` and newlines escaped.
fn escape(v: &str) -> String {
    v.replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Outcome, OutcomeKind};

    fn count(campaign: &str, channel: &str, state: &str, n: u64) -> StateCount {
        StateCount {
            campaign: campaign.into(),
            channel: channel.into(),
            state: state.parse().unwrap(),
            count: n,
            last_change: 0,
        }
    }

    fn ledger(counts: &[StateCount], oldest_due_age: Option<Millis>) -> Ledger<'_> {
        Ledger {
            counts,
            counted_ago: Duration::from_millis(1_500),
            oldest_due_age,
        }
    }

    #[test]
    fn every_state_of_a_campaign_channel_is_exposed_zeros_included() {
        let m = Metrics::new(0);
        let counts = [
            count("c", "email", "sent", 3),
            count("c", "email", "failed", 1),
        ];
        let text = exposition(&ledger(&counts, Some(2_500)), &m);
        assert!(text.contains("loa_messages{campaign=\"c\",channel=\"email\",state=\"sent\"} 3\n"));
        assert!(
            text.contains("loa_messages{campaign=\"c\",channel=\"email\",state=\"failed\"} 1\n")
        );
        assert!(
            text.contains("loa_messages{campaign=\"c\",channel=\"email\",state=\"pending\"} 0\n")
        );
        assert_eq!(
            text.matches("loa_messages{").count(),
            MessageState::ALL.len()
        );
        assert!(text.contains("loa_oldest_due_pending_seconds 2.5\n"));
        assert!(text.contains("loa_messages_counted_seconds_ago 1.5\n"));
    }

    #[test]
    fn counters_follow_the_calls_and_the_latest_success_wins() {
        let m = Metrics::new(0);
        m.attempt(AttemptClass::Sent);
        m.attempt(AttemptClass::Transient);
        m.attempt(AttemptClass::Transient);
        m.sent_at(5_000);
        m.sent_at(4_000);
        m.leases_rescued(2);
        m.rejected(Rejection::Stale);
        m.replay();
        let text = exposition(&ledger(&[], None), &m);
        for line in [
            "loa_attempts_total{class=\"sent\"} 1",
            "loa_attempts_total{class=\"transient\"} 2",
            "loa_attempts_total{class=\"permanent\"} 0",
            "loa_leases_rescued_total 2",
            "loa_callback_rejected_total{reason=\"stale\"} 1",
            "loa_callback_rejected_total{reason=\"bad_signature\"} 0",
            "loa_callback_replays_total 1",
            "loa_dispatch_last_success_timestamp_seconds 5",
            "loa_oldest_due_pending_seconds 0",
        ] {
            assert!(
                text.contains(&format!("{line}\n")),
                "{line} missing in\n{text}"
            );
        }
    }

    #[test]
    fn outcomes_are_counted_by_class_and_tries_only() {
        let m = Metrics::new(0);
        let o = |result| Outcome {
            id: 1,
            attempt: 1,
            owner: "w".into(),
            started_at: 10_000,
            duration_ms: 20,
            result,
        };
        m.outcomes(&[
            o(OutcomeKind::Sent { provider_id: None }),
            o(OutcomeKind::Failed {
                code: None,
                error: "550".into(),
            }),
            o(OutcomeKind::Expired),
        ]);
        assert_eq!(m.attempts(AttemptClass::Sent), 1);
        assert_eq!(m.attempts(AttemptClass::Permanent), 1);
        assert_eq!(m.attempts(AttemptClass::Transient), 0);
        assert_eq!(m.last_success(), Some(10_020));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
