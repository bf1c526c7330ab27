//! A flood of refused callbacks against the real daemon (issue 14, item 14): the log gets
//! a line per reason per 10 s, `/metrics` still counts every refusal.

use std::time::{Duration, Instant};

use crate::support::campaign::CampaignBuilder;
use crate::support::daemon::{Daemon, Tuning, free_port, log_tail, until};
use crate::support::smtp_sink::SmtpSink;

const FLOOD: usize = 3_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_unsigned_callbacks_writes_a_few_log_lines_and_metrics_count_them_all() {
    let sink = SmtpSink::start().await;
    let unused = format!("http://127.0.0.1:{}/sms", free_port());
    let ws = CampaignBuilder::new(1)
        .smtp("mail", &sink.url(), &[])
        .webhook("sms", &unused, &["secret: \"${FLOOD_SMS_SECRET}\""])
        .step("s1", &["mail"])
        .build();
    let daemon = Daemon::start_with(
        &ws,
        &Tuning::default(),
        &[
            ("LOA_CALLBACKS", "webhook/sms"),
            ("FLOOD_SMS_SECRET", "relay-secret-flood"),
        ],
    );
    let base = format!("http://127.0.0.1:{}", daemon.port(&ws).await);
    let http = reqwest::Client::new();
    let up = until(
        Duration::from_secs(30),
        Duration::from_millis(50),
        || async { http.get(format!("{base}/healthz")).send().await.is_ok() },
    )
    .await;
    assert!(up, "the daemon did not start:\n{}", log_tail(&ws, 30));

    let started = Instant::now();
    let body = r#"{"message_id":"m1-0","status":"delivered"}"#;
    for _ in 0..FLOOD {
        let status = http
            .post(format!("{base}/callbacks/webhook/sms"))
            .header("content-type", "application/json")
            .header("idempotency-key", "flood")
            .body(body)
            .send()
            .await
            .expect("post")
            .status();
        assert_eq!(status.as_u16(), 401);
    }
    let took = started.elapsed();
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    let counted = metrics
        .lines()
        .find_map(|l| l.strip_prefix("loa_callback_rejected_total{reason=\"unsigned\"} "))
        .and_then(|n| n.trim().parse::<usize>().ok());
    // Give the log writer a moment to flush what it has.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = std::fs::read_to_string(ws.log()).expect("daemon log");
    let lines = log
        .lines()
        .filter(|l| l.contains("callback refused"))
        .count();
    println!(
        "{FLOOD} unsigned callbacks in {took:?}: {lines} log lines, {} bytes of log, metrics {counted:?}",
        log.len()
    );
    assert_eq!(counted, Some(FLOOD), "{metrics}");
    // One line per 10 s, plus the first.
    let allowed = 1 + (took.as_secs() / 10) as usize + 1;
    assert!(
        lines >= 1,
        "the first refusal is logged:\n{}",
        log_tail(&ws, 20)
    );
    assert!(
        lines <= allowed,
        "{lines} lines for {FLOOD} refusals in {took:?}"
    );
}
