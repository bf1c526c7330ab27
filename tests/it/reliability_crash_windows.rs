//! R2 (docs/reliability.md#r2): a crash in each window between claim, send and record, made
//! deterministic with `LOA_FAILPOINT` (the process aborts there), then a restart without it.
//!
//! (a) after the claim, before the send, and (c) after the outcome is committed: the
//! message reaches the sink exactly once. (b) after the provider accepted it, before the
//! outcome is committed: exactly one duplicate — the only window rule 3 allows. Each
//! rescue counts one more attempt (the fencing token). (d) half-way through enqueueing
//! 10,000 recipients: the restart completes the occurrence with exactly 10,000 rows.

use std::collections::HashSet;
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use crate::support::campaign::CampaignBuilder;
use crate::support::daemon::{Daemon, Tuning, log_tail, until};
use crate::support::ledger;
use crate::support::smtp_sink::SmtpSink;
use crate::support::workspace::Workspace;

/// Runs per window (docs/reliability.md#r2).
const RUNS: usize = 20;

fn tuning() -> Tuning {
    Tuning {
        lease: "1s",
        poll: "100ms",
        ..Tuning::default()
    }
}

/// Starts the daemon with `point` armed and waits for it to abort there.
async fn crash_at(ws: &Workspace, point: &str) {
    let mut d = Daemon::start(ws, &tuning(), Some(point));
    let status = d
        .exited_within(Duration::from_secs(60))
        .await
        .unwrap_or_else(|| panic!("no crash at {point}:\n{}", log_tail(ws, 30)));
    assert_eq!(
        status.signal(),
        Some(6),
        "expected SIGABRT at {point}, got {status:?}:\n{}",
        log_tail(ws, 30)
    );
}

/// Restarts the daemon and waits until no message is open; returns how long it took.
async fn finish(ws: &Workspace) -> Duration {
    let d = Daemon::start(ws, &tuning(), None);
    let db = ws.db();
    let done = until(
        Duration::from_secs(60),
        Duration::from_millis(50),
        || async { ledger::ready(&db).await && ledger::open(&db).await == 0 },
    )
    .await;
    let took = d.started.elapsed();
    drop(d);
    assert!(done, "messages still open:\n{}", log_tail(ws, 30));
    took
}

/// What one single-message run looked like: at the crash, then at the end.
#[derive(Debug, PartialEq, Eq)]
struct Run {
    state_at_crash: String,
    received_at_crash: usize,
    received: usize,
    state: String,
    attempts: i64,
    /// Attempt numbers with an `attempt` row.
    attempt_rows: Vec<i64>,
    /// Leases rescued (`lease expired` events).
    rescues: usize,
}

async fn single_message(point: &str) -> (Run, Duration) {
    let sink = SmtpSink::start().await;
    let ws = CampaignBuilder::new(1)
        .smtp("mail", &sink.url(), &[])
        .step("s1", &["mail"])
        .build();
    let db = ws.db();
    crash_at(&ws, point).await;
    let at_crash = ledger::messages(&db).await;
    assert_eq!(at_crash.len(), 1, "one message row");
    let received_at_crash = sink.received().len();
    let took = finish(&ws).await;
    let m = &ledger::messages(&db).await[0];
    let received = sink
        .received()
        .iter()
        .filter(|r| r.loa_id().as_deref() == Some(m.message_id.as_str()))
        .count();
    assert_eq!(received, sink.received().len(), "no unexpected message");
    let run = Run {
        state_at_crash: at_crash[0].state.clone(),
        received_at_crash,
        received,
        state: m.state.clone(),
        attempts: m.attempts,
        attempt_rows: ledger::attempts(&db)
            .await
            .iter()
            .map(|a| a.attempt)
            .collect(),
        rescues: ledger::events_mentioning(&db, "lease expired").await.len(),
    };
    (run, took)
}

