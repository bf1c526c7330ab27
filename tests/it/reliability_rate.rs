//! R5 (docs/reliability.md#r5): a channel's `rate:` holds at the receiving end. 3,000 messages
//! at `rate: 50/s` (a bucket of one second's worth, 50) to a fault-free SMTP sink: every 10 s
//! sliding window of the sink's receive instants holds at most 10·R + burst, and the mean rate
//! is at least 0.9·R.

use std::time::{Duration, Instant};

use crate::support::campaign::CampaignBuilder;
use crate::support::daemon::{Daemon, Tuning, log_tail, until};
use crate::support::ledger;
use crate::support::smtp_sink::SmtpSink;

const N: usize = 3_000;
const RATE: f64 = 50.0;
const BURST: f64 = 50.0;

/// The most receipts in any half-open window `[t, t + width)` starting at a receipt (the
/// fullest window always starts at one).
/// Returns the count and the window's start, in seconds after the first receipt.
fn fullest(at: &[Instant], width: Duration) -> (usize, f64) {
    let mut end = 0;
    let mut most = (0, 0.0);
    for start in 0..at.len() {
        while end < at.len() && at[end] < at[start] + width {
            end += 1;
        }
        if end - start > most.0 {
            most = (end - start, at[start].duration_since(at[0]).as_secs_f64());
        }
    }
    most
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_rate_of_50_per_second_holds_in_every_10_second_window() {
    let sink = SmtpSink::start().await;
    let tuning = Tuning::default();
    let ws = CampaignBuilder::new(N)
        .smtp("mail", &sink.url(), &["rate: 50/s", "concurrency: 8"])
        .step("s1", &["mail"])
        .build();
    let db = ws.db();
    let daemon = Daemon::start(&ws, &tuning, None);
    let done = until(
        Duration::from_secs(120),
        Duration::from_millis(500),
        || async { sink.received_count() >= N },
    )
    .await;
    assert!(done, "not all received:\n{}", log_tail(&ws, 30));
    assert!(
        until(
            Duration::from_secs(10),
            Duration::from_millis(100),
            || async { ledger::open(&db).await == 0 }
        )
        .await
    );
    drop(daemon);

    let mut at: Vec<Instant> = sink.received().iter().map(|r| r.at).collect();
    at.sort();
    let span = at[at.len() - 1].duration_since(at[0]).as_secs_f64();
    let mean = (at.len() - 1) as f64 / span;
    let (ten, ten_at) = fullest(&at, Duration::from_secs(10));
    let (one, one_at) = fullest(&at, Duration::from_secs(1));
    let first: Vec<f64> = at[..12]
        .iter()
        .map(|t| t.duration_since(at[0]).as_secs_f64() * 1000.0)
        .collect();
    println!(
        "first receipts (ms): {first:.0?}; 10 s window at {ten_at:.2} s, 1 s window at {one_at:.2} s"
    );
    println!(
        "R5 R={RATE}/s burst {BURST}: {} received in {span:.1} s, mean {mean:.1}/s (≥ {:.0}); \
         fullest 10 s window {ten} (≤ {:.0}); fullest 1 s window {one}",
        at.len(),
        0.9 * RATE,
        10.0 * RATE + BURST
    );
    assert_eq!(at.len(), N, "each message once");
    assert!(ten as f64 <= 10.0 * RATE + BURST, "{ten} in 10 s");
    assert!(mean >= 0.9 * RATE, "mean {mean:.1}/s");
}
