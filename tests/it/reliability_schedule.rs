//! R9 (docs/reliability.md#r9) through the real binary (the time arithmetic itself is
//! unit-tested with fixed instants in `dispatch::enqueue`): an unknown time zone stops
//! `validate` and `run` before anything is enqueued, and a send first seen past the grace is
//! recorded missed, not sent.

use std::time::Duration;

use crate::support::campaign::CampaignBuilder;
use crate::support::daemon::{Daemon, Tuning, log_tail, until};
use crate::support::ledger;
use crate::support::smtp_sink::SmtpSink;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_time_zone_fails_validation_and_the_daemon_enqueues_nothing() {
    let sink = SmtpSink::start().await;
    let ws = CampaignBuilder::new(3)
        .timezone("Asia/Saigon_X")
        .smtp("mail", &sink.url(), &[])
        .step("s1", &["mail"])
        .build();
    let validate = ws.loa(&["validate"]);
    let stderr = validate.stderr();
    assert_eq!(validate.0.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("Asia/Saigon_X"), "{stderr}");

    let mut d = Daemon::start(&ws, &Tuning::default(), None);
    let status = d.exited_within(Duration::from_secs(30)).await;
    let messages = if ws.db().exists() {
        ledger::messages(&ws.db()).await.len()
    } else {
        0
    };
    println!(
        "R9 Asia/Saigon_X: validate exit {:?}; run exit {:?}, {messages} messages, {} received",
        validate.0.status.code(),
        status.and_then(|s| s.code()),
        sink.received_count()
    );
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(1),
        "{}",
        log_tail(&ws, 20)
    );
    assert_eq!((messages, sink.received_count()), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_due_two_hours_before_the_daemon_started_is_recorded_missed_with_grace_60() {
    let sink = SmtpSink::start().await;
    let ws = CampaignBuilder::new(3)
        .smtp("mail", &sink.url(), &[])
        .step_due("late", &["mail"], 120)
        .step("now", &["mail"])
        .build();
    let db = ws.db();
    let d = Daemon::start(&ws, &Tuning::default(), None);
    // The step due now proves the daemon ran its rounds.
    let sent = until(
        Duration::from_secs(30),
        Duration::from_millis(50),
        || async { sink.received_count() >= 3 },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    drop(d);
    assert!(sent, "{}", log_tail(&ws, 20));
    let occ = ledger::occurrences(&db).await;
    let late = occ
        .iter()
        .find(|o| o.step == "late")
        .expect("the late occurrence");
    let rows = ledger::messages(&db).await;
    println!(
        "R9 due 2 h before start, grace 60 min: missed {}, enqueued {}, its messages {}; \
         the step due now: {} messages, {} received",
        late.missed_at.is_some(),
        late.enqueued_at.is_some(),
        rows.iter().filter(|m| m.step == "late").count(),
        rows.iter().filter(|m| m.step == "now").count(),
        sink.received_count()
    );
    assert!(late.missed_at.is_some() && late.enqueued_at.is_none());
    assert_eq!(rows.iter().filter(|m| m.step == "late").count(), 0);
    assert_eq!(sink.received_count(), 3);
}
