//! The dashboard in a real browser: Debian's headless chromium, driven over the W3C
//! WebDriver protocol by chromedriver, logs in to a running `loa run`, opens the campaign's
//! timeline, presses Pause, sees the campaign shown paused only, and the daemon stops
//! sending; staff accounts log in by name and password, each with its role, and request and
//! approve a campaign (issue 17).
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian packages `chromium`,
//! `chromium-driver`; `.ci/run` installs them). Without them the test says so and passes,
//! except under `CI=true`, where it must run.

use std::time::{Duration, Instant};

use crate::support::browser::{self, Browser};
use crate::support::daemon::{Daemon, Tuning, sending_slowly};

const ADMIN: &str = "a-long-admin-token-for-the-browser";
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_log_in_see_the_timeline_and_pause_the_daemon_in_a_browser() {
    if !browser::available() {
        return;
    }
    let admin = [("LOA_ADMIN_TOKEN", ADMIN)];
    let (sink, ws, daemon) =
        sending_slowly(30, |ws| Daemon::start_with(ws, &Tuning::default(), &admin)).await;
    let base = format!("http://127.0.0.1:{}", daemon.port(&ws).await);

    let browser = Browser::start().await;
    browser.go(&format!("{base}/login")).await;
    browser.type_into("input[name=token]", ADMIN).await;
    browser.click("form button[type=submit]").await;
    let list = browser.source_with("/campaigns/rel").await;
    assert!(list.contains("/campaigns/rel"), "the campaign list: {list}");
    browser.go(&format!("{base}/campaigns/rel")).await;
    let page = browser.source_with("class=\"tl\"").await;
    // The timeline, with a row for the step and its occurrence marks.
    assert!(page.contains("class=\"tl\""), "no timeline: {page}");
    assert!(
        page.contains("<div class=\"tl-name\" title=\"s1\">"),
        "no row for the step on the timeline"
    );
    browser.click("form[action$='/pause'] button").await;
    let pressed = Instant::now();
    let after = browser.source_with("/resume").await;
    assert!(after.contains("/resume"), "no Resume button after Pause");
    // One state for the held campaign: paused, never "running" beside it.
    assert!(
        after.contains("data-campaign-state=\"operator_paused\"") && after.contains("tạm dừng"),
        "the campaign is not shown paused"
    );
    assert!(
        !after.contains("đang chạy"),
        "shown running and paused at once"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let settled = sink.received_count();
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let later = sink.received_count();
    println!(
        "browser: logged in, timeline shown, Pause pressed; {settled} received 1.5 s after, \
         {later} after {:.1} s (of 30)",
        pressed.elapsed().as_secs_f64()
    );
    assert_eq!(later, settled, "the daemon kept sending after Pause");
    assert!(later < 30);
}

/// Issue 17 (docs/accounts.md): accounts made with `loa user add` log in by name and
/// password in the browser; a viewer sees the campaign without its buttons, an operator
/// presses Pause, and the header names who is logged in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_accounts_log_in_by_name_and_only_an_operator_gets_the_pause_button() {
    if !browser::available() {
        return;
    }
    const PASSWORD: &str = "mật khẩu trình duyệt 2026";
    let (sink, ws, daemon) = sending_slowly(30, |ws| {
        for (name, role) in [("xem", "viewer"), ("lan.nguyen", "operator")] {
            ws.loa_input(
                &["user", "add", name, "--role", role],
                &format!("{PASSWORD}\n"),
            )
            .ok();
        }
        Daemon::start_with(ws, &Tuning::default(), &[])
    })
    .await;
    let base = format!("http://127.0.0.1:{}", daemon.port(&ws).await);
    let browser = Browser::start().await;
    let log_in = |name: &'static str| {
        let browser = &browser;
        let base = &base;
        async move {
            browser.go(&format!("{base}/login")).await;
            browser.type_into("input[name=name]", name).await;
            browser.type_into("input[name=password]", PASSWORD).await;
            browser.click("form button[type=submit]").await;
            browser.source_with("/campaigns/rel").await;
            browser.go(&format!("{base}/campaigns/rel")).await;
            browser.source_with("class=\"tl\"").await
        }
    };
    let viewer = log_in("xem").await;
    assert!(
        viewer.contains("data-account=\"xem\""),
        "the header names xem"
    );
    assert!(
        !viewer.contains("/pause\""),
        "a viewer sees no Pause button"
    );
    let operator = log_in("lan.nguyen").await;
    assert!(operator.contains("data-account=\"lan.nguyen\""));
    browser.click("form[action$='/pause'] button").await;
    let after = browser.source_with("/resume").await;
    assert!(after.contains("data-campaign-state=\"operator_paused\""));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let settled = sink.received_count();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sink.received_count(), settled, "still sending after Pause");
    println!("browser: viewer without buttons, operator paused at {settled} of 30 sent");
}

/// Four-eyes approval in the browser (issue 17, docs/approval.md): an active campaign that
/// nobody approved sends nothing; an operator presses "request approval", is offered no
/// "approve" button; an approver presses it and the daemon sends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_requests_approval_and_an_approver_approves_in_a_browser() {
    if !browser::available() {
        return;
    }
    const PASSWORD: &str = "mật khẩu trình duyệt 2026";
    let sink = crate::support::smtp_sink::SmtpSink::start().await;
    let ws = crate::support::campaign::CampaignBuilder::new(3)
        .smtp("mail", &sink.url(), &[])
        .step("s1", &["mail"])
        .build();
    for (name, role) in [("lan.nguyen", "operator"), ("minh.tran", "approver")] {
        let add = ["user", "add", name, "--role", role];
        assert_eq!(ws.loa_input(&add, &format!("{PASSWORD}\n")).code(), 0);
    }
    let daemon = Daemon::start_with(&ws, &Tuning::default(), &[("LOA_APPROVAL", "on")]);
    let base = format!("http://127.0.0.1:{}", daemon.port(&ws).await);
    let browser = Browser::start().await;
    let log_in = |name: &'static str| {
        let browser = &browser;
        let base = &base;
        async move {
            browser.go(&format!("{base}/login")).await;
            browser.type_into("input[name=name]", name).await;
            browser.type_into("input[name=password]", PASSWORD).await;
            browser.click("form button[type=submit]").await;
            browser.source_with("/campaigns/rel").await;
            browser.go(&format!("{base}/campaigns/rel")).await;
            browser.source_with("data-approval=").await
        }
    };
    let operator = log_in("lan.nguyen").await;
    assert!(operator.contains("data-sending=\"nothing\""), "{operator}");
    browser.click("form[action$='/submit'] button").await;
    let after = browser.source_with("data-approval=\"awaiting\"").await;
    assert!(
        !after.contains("/approve\""),
        "the requester is offered the approve button"
    );
    assert_eq!(sink.received_count(), 0, "sent before the approval");
    let approver = log_in("minh.tran").await;
    assert!(approver.contains("/approve\""), "no approve button");
    browser.click("form[action$='/approve'] button").await;
    browser.source_with("data-approval=\"approved\"").await;
    let sent = crate::support::daemon::until(
        Duration::from_secs(20),
        Duration::from_millis(50),
        || async { sink.received_count() >= 3 },
    )
    .await;
    assert!(sent, "not sent after the approval in the browser");
    println!("browser: requested by lan.nguyen, approved by minh.tran, 3 of 3 sent");
}
