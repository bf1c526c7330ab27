//! A real browser for the dashboard tests: Debian's headless chromium, driven over the W3C
//! WebDriver protocol by chromedriver (`/usr/bin/chromium`, `/usr/bin/chromedriver`;
//! `.ci/run` installs them). [`available`] says whether a test can run: without them it
//! passes with a note, except under `CI=true`, where it must run.

use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::daemon::{free_port, until};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const DRIVER: &str = "/usr/bin/chromedriver";
/// The W3C name of an element reference in WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process and one browser session in it; both end when dropped.
pub struct Browser {
    driver: Child,
    http: reqwest::Client,
    session: String,
}

impl Browser {
    pub async fn start() -> Browser {
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

    pub async fn go(&self, url: &str) {
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

    pub async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        let path = format!("/element/{e}/value");
        self.call(reqwest::Method::POST, &path, json!({"text": text}))
            .await;
    }

    pub async fn click(&self, css: &str) {
        let e = self.find(css).await;
        let path = format!("/element/{e}/click");
        self.call(reqwest::Method::POST, &path, json!({})).await;
    }

    /// The page's source once it contains `text` (a form's submission navigates after the
    /// click returns), or as it is after 10 s.
    pub async fn source_with(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let page = self.source().await;
            if page.contains(text) || Instant::now() > deadline {
                return page;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The visible text of the element `css` selects.
    pub async fn text(&self, css: &str) -> String {
        let e = self.find(css).await;
        let path = format!("/element/{e}/text");
        let v = self.call(reqwest::Method::GET, &path, Value::Null).await;
        v.as_str().unwrap_or_default().to_string()
    }

    pub async fn source(&self) -> String {
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

/// Whether chromium and chromedriver are here; fails under `CI=true` when they are not.
pub fn available() -> bool {
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
    }
    present
}
