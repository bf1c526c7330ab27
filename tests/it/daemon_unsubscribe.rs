//! R18 (docs/reliability.md#r18) through the real daemon: every mail `loa run` sends carries a
//! signed one-click unsubscribe link to its own HTTP side; GET shows a page and changes
//! nothing, the RFC 8058 POST records a suppression, and a later step skips the suppressed
//! address while the others still get it.

use std::time::Duration;

use crate::support::campaign::CampaignBuilder;
use crate::support::daemon::{Daemon, Tuning, free_port, log_tail, until};
use crate::support::ledger;
use crate::support::mime::Part;
use crate::support::smtp_sink::SmtpSink;

/// The link inside a mail's `List-Unsubscribe: <…>` header.
fn link(raw: &str) -> String {
    let header = Part::parse(raw).one("List-Unsubscribe").to_string();
    header
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsubscribed_recipient_gets_nothing_more_from_the_daemon() {
    let sink = SmtpSink::start().await;
    let ws = CampaignBuilder::new(3)
        .smtp("mail", &sink.url(), &[])
        .step("s1", &["mail"])
        .build();
    let db = ws.db();
    let tuning = Tuning::default();
    let port = free_port();
    let mut daemon = Daemon::serving(&ws, &tuning, port);
    let all = until(
        Duration::from_secs(30),
        Duration::from_millis(50),
        // The sink holds a mail before the dispatcher has recorded it as sent; wait for
        // both, so that the ledger compared below is the settled one.
        || async { sink.received_count() >= 3 && ledger::open(&db).await == 0 },
    )
    .await;
    assert!(all, "first step not sent:\n{}", log_tail(&ws, 30));
    let first = sink.received();
    let mine = first
        .iter()
        .find(|r| r.to.iter().any(|t| t == "r0@example.test"))
        .expect("the mail to r0");
    let url = link(&mine.text());
    assert!(
        url.starts_with(&format!("http://127.0.0.1:{port}/unsubscribe/")),
        "{url}"
    );

    let http = reqwest::Client::new();
    let page = http.get(&url).send().await.expect("GET the link");
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("<form"));
    let before = ledger::counts(&db).await;
    let done = http
        .post(&url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .expect("POST the link");
    assert_eq!(done.status(), 200);
    // A forged token is refused and records nothing.
    let forged = format!("{}x", url);
    let refused = http
        .post(&forged)
        .body("List-Unsubscribe=One-Click")
        .send()
        .await;
    assert_eq!(refused.expect("POST a forged link").status(), 404);
    assert_eq!(
        ledger::counts(&db).await,
        before,
        "the links change no message"
    );
    daemon.kill();

    // A second step for the same people, after the unsubscribe.
    let file = ws.root().join("campaigns/rel.yaml");
    let mut yaml = std::fs::read_to_string(&file).unwrap();
    let s1 = yaml[yaml.find("  - id: s1").unwrap()..].to_string();
    yaml.push_str(&s1.replace("id: s1", "id: s2"));
    std::fs::write(&file, yaml).unwrap();
    let _daemon = Daemon::serving(&ws, &tuning, free_port());
    let finished = until(
        Duration::from_secs(30),
        Duration::from_millis(50),
        || async { ledger::messages(&db).await.len() == 6 && ledger::open(&db).await == 0 },
    )
    .await;
    assert!(finished, "second step not done:\n{}", log_tail(&ws, 30));
    let rows = ledger::messages(&db).await;
    let s2: Vec<_> = rows.iter().filter(|m| m.step == "s2").collect();
    let skipped: Vec<&str> = s2
        .iter()
        .filter(|m| m.state == "skipped")
        .map(|m| m.recipient.as_str())
        .collect();
    println!(
        "R18 daemon: link {}…; after the one-click POST, step s2: {} sent, skipped {skipped:?}",
        &url[..url.len().min(48)],
        s2.iter().filter(|m| m.state == "sent").count()
    );
    assert_eq!(skipped.len(), 1, "{s2:?}");
    assert!(
        s2.iter()
            .filter(|m| m.state == "sent")
            .all(|m| m.address.as_deref() != Some("r0@example.test"))
    );
    let to_r0 = sink
        .received()
        .iter()
        .filter(|r| r.to.iter().any(|t| t == "r0@example.test"))
        .count();
    assert_eq!(to_r0, 1, "r0 got a mail after unsubscribing");
    assert_eq!(sink.received_count(), 5);
}
