//! R13 (docs/reliability.md#r13) through the real daemon: webhook requests to loopback —
//! written as an address, in the decimal and octal spellings of 127.0.0.1, or as a name that
//! resolves to it — reach nothing unless `LOA_ALLOW_NETWORKS` allows the network; then exactly
//! the expected requests arrive. Every target is on loopback: the classifier's other networks
//! are tested as a pure function (`channel::outbound`).

use std::time::Duration;

use crate::support::campaign::CampaignBuilder;
use crate::support::daemon::{Daemon, Tuning, log_tail, until};
use crate::support::http_sink::HttpSink;
use crate::support::ledger;

/// The canary listener's port in every spelling of a loopback target.
fn loopback_spellings(port: u16) -> [(&'static str, String); 4] {
    [
        ("literal", format!("http://127.0.0.1:{port}/x")),
        ("decimal", format!("http://2130706433:{port}/x")),
        ("octal", format!("http://0177.0.0.1:{port}/x")),
        ("name", format!("http://localhost:{port}/x")),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_targets_get_no_connection_unless_allowed() {
    let sink = HttpSink::start().await;
    let targets = loopback_spellings(sink.shared.canary.port());
    let mut b = CampaignBuilder::new(2);
    for (name, url) in &targets {
        b = b
            .webhook(name, url, &[])
            .step(&format!("to-{name}"), &[name]);
    }
    let ws = b.build();
    let db = ws.db();
    let mut d = Daemon::start_with(&ws, &Tuning::default(), &[("LOA_ALLOW_NETWORKS", "")]);
    let settled = until(
        Duration::from_secs(30),
        Duration::from_millis(50),
        || async {
            ledger::ready(&db).await && {
                let m = ledger::messages(&db).await;
                m.len() == 8 && m.iter().all(|m| m.state == "failed")
            }
        },
    )
    .await;
    assert!(settled, "not all failed:\n{}", log_tail(&ws, 30));
    d.kill();
    assert_eq!(sink.canary_connections(), 0, "the canary was reached");
    let messages = ledger::messages(&db).await;
    assert!(
        messages.iter().all(|m| m.attempts == 1),
        "refused at once, never retried: {messages:?}"
    );
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let errors: Vec<(String, String)> =
        sqlx::query_as("SELECT channel, last_error FROM message ORDER BY channel")
            .fetch_all(&pool)
            .await
            .unwrap();
    pool.close().await;
    for (channel, error) in &errors {
        assert!(
            error.starts_with("refused: ")
                && error.contains("loopback")
                && error.contains("LOA_ALLOW_NETWORKS"),
            "{channel}: {error}"
        );
    }
    let name = errors.iter().find(|(c, _)| c == "name").unwrap();
    assert!(name.1.contains("localhost resolves to"), "{}", name.1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_network_gets_exactly_the_expected_requests() {
    let sink = HttpSink::start().await;
    let port = sink.addr.port();
    let targets = [
        ("literal", format!("http://127.0.0.1:{port}/ok")),
        ("name", format!("http://localhost:{port}/ok")),
    ];
    let mut b = CampaignBuilder::new(3);
    for (name, url) in &targets {
        b = b
            .webhook(name, url, &[])
            .step(&format!("to-{name}"), &[name]);
    }
    let ws = b.build();
    let db = ws.db();
    let mut d = Daemon::start_with(
        &ws,
        &Tuning::default(),
        &[("LOA_ALLOW_NETWORKS", "127.0.0.1/32")],
    );
    let sent = until(
        Duration::from_secs(30),
        Duration::from_millis(50),
        || async {
            ledger::ready(&db).await && {
                let m = ledger::messages(&db).await;
                m.len() == 6 && m.iter().all(|m| m.state == "sent")
            }
        },
    )
    .await;
    assert!(sent, "not all sent:\n{}", log_tail(&ws, 30));
    d.kill();
    assert_eq!(sink.requests_to("/ok").len(), 6);
    assert_eq!(sink.canary_connections(), 0);
}
