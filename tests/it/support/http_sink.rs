//! A real HTTP server on 127.0.0.1 (axum) playing a webhook receiver, Zalo's ZNS API and
//! Zalo's OAuth endpoint, plus a canary listener that must never be reached.
//!
//! Webhook paths: `/ok` (200), `/retry-seconds` (429, `Retry-After: 3`), `/retry-date`
//! (429, `Retry-After` = an HTTP-date 5 s ahead), `/fail` (500), `/gone` (410),
//! `/redirect` (302 to the canary), `/hang` (never answers), `/huge` (200 with 1 MiB),
//! `/echo` (422 quoting the JSON body's `to` in three other spellings, and its `text`).
//! Zalo: `POST /message/template` accepts the tokens in `valid_tokens` and answers the error
//! set per phone in `zalo_errors`; `POST /v4/oa/access_token` trades `refresh_token` for
//! `new_pair`, once. Every request is recorded with the instant it arrived, and a line goes
//! to `events`.
//!
//! Scripted paths (docs/reliability.md#r6): `script(path, answers)` makes the next requests to
//! `path` get `answers` in order (a status, headers, and how long to wait before answering),
//! then 200.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Gauge;

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// When the request (head and body) had arrived.
    pub at: Instant,
}

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Wait this long before answering.
    pub delay: Duration,
    /// `Retry-After` as an HTTP-date this far after the answer.
    pub retry_at: Option<Duration>,
}

