//! `/` in a real browser while the dashboard is off (no `LOA_ADMIN_TOKEN`, issue 20): Debian's
//! headless chromium, driven over WebDriver by chromedriver as in `browser_dashboard`,
//! opens a running `loa run` and reads how to turn the dashboard on — not a bare
//! "not found".
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian packages `chromium`,
//! `chromium-driver`); without them the test says so and passes, except under `CI=true`,
//! where it must run.

use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::campaign::CampaignBuilder;
use crate::support::daemon::{Daemon, Tuning, free_port, until};
use crate::support::http_sink::HttpSink;

const CHROMIUM: &str = "/usr/bin/chromium";
const DRIVER: &str = "/usr/bin/chromedriver";

/// A chromedriver process and one browser session in it; both end when dropped.
struct Browser {
    driver: Child,
    http: reqwest::Client,
    session: String,
}

impl Browser {
    async fn start() -> Browser {
        let port = free_port();
        // A process group of its own, so that dropping the browser ends chromium too.
        let driver = Command::new(DRIVER)
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let up = until(
            Duration::from_secs(10),
            Duration::from_millis(50),
            || async { http.get(format!("{base}/status")).send().await.is_ok() },
        )
        .await;
        assert!(up, "chromedriver did not answer");
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900"]}
        }}});
        let answer: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .unwrap();
        let session = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {answer}"))
            .to_string();
        Browser {
            driver,
            http,
            session: format!("{base}/session/{session}"),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.session));
        if !body.is_null() {
            request = request.json(&body);
        }
        let answer: Value = request
            .send()
            .await
            .expect("WebDriver call")
            .json()
            .await
            .unwrap();
        answer["value"].clone()
    }

    async fn go(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", json!({"url": url}))
            .await;
    }

    /// The visible text of the element `css` selects.
    async fn text(&self, css: &str) -> String {
        let found = self
            .call(
                reqwest::Method::POST,
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        let e = found["element-6066-11e4-a52e-4f735466cecf"]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_string();
        let v = self
            .call(
                reqwest::Method::GET,
                &format!("/element/{e}/text"),
                Value::Null,
            )
            .await;
        v.as_str().unwrap_or_default().to_string()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_admin_token_the_browser_shows_how_to_turn_the_dashboard_on() {
    let present = [CHROMIUM, DRIVER]
        .iter()
        .all(|p| std::path::Path::new(p).exists());
    if !present {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must run the browser test: install chromium and chromium-driver"
        );
        println!(
            "skipped: {CHROMIUM} or {DRIVER} is missing (apt-get install chromium chromium-driver)"
        );
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