/// Repeats `point` and checks each run against `expected`.
async fn repeat(point: &str, expected: Run) {
    let started = Instant::now();
    let mut restarts = Vec::new();
    for i in 0..RUNS {
        let (run, took) = single_message(point).await;
        assert_eq!(run, expected, "{point}, run {i}");
        restarts.push(took.as_secs_f64());
    }
    let max = restarts.iter().cloned().fold(0.0, f64::max);
    println!(
        "R2 {point}: {RUNS}/{RUNS} runs as expected ({expected:?}); restart to done ≤ {max:.2} s; {:.1} s in all",
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_the_claim_sends_the_message_once_on_the_next_attempt() {
    repeat(
        "after-claim",
        Run {
            state_at_crash: "sending".into(),
            received_at_crash: 0,
            received: 1,
            state: "sent".into(),
            attempts: 2,
            attempt_rows: vec![2],
            rescues: 1,
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_the_provider_accepted_sends_exactly_one_duplicate() {
    repeat(
        "after-send",
        Run {
            state_at_crash: "sending".into(),
            received_at_crash: 1,
            received: 2,
            state: "sent".into(),
            attempts: 2,
            attempt_rows: vec![2],
            rescues: 1,
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_the_outcome_is_recorded_sends_nothing_again() {
    repeat(
        "after-record",
        Run {
            state_at_crash: "sent".into(),
            received_at_crash: 1,
            received: 1,
            state: "sent".into(),
            attempts: 1,
            attempt_rows: vec![1],
            rescues: 0,
        },
    )
    .await;
}

/// Runs of (d), the crash half-way through enqueueing (docs/reliability.md#r2): each enqueues
/// 10,000 rows across a crash; the first also delivers them (the others stop once the
/// occurrence is complete, to save a minute).
const ENQUEUE_RUNS: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_half_way_through_enqueueing_leaves_exactly_one_row_per_recipient() {
    const N: usize = 10_000;
    for run in 0..ENQUEUE_RUNS {
        let started = Instant::now();
        let sink = SmtpSink::start().await;
        let ws = CampaignBuilder::new(N)
            .smtp("mail", &sink.url(), &["concurrency: 8"])
            .step("s1", &["mail"])
            .build();
        let db = ws.db();
        let t = Tuning {
            enqueue_batch: Some(N / 2),
            ..tuning()
        };
        let mut d = Daemon::start(&ws, &t, Some("mid-enqueue"));
        let status = d.exited_within(Duration::from_secs(120)).await;
        assert_eq!(
            status.and_then(|s| s.signal()),
            Some(6),
            "{}",
            log_tail(&ws, 30)
        );
        let rows_at_crash = ledger::messages(&db).await.len();
        let occ = ledger::occurrences(&db).await;
        assert_eq!(rows_at_crash, N / 2, "the first batch was committed");
        assert_eq!(occ.len(), 1);
        assert_eq!(
            occ[0].enqueued_at, None,
            "the occurrence is not enqueued yet"
        );
        assert_eq!(
            ledger::open(&db).await,
            (N / 2) as i64,
            "not finished early"
        );
        assert!(sink.received().is_empty(), "nothing sent before the crash");

        let deliver = run == 0;
        let d = Daemon::start(&ws, &t, None);
        let done = until(
            Duration::from_secs(180),
            Duration::from_millis(100),
            || async {
                if deliver {
                    ledger::open(&db).await == 0
                } else {
                    ledger::occurrences(&db).await[0].enqueued_at.is_some()
                }
            },
        )
        .await;
        drop(d);
        assert!(done, "not completed:\n{}", log_tail(&ws, 30));
        let rows = ledger::messages(&db).await;
        let ids: HashSet<_> = rows.iter().map(|m| &m.message_id).collect();
        let recipients: HashSet<_> = rows.iter().map(|m| &m.recipient).collect();
        assert_eq!((rows.len(), ids.len(), recipients.len()), (N, N, N));
        assert!(ledger::occurrences(&db).await[0].enqueued_at.is_some());
        let mut figures = format!(
            "R2 mid-enqueue run {run}: {rows_at_crash} rows at the crash, {} after the restart",
            rows.len()
        );
        if deliver {
            assert!(rows.iter().all(|m| m.state == "sent" && m.attempts == 1));
            let received: HashSet<_> = sink.received().iter().filter_map(|r| r.loa_id()).collect();
            assert_eq!((sink.received().len(), received.len()), (N, N));
            assert!(received.iter().all(|id| ids.contains(id)), "unexpected ids");
            figures += &format!(", {} received once each", received.len());
        }
        println!("{figures}; {:.1} s", started.elapsed().as_secs_f64());
    }
}