impl Answer {
    pub fn status(status: u16) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            delay: Duration::ZERO,
            retry_at: None,
        }
    }

    /// `Retry-After` as an HTTP-date `ahead` after the answer is sent.
    pub fn retry_at(mut self, ahead: Duration) -> Answer {
        self.retry_at = Some(ahead);
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Answer {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn after(mut self, delay: Duration) -> Answer {
        self.delay = delay;
        self
    }
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

#[derive(Default)]
pub struct Zalo {
    pub valid_tokens: Vec<String>,
    pub zalo_errors: HashMap<String, i64>,
    /// (expected refresh token, expected secret_key, new access token, new refresh token)
    pub refresh: Option<(String, String, String, String)>,
}

pub struct Shared {
    pub requests: Mutex<Vec<Request>>,
    pub zalo: Mutex<Zalo>,
    /// A log shared with the test (e.g. with a token store), to check what happened first.
    pub events: Arc<Mutex<Vec<String>>>,
    pub canary: SocketAddr,
    /// Answers still to give, per path.
    pub scripts: Mutex<HashMap<String, VecDeque<Answer>>>,
    /// Scripted answers given, in order.
    pub answered: Mutex<Vec<Answered>>,
    /// Requests being answered now, and the most there ever were at once.
    pub in_flight: Arc<Gauge>,
}

/// A scripted answer as it went out.
#[derive(Debug, Clone)]
pub struct Answered {
    pub path: String,
    pub status: u16,
    pub at: Instant,
    /// The instant its `Retry-After` names, if it had one.
    pub retry_after: Option<Instant>,
}

pub struct HttpSink {
    pub addr: SocketAddr,
    pub shared: Arc<Shared>,
    canary_hits: Arc<AtomicUsize>,
}

impl HttpSink {
    pub async fn start() -> HttpSink {
        let canary = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let canary_addr = canary.local_addr().unwrap();
        let canary_hits = Arc::new(AtomicUsize::new(0));
        let hits = canary_hits.clone();
        tokio::spawn(async move {
            while let Ok((_s, _)) = canary.accept().await {
                hits.fetch_add(1, Ordering::SeqCst);
            }
        });
        let shared = Arc::new(Shared {
            requests: Mutex::default(),
            zalo: Mutex::default(),
            events: Arc::default(),
            canary: canary_addr,
            scripts: Mutex::default(),
            answered: Mutex::default(),
            in_flight: Arc::default(),
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        HttpSink {
            addr,
            shared,
            canary_hits,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// The next requests to `path` get `answers`, in order; then 200.
    pub fn script(&self, path: &str, answers: Vec<Answer>) {
        self.shared
            .scripts
            .lock()
            .unwrap()
            .insert(path.to_string(), answers.into());
    }

    /// The scripted answers given to `path`, in order.
    pub fn answered(&self, path: &str) -> Vec<Answered> {
        self.shared
            .answered
            .lock()
            .unwrap()
            .iter()
            .filter(|a| a.path == path)
            .cloned()
            .collect()
    }

    /// The requests to `path`, in order of arrival.
    pub fn requests_to(&self, path: &str) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    /// The most requests that were ever being answered at the same time.
    pub fn most_in_flight(&self) -> usize {
        self.shared.in_flight.most()
    }

    pub fn canary_connections(&self) -> usize {
        self.canary_hits.load(Ordering::SeqCst)
    }

    pub fn zalo(&self) -> std::sync::MutexGuard<'_, Zalo> {
        self.shared.zalo.lock().unwrap()
    }
}

async fn handle(
    State(s): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let _answering = s.in_flight.enter();
    let path = uri.path().to_string();
    s.requests.lock().unwrap().push(Request {
        method: method.to_string(),
        path: path.clone(),
        headers: headers.clone(),
        body: body.to_vec(),
        at: Instant::now(),
    });
    let scripted = s
        .scripts
        .lock()
        .unwrap()
        .get_mut(&path)
        .map(VecDeque::pop_front);
    if let Some(next) = scripted {
        let a = next.unwrap_or_else(|| Answer::status(200));
        tokio::time::sleep(a.delay).await;
        let mut response = StatusCode::from_u16(a.status).unwrap().into_response();
        let now = Instant::now();
        let mut retry_after = None;
        if let Some(ahead) = a.retry_at {
            let wall = SystemTime::now();
            let date = httpdate::fmt_http_date(wall + ahead);
            // The date has whole seconds: the instant it names is up to 1 s before `ahead`.
            let named = httpdate::parse_http_date(&date).unwrap();
            retry_after = Some(match named.duration_since(wall) {
                Ok(d) => now + d,
                Err(e) => now - e.duration(),
            });
            response
                .headers_mut()
                .insert("retry-after", date.parse().unwrap());
        }
        for (k, v) in &a.headers {
            response.headers_mut().insert(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
            if k.eq_ignore_ascii_case("retry-after") {
                let secs: u64 = v.parse().expect("Retry-After in seconds");
                retry_after = Some(now + Duration::from_secs(secs));
            }
        }
        s.answered.lock().unwrap().push(Answered {
            path: path.clone(),
            status: a.status,
            at: now,
            retry_after,
        });
        return response;
    }
    match path.as_str() {
        "/ok" => (StatusCode::OK, r#"{"ok":true}"#).into_response(),
        "/retry-seconds" => (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "3")]).into_response(),
        "/retry-date" => {
            let at = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(5));
            (StatusCode::TOO_MANY_REQUESTS, [("retry-after", at)]).into_response()
        }
        "/fail" => (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
        "/gone" => (StatusCode::GONE, "gone").into_response(),
        "/bad" => (StatusCode::BAD_REQUEST, "phone 84912345678 is wrong").into_response(),
        "/echo" => echo(&body),
        "/redirect" => {
            let to = format!("http://{}/stolen", s.canary);
            (StatusCode::FOUND, [("location", to)]).into_response()
        }
        "/hang" => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::OK.into_response()
        }
        "/huge" => (StatusCode::OK, vec![b'x'; 1 << 20]).into_response(),
        "/message/template" => zalo_send(&s, &headers, &body),
        "/v4/oa/access_token" => zalo_refresh(&s, &headers, &body),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A provider that quotes the recipient back as it pleases: `to` = `84912000001` comes back
/// as `0912000001`, `84 912 000 001` and `+84.912.000.001`, then the message text.
fn echo(body: &[u8]) -> Response {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let to = v["to"].as_str().unwrap_or("");
    let text = v["text"].as_str().unwrap_or("");
    let answer = match (to.get(..2), to.get(2..5), to.get(5..8), to.get(8..)) {
        (Some(cc), Some(a), Some(b), Some(c)) => {
            format!("invalid recipient 0{a}{b}{c} ({cc} {a} {b} {c}, +{cc}.{a}.{b}.{c}): {text}")
        }
        _ => format!("invalid recipient {to}: {text}"),
    };
    (StatusCode::UNPROCESSABLE_ENTITY, answer).into_response()
}

fn zalo_send(s: &Shared, headers: &HeaderMap, body: &[u8]) -> Response {
    let token = headers
        .get("access_token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    s.events.lock().unwrap().push(format!("send with {token}"));
    let zalo = s.zalo.lock().unwrap();
    if !zalo.valid_tokens.contains(&token) {
        return axum::Json(json!({"error": -124, "message": "Access token is invalid"}))
            .into_response();
    }
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let phone = v["phone"].as_str().unwrap_or("");
    if let Some(code) = zalo.zalo_errors.get(phone) {
        return axum::Json(
            json!({"error": code, "message": format!("scripted error for {phone}")}),
        )
        .into_response();
    }
    axum::Json(json!({
        "error": 0,
        "message": "Success",
        "data": {"msg_id": "a4d0243feee163bd3af2", "sent_time": "1626926349402",
                 "quota": {"dailyQuota": "500", "remainingQuota": "499"}}
    }))
    .into_response()
}

fn zalo_refresh(s: &Shared, headers: &HeaderMap, body: &[u8]) -> Response {
    s.events.lock().unwrap().push("refresh".into());
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    let secret = headers.get("secret_key").and_then(|v| v.to_str().ok());
    let mut zalo = s.zalo.lock().unwrap();
    let Some((refresh, want_secret, access, new_refresh)) = zalo.refresh.clone() else {
        return axum::Json(json!({"error": -14014, "error_name": "Invalid refresh token"}))
            .into_response();
    };
    let ok = form.get("refresh_token") == Some(&refresh)
        && form.get("grant_type").map(String::as_str) == Some("refresh_token")
        && form.contains_key("app_id")
        && secret == Some(want_secret.as_str());
    if !ok {
        return axum::Json(json!({"error": -14014, "error_name": "Invalid refresh token"}))
            .into_response();
    }
    zalo.refresh = None; // single-use
    zalo.valid_tokens.push(access.clone());
    axum::Json(json!({"access_token": access, "refresh_token": new_refresh, "expires_in": "90000"}))
        .into_response()
}
