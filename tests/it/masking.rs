//! Issue 14 item 16 through the real daemon: a provider (the HTTP sink's `/echo`) answers
//! an error that quotes the recipient's phone number in three other spellings and the
//! e-mail address in capitals. The ledger (message, attempt, event), `loa report` and the
//! dashboard must hold and show it masked only; `loa prune` then clears those texts.

use std::time::Duration;

use crate::daemon_pause::{ADMIN, log_in};
use crate::support::campaign::{CAMPAIGN, CampaignBuilder};
use crate::support::daemon::{Daemon, Tuning, log_tail, until};
use crate::support::http_sink::HttpSink;
use crate::support::ledger;

/// Every way the sink writes r0's phone `84900000000` and e-mail `r0@example.test`.
const SPELLINGS: [&str; 5] = [
    "84900000000",
    "0900000000",
    "84 900 000 000",
    "+84.900.000.000",
    "r0@example.test",
];

fn assert_masked(what: &str, text: &str) {
    let lower = text.to_lowercase();
    for s in SPELLINGS {
        assert!(!lower.contains(s), "{what} quotes {s:?}:\n{text}");
    }
}

/// Every error text, skip reason and event detail the ledger holds.
async fn ledger_texts(db: &std::path::Path) -> Vec<String> {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let texts = sqlx::query_scalar(
        "SELECT last_error FROM message WHERE last_error IS NOT NULL \
         UNION ALL SELECT error FROM attempt WHERE error IS NOT NULL \
         UNION ALL SELECT detail FROM message_event WHERE detail IS NOT NULL",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    texts
}

fn loa(ws: &crate::support::workspace::Workspace, args: &[&str]) -> String {
    let out = ws.loa(args);
    let text = out.stdout() + &out.stderr();
    assert!(out.0.status.success(), "loa {args:?}: {text}");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_error_quoting_the_address_in_other_spellings_is_kept_and_shown_masked() {
    let sink = HttpSink::start().await;
    let ws = CampaignBuilder::new(1)
        .webhook("sms", &sink.url("/echo"), &[])
        .step("s1", &["sms"])
        .build();
    std::fs::write(
        ws.root().join("templates/note/text.tera"),
        "Kính gửi {{ row.email | upper }}",
    )
    .unwrap();
    let db = ws.db();
    let mut daemon = Daemon::start_with(&ws, &Tuning::default(), &[("LOA_ADMIN_TOKEN", ADMIN)]);
    let failed = until(
        Duration::from_secs(30),
        Duration::from_millis(50),
        || async {
            ledger::ready(&db).await
                && ledger::messages(&db)
                    .await
                    .iter()
                    .any(|m| m.state == "failed")
        },
    )
    .await;
    assert!(failed, "no failure recorded:\n{}", log_tail(&ws, 30));
    let answered = sink.requests_to("/echo");
    assert_eq!(answered.len(), 1, "one request, answered 422");

    // The ledger: masked, and still saying what happened.
    let texts = ledger_texts(&db).await;
    assert!(
        texts
            .iter()
            .any(|t| t.contains("invalid recipient 84900***000")),
        "{texts:?}"
    );
    assert!(
        texts.iter().any(|t| t.contains("R***@EXAMPLE.TEST")),
        "{texts:?}"
    );
    for t in &texts {
        assert_masked("the ledger", t);
    }

    // The dashboard's failures.
    let base = format!("http://127.0.0.1:{}", daemon.port(&ws).await);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (cookie, _) = log_in(&http, &base).await;
    let page = http
        .get(format!("{base}/campaigns/{CAMPAIGN}"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("invalid recipient 84900***000"), "{page}");
    assert_masked("the dashboard", &page);
    daemon.kill();

    // `status` and `report`.
    assert_masked("status", &loa(&ws, &["status", CAMPAIGN]));
    let report = loa(&ws, &["report", CAMPAIGN, "--format", "csv"]);
    assert!(report.contains("invalid recipient 84900***000"), "{report}");
    assert_masked("report", &report);
}

/// `loa prune` clears the texts of attempts and events too, not only the message's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_clears_the_error_texts_of_attempts_and_events() {
    let sink = HttpSink::start().await;
    let ws = CampaignBuilder::new(2)
        .webhook("sms", &sink.url("/echo"), &[])
        .step("s1", &["sms"])
        .build();
    let db = ws.db();
    let mut daemon = Daemon::start(&ws, &Tuning::default(), None);
    let failed = until(
        Duration::from_secs(30),
        Duration::from_millis(50),
        || async {
            ledger::ready(&db).await
                && ledger::messages(&db)
                    .await
                    .iter()
                    .filter(|m| m.state == "failed")
                    .count()
                    == 2
        },
    )
    .await;
    assert!(failed, "not failed:\n{}", log_tail(&ws, 30));
    daemon.kill();
    assert!(
        ledger_texts(&db)
            .await
            .iter()
            .any(|t| t.contains("invalid recipient")),
        "the provider's words are there before pruning"
    );
    // The failures ended 40 days ago, as far as the ledger knows.
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::query("UPDATE message SET updated_at = updated_at - 40 * 86400000")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    loa(&ws, &["prune", "--days", "30"]);
    let left = ledger_texts(&db).await;
    assert!(
        left.iter().all(|t| !t.contains("invalid recipient")),
        "{left:?}"
    );
}

/// A skip reason names the problem with the address, not the address: a malformed phone
/// number and e-mail address are masked in the ledger and the report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skip_reason_does_not_quote_the_address_it_could_not_use() {
    let sink = HttpSink::start().await;
    let mut b = CampaignBuilder::new(2)
        .webhook("sms", &sink.url("/ok"), &[])
        .smtp("mail", "smtp://127.0.0.1:9", &[])
        .step("s1", &["sms"])
        .step("s2", &["mail"]);
    b.people_mut()[0].phone = "0912 000 01".into();
    b.people_mut()[1].email = "nguyen.van.b@@example.test".into();
    let ws = b.build();
    // Undeclared, the phone column is checked per recipient (a declared one drops the row).
    let yaml = ws.root().join("campaigns/rel.yaml");
    let text = std::fs::read_to_string(&yaml).unwrap();
    std::fs::write(&yaml, text.replace(", phone: phone }", " }")).unwrap();
    let db = ws.db();
    let mut daemon = Daemon::start(&ws, &Tuning::default(), None);
    let skipped = until(
        Duration::from_secs(30),
        Duration::from_millis(50),
        || async {
            ledger::ready(&db).await
                && ledger::messages(&db)
                    .await
                    .iter()
                    .filter(|m| m.state == "skipped")
                    .count()
                    == 2
        },
    )
    .await;
    assert!(skipped, "not skipped:\n{}", log_tail(&ws, 30));
    daemon.kill();
    let texts = ledger_texts(&db).await;
    let report = loa(&ws, &["report", CAMPAIGN, "--format", "csv"]);
    for shown in texts.iter().chain([&report]) {
        for raw in ["0912 000 01", "nguyen.van.b@@example.test"] {
            assert!(!shown.contains(raw), "{raw:?} quoted:\n{shown}");
        }
    }
    assert!(
        texts.iter().any(|t| t.contains("digits"))
            && texts.iter().any(|t| t.contains("more than one address")),
        "the reasons still say what is wrong: {texts:?}"
    );
}
