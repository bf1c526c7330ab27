//! A channel's `concurrency:` (docs/campaign-file.md#channels, docs/delivery.md#concurrency):
//! `loa validate` names the file, line and field of a value it cannot use, with a hint; the
//! real daemon keeps exactly that many requests in flight to a real HTTP server, and opens no
//! more SMTP connections at once than that to a real SMTP server.

use std::time::Duration;

use crate::support::campaign::CampaignBuilder;
use crate::support::daemon::{Daemon, Tuning, log_tail, until};
use crate::support::http_sink::{Answer, HttpSink};
use crate::support::ledger;
use crate::support::smtp_sink::SmtpSink;
use crate::support::workspace::{EXAMPLE, Workspace};

#[test]
fn a_concurrency_loa_cannot_use_is_reported_with_its_file_line_field_and_a_hint() {
    let ws = Workspace::example();
    let text = ws.read(EXAMPLE);
    // One bad value under each of the example's three channels, after its `type:` line.
    let bad = [
        ("0", "must be at least 1"),
        ("-3", "must be at least 1"),
        ("many", "is not a number"),
    ];
    let mut lines: Vec<String> = Vec::new();
    let mut expect = Vec::new();
    for l in text.lines() {
        lines.push(l.to_string());
        if l.trim_start().starts_with("type: ")
            && let Some((value, why)) = bad.get(expect.len())
        {
            let indent = " ".repeat(l.len() - l.trim_start().len());
            lines.push(format!("{indent}concurrency: {value}"));
            expect.push((lines.len(), *value, *why));
        }
    }
    assert_eq!(expect.len(), 3, "the example has three channels");
    ws.write(EXAMPLE, &(lines.join("\n") + "\n"));
    let run = ws.loa(&["validate", "campaigns"]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let err = run.stderr();
    for (line, value, why) in expect {
        let found = err.lines().any(|l| {
            l.contains(&format!("bhyt-hssv-2026-2027.yaml:{line}:"))
                && l.contains(".concurrency")
                && l.contains(value)
                && l.contains(why)
        });
        assert!(
            found,
            "no error at line {line} for `concurrency: {value}` in:\n{err}"
        );
    }
    assert_eq!(
        err.matches("a whole number from 1 to 256").count(),
        3,
        "{err}"
    );
}

#[test]
fn a_concurrency_above_the_bound_is_reported_and_one_at_the_bound_is_not_even_quoted() {
    let ws = Workspace::example();
    let text = ws.read(EXAMPLE);
    let first = text.find("    type: smtp\n").expect("an smtp channel");
    let with = |n: &str| {
        let mut t = text.clone();
        t.insert_str(first, &format!("    concurrency: {n}\n"));
        t
    };
    ws.write(EXAMPLE, &with("257"));
    let run = ws.loa(&["validate", "campaigns"]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let line = text[..first].lines().count() + 1;
    let err = run.stderr();
    assert!(
        err.lines()
            .any(|l| l.contains(&format!("bhyt-hssv-2026-2027.yaml:{line}:"))
                && l.contains("channels.email.concurrency")
                && l.contains("more than 256")),
        "{err}"
    );
    // Quoted, as a `${VARIABLE:-256}` reference would be written, it is a number too.
    ws.write(EXAMPLE, &with("\"256\""));
    ws.loa(&["validate", "campaigns"]).ok();
}

/// Webhook answers that take a while, so that the daemon's requests pile up at the server.
const SLOW: Duration = Duration::from_millis(150);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_channel_keeps_exactly_its_concurrency_of_requests_in_flight() {
    const N: usize = 120;
    const CONCURRENCY: usize = 6;
    let sink = HttpSink::start().await;
    sink.script("/sms", vec![Answer::status(200).after(SLOW); N]);
    let ws = CampaignBuilder::new(N)
        .webhook(
            "sms",
            &sink.url("/sms"),
            &[&format!("concurrency: {CONCURRENCY}")],
        )
        .step("s1", &["sms"])
        .build();
    let db = ws.db();
    let daemon = Daemon::start(&ws, &Tuning::default(), None);
    let done = until(
        Duration::from_secs(60),
        Duration::from_millis(100),
        || async { sink.requests_to("/sms").len() >= N && ledger::open(&db).await == 0 },
    )
    .await;
    drop(daemon);
    assert!(done, "not all sent:\n{}", log_tail(&ws, 30));
    let most = sink.most_in_flight();
    println!("webhook concurrency {CONCURRENCY}: at most {most} requests in flight");
    assert_eq!(most, CONCURRENCY, "requests in flight at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_smtp_channel_never_opens_more_connections_at_once_than_its_concurrency() {
    const N: usize = 600;
    const CONCURRENCY: usize = 3;
    let sink = SmtpSink::start().await;
    let ws = CampaignBuilder::new(N)
        .smtp(
            "mail",
            &sink.url(),
            &[&format!("concurrency: {CONCURRENCY}")],
        )
        .step("s1", &["mail"])
        .build();
    let db = ws.db();
    let daemon = Daemon::start(&ws, &Tuning::default(), None);
    let done = until(
        Duration::from_secs(60),
        Duration::from_millis(100),
        || async { sink.received_count() >= N && ledger::open(&db).await == 0 },
    )
    .await;
    drop(daemon);
    assert!(done, "not all sent:\n{}", log_tail(&ws, 30));
    let most = sink.most_open_at_once();
    println!("smtp concurrency {CONCURRENCY}: at most {most} connections open at once");
    assert_eq!(most, CONCURRENCY, "connections open at once");
}

/// A channel slower than its lease window allows: each message waits for its turn behind the
/// others the pump has leased, and those whose turn comes with too little of the lease left
/// are released unsent and claimed again, instead of being sent after their lease ran out
/// (when the rescue may already have offered them again). The server gets every message
/// exactly once, and no lease expires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_whose_turn_comes_late_in_its_lease_is_released_not_sent_after_it() {
    let tuning = Tuning::default();
    let window = loa::dispatch::LEASES_PER_SEND; // `concurrency: 1`
    // The whole window takes twice the lease to send, one message after another.
    let answer = Duration::from_secs_f64(tuning.lease_secs() * 2.0 / window as f64);
    let n = window + 4;
    let sink = HttpSink::start().await;
    sink.script("/sms", vec![Answer::status(200).after(answer); n * 2]);
    let ws = CampaignBuilder::new(n)
        .webhook("sms", &sink.url("/sms"), &["concurrency: 1"])
        .step("s1", &["sms"])
        .build();
    let db = ws.db();
    let daemon = Daemon::start(&ws, &tuning, None);
    let done = until(
        Duration::from_secs(120),
        Duration::from_millis(100),
        || async { sink.requests_to("/sms").len() >= n && ledger::open(&db).await == 0 },
    )
    .await;
    drop(daemon);
    assert!(done, "not all sent:\n{}", log_tail(&ws, 30));
    let mut keys: Vec<String> = sink
        .requests_to("/sms")
        .iter()
        .map(|r| r.header("idempotency-key").unwrap_or("").to_owned())
        .collect();
    keys.sort();
    let sent = keys.len();
    keys.dedup();
    assert_eq!((sent, keys.len()), (n, n), "messages sent, distinct");
    let expired = ledger::events_mentioning(&db, "lease expired").await;
    assert!(expired.is_empty(), "leases ran out: {expired:?}");
    let released = ledger::events_mentioning(&db, "released unsent").await;
    assert!(
        !released.is_empty(),
        "no message waited long enough to be released"
    );
    println!("{} releases of {n} messages", released.len());
}
