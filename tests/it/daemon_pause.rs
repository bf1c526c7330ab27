//! The dashboard's pause through the real daemon: staff log in, press Pause on the
//! campaign page, and the daemon stops sending; Resume lets it finish.

use std::time::{Duration, Instant};

use crate::support::campaign::CampaignBuilder;
use crate::support::daemon::{Daemon, Tuning, log_tail, sending_slowly, until};
use crate::support::ledger;

pub const ADMIN: &str = "a-long-admin-token-for-tests";

/// The session cookie and the CSRF token of a fresh login.
pub async fn log_in(http: &reqwest::Client, base: &str) -> (String, String) {
    let ok = http
        .post(format!("{base}/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={ADMIN}"))
        .send()
        .await
        .expect("POST /login");
    assert_eq!(ok.status(), 303);
    let cookie = ok.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let page = http
        .get(format!("{base}/campaigns/rel"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("GET the campaign page")
        .text()
        .await
        .unwrap();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a CSRF field on the campaign page")
        .to_owned();
    (cookie, csrf)
}

async fn press(http: &reqwest::Client, base: &str, action: &str, cookie: &str, csrf: &str) {
    let r = http
        .post(format!("{base}/campaigns/rel/{action}"))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}"))
        .send()
        .await
        .expect("press a button");
    assert_eq!(r.status(), 303, "{action}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pausing_on_the_dashboard_stops_the_daemon_and_resuming_lets_it_finish() {
    let admin = [("LOA_ADMIN_TOKEN", ADMIN)];
    let (sink, ws, daemon) =
        sending_slowly(30, |ws| Daemon::start_with(ws, &Tuning::default(), &admin)).await;
    let db = ws.db();
    let base = format!("http://127.0.0.1:{}", daemon.port(&ws).await);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (cookie, csrf) = log_in(&http, &base).await;
    press(&http, &base, "pause", &cookie, &csrf).await;
    let pressed = Instant::now();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let settled = sink.received_count();
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let later = sink.received_count();
    println!(
        "dashboard pause: {settled} received 1.5 s after Pause, {later} after {:.1} s",
        pressed.elapsed().as_secs_f64()
    );
    assert_eq!(later, settled, "still sending after Pause");
    assert!(later < 30);
    press(&http, &base, "resume", &cookie, &csrf).await;
    let finished = until(
        Duration::from_secs(30),
        Duration::from_millis(50),
        || async { ledger::open(&db).await == 0 },
    )
    .await;
    assert!(
        finished,
        "not finished after Resume:\n{}",
        log_tail(&ws, 30)
    );
    assert_eq!(sink.received_count(), 30);
}

/// `loa retry` from the command line puts failed messages back and is audited like the
/// dashboard's button (docs/reliability.md#r15): one row, with who, the content hash and how many.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_from_the_command_line_writes_one_audit_row() {
    use crate::support::http_sink::{Answer, HttpSink};
    let sink = HttpSink::start().await;
    sink.script("/gone", vec![Answer::status(410); 3]);
    let ws = CampaignBuilder::new(3)
        .webhook("sms", &sink.url("/gone"), &[])
        .step("s1", &["sms"])
        .build();
    let db = ws.db();
    let daemon = Daemon::start(&ws, &Tuning::default(), None);
    let failed = until(
        Duration::from_secs(30),
        Duration::from_millis(50),
        || async {
            ledger::ready(&db).await && ledger::counts(&db).await.get("failed") == Some(&3)
        },
    )
    .await;
    assert!(
        failed,
        "{:?}\n{}",
        ledger::counts(&db).await,
        log_tail(&ws, 20)
    );
    drop(daemon);
    let out = ws.loa_with(
        &["retry", "rel", "--state", "failed"],
        &[("USER", "thu.nguyen")],
    );
    assert!(out.0.status.success(), "{}", out.stderr());
    assert_eq!(ledger::counts(&db).await.get("pending"), Some(&3));
    let retries: Vec<_> = ledger::audit(&db)
        .await
        .into_iter()
        .filter(|(_, action, _)| action == "retry")
        .collect();
    assert_eq!(
        retries,
        [(
            "cli:thu.nguyen".to_string(),
            "retry".to_string(),
            Some("rel".to_string())
        )]
    );
}
