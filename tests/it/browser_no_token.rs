//! `/` in a real browser while the dashboard is off (no `LOA_ADMIN_TOKEN`, issue 20): Debian's
//! headless chromium, driven over WebDriver by chromedriver as in `browser_dashboard`,
//! opens a running `loa run` and reads how to turn the dashboard on — not a bare
//! "not found".
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian packages `chromium`,
//! `chromium-driver`); without them the test says so and passes, except under `CI=true`,
//! where it must run.

use crate::support::browser::{self, Browser};
use crate::support::campaign::CampaignBuilder;
use crate::support::daemon::{Daemon, Tuning};
use crate::support::http_sink::HttpSink;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_admin_token_the_browser_shows_how_to_turn_the_dashboard_on() {
    if !browser::available() {
        return;
    }
    let sink = HttpSink::start().await;
    let ws = CampaignBuilder::new(1)
        .webhook("mail", &sink.url("/hook"), &[])
        .step("s1", &["mail"])
        .build();
    let daemon = Daemon::start(&ws, &Tuning::default(), None);
    let base = format!("http://127.0.0.1:{}", daemon.port(&ws).await);

    let browser = Browser::start().await;
    browser.go(&format!("{base}/")).await;
    let heading = browser.text("h1#off").await;
    assert_eq!(heading, "Bảng điều khiển đang tắt");
    let body = browser.text("body").await;
    assert!(body.contains("LOA_ADMIN_TOKEN"), "{body}");
    assert!(body.contains("The dashboard is off"), "{body}");
    assert!(!body.contains("not found"), "{body}");
}
