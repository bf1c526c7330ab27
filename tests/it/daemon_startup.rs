//! What `loa run` says when it starts (issue 20): one block of log lines naming what is on
//! and off — the dashboard, each callback route, the public URL of unsubscribe links,
//! campaigns that ended or wait for their period, another daemon on the same ledger —
//! and `/` without `LOA_ADMIN_TOKEN` answering with how to turn the dashboard on.

use std::time::Duration;

use crate::support::campaign::CampaignBuilder;
use crate::support::daemon::{Daemon, Tuning, log_tail, until};
use crate::support::http_sink::HttpSink;
use crate::support::workspace::Workspace;

/// A campaign `id` on `rel`'s channel `mail`, sending every day at 08:00 over `period`.
fn daily(ws: &Workspace, id: &str, period: &str) {
    let rel = ws.read("campaigns/rel.yaml");
    let (head, _) = rel.split_once("steps:\n").expect("steps");
    let head = head
        .replacen("campaign: rel", &format!("campaign: {id}"), 1)
        .lines()
        .map(|l| {
            if l.starts_with("period:") {
                format!("period: {period}")
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let yaml = format!(
        "{head}\nsteps:\n  - id: daily\n    audience: people\n    channel: [mail]\n    \
         template: note\n    send: {{ cron: \"0 8 * * *\" }}\n"
    );
    ws.write(&format!("campaigns/{id}.yaml"), &yaml);
}

/// The daemon's log once it contains `text`, within 30 s (or the test fails showing it).
async fn log_with(ws: &Workspace, text: &str) -> String {
    let seen = until(Duration::from_secs(30), Duration::from_millis(50), || {
        let log = std::fs::read_to_string(ws.log()).unwrap_or_default();
        std::future::ready(log.contains(text))
    })
    .await;
    assert!(seen, "no {text:?} in the log:\n{}", log_tail(ws, 40));
    std::fs::read_to_string(ws.log()).unwrap()
}

fn line<'a>(log: &'a str, text: &str) -> &'a str {
    log.lines()
        .find(|l| l.contains(text))
        .unwrap_or_else(|| panic!("no line with {text:?} in:\n{log}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_says_what_is_on_and_off_when_it_starts() {
    let sink = HttpSink::start().await;
    let ws = CampaignBuilder::new(2)
        .webhook("mail", &sink.url("/hook"), &[])
        .step("s1", &["mail"])
        .build();
    daily(&ws, "last-year", "{ start: 2025-01-01, end: 2025-03-31 }");
    daily(&ws, "next-year", "{ start: 2099-01-01, end: 2099-03-31 }");
    // Listening on a port of its own while the public URL stays the default :8080.
    let _daemon = Daemon::start(&ws, &Tuning::default(), None);
    let log = log_with(&ws, "loa daemon started").await;
    println!("{}", log_tail(&ws, 20));

    let dashboard = line(&log, "dashboard: off");
    assert!(dashboard.contains("LOA_ADMIN_TOKEN"), "{dashboard}");
    let route = line(&log, "callback /callbacks/webhook/mail: off");
    assert!(route.contains("not in LOA_CALLBACKS"), "{route}");
    let url = line(&log, "public URL");
    assert!(
        url.contains("WARN")
            && url.contains("http://127.0.0.1:8080")
            && url.contains("does not point at this daemon"),
        "{url}"
    );
    assert!(line(&log, "campaign last-year: ended on 2025-03-31").contains("INFO"));
    assert!(
        line(
            &log,
            "campaign next-year: waiting, its period starts on 2099-01-01"
        )
        .contains("INFO")
    );
    assert!(
        !log.contains("campaign rel:"),
        "a running campaign is not named"
    );
    assert!(!log.contains("another daemon"), "alone on its ledger");

    // The first round records last year's occurrences and says the campaign ended,
    // not `missed=90`.
    let log = log_with(&ws, "campaign ended").await;
    let ended = line(&log, "campaign ended");
    assert!(
        ended.contains("last-year") && !ended.contains("missed"),
        "{ended}"
    );
    assert!(
        !log.lines()
            .any(|l| l.contains("last-year") && l.contains("missed=")),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_daemon_on_the_same_ledger_warns_that_it_gains_nothing() {
    let sink = HttpSink::start().await;
    let ws = CampaignBuilder::new(1)
        .webhook("mail", &sink.url("/hook"), &[])
        .step("s1", &["mail"])
        .build();
    let first = Daemon::start(&ws, &Tuning::default(), None);
    log_with(&ws, "loa daemon started").await;
    let _second = Daemon::start(&ws, &Tuning::default(), None);
    let log = log_with(&ws, "another daemon").await;
    let warned = line(&log, "another daemon");
    assert!(warned.contains("WARN"), "{warned}");
    assert!(
        warned.contains(&first.owner_prefix()),
        "names the first: {warned}"
    );
    assert!(warned.contains("gains nothing"), "{warned}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_started_after_another_stopped_cleanly_does_not_warn() {
    let sink = HttpSink::start().await;
    let ws = CampaignBuilder::new(1)
        .webhook("mail", &sink.url("/hook"), &[])
        .step("s1", &["mail"])
        .build();
    let mut first = Daemon::start(&ws, &Tuning::default(), None);
    log_with(&ws, "loa daemon started").await;
    first.terminate();
    assert!(first.exited_within(Duration::from_secs(20)).await.is_some());
    std::fs::write(ws.log(), "").unwrap();
    let _second = Daemon::start(&ws, &Tuning::default(), None);
    let log = log_with(&ws, "loa daemon started").await;
    assert!(!log.contains("another daemon"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_admin_token_the_root_page_says_how_to_turn_the_dashboard_on() {
    let sink = HttpSink::start().await;
    let ws = CampaignBuilder::new(1)
        .webhook("mail", &sink.url("/hook"), &[])
        .step("s1", &["mail"])
        .build();
    let daemon = Daemon::start(&ws, &Tuning::default(), None);
    let base = format!("http://127.0.0.1:{}", daemon.port(&ws).await);
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let r = http.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(r.status(), 404, "the dashboard is not there");
    let kind = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("text/html"), "{kind}");
    let page = r.text().await.unwrap();
    assert!(
        page.contains("LOA_ADMIN_TOKEN") && page.contains("The dashboard is off"),
        "{page}"
    );
    // The other dashboard routes stay the bare 404 of a switched-off route.
    let r = http
        .get(format!("{base}/campaigns/rel"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.text().await.unwrap(), "not found\n");
    let r = http.get(format!("{base}/login")).send().await.unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_admin_token_the_root_page_is_the_dashboard_and_the_block_says_on() {
    let sink = HttpSink::start().await;
    let ws = CampaignBuilder::new(1)
        .webhook("mail", &sink.url("/hook"), &[])
        .step("s1", &["mail"])
        .build();
    let admin = [("LOA_ADMIN_TOKEN", "a-long-admin-token-for-the-test")];
    let daemon = Daemon::start_with(&ws, &Tuning::default(), &admin);
    let base = format!("http://127.0.0.1:{}", daemon.port(&ws).await);
    let log = log_with(&ws, "loa daemon started").await;
    assert!(line(&log, "dashboard: on").contains("INFO"));
    let http = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(r.status(), 303, "to the login form");
}
