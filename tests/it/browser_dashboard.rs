//! The dashboard in a real browser: Debian's headless chromium, driven over the W3C
//! WebDriver protocol by chromedriver, logs in to a running `loa run`, opens the campaign's
//! timeline, presses Pause, sees the campaign shown paused only, and the daemon stops
//! sending.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian packages `chromium`,
//! `chromium-driver`; `.ci/run` installs them). Without them the test says so and passes,
//! except under `CI=true`, where it must run.

use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::daemon::{Daemon, Tuning, free_port, sending_slowly, until};

const ADMIN: &str = "a-long-admin-token-for-the-browser";
const CHROMIUM: &str = "/usr/bin/chromium";
const DRIVER: &str = "/usr/bin/chromedriver";
/// The W3C name of an element reference in WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process and one browser session in it; both end when dropped.
struct Browser {
    driver: Child,
    http: reqwest::Client,
    session: String,
}

impl Browser {
    async fn start() -> Browser {
        let port = free_port();
        // A process group of its own, so that dropping the browser ends the chromium
        // processes chromedriver started as well, even when the test failed half-way.
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

    async fn find(&self, css: &str) -> String {
        let found = self
            .call(
                reqwest::Method::POST,
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_string()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        let path = format!("/element/{e}/value");
        self.call(reqwest::Method::POST, &path, json!({"text": text}))
            .await;
    }

    async fn click(&self, css: &str) {
        let e = self.find(css).await;
        let path = format!("/element/{e}/click");
        self.call(reqwest::Method::POST, &path, json!({})).await;
    }

    /// The page's source once it contains `text` (a form's submission navigates after the
    /// click returns), or as it is after 10 s.
    async fn source_with(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let page = self.source().await;
            if page.contains(text) || Instant::now() > deadline {
                return page;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn source(&self) -> String {
        let v = self
            .call(reqwest::Method::GET, "/source", Value::Null)
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
async fn staff_log_in_see_the_timeline_and_pause_the_daemon_in_a_browser() {
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
