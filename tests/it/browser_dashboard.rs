//! The dashboard in a real browser: Debian's headless chromium, driven over the W3C
//! WebDriver protocol by chromedriver, logs in to a running `loa run`, opens the campaign's
//! timeline, presses Pause, sees the campaign shown paused only, and the daemon stops
//! sending.
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
