//! Handler tests: the whole router, called with `tower::ServiceExt::oneshot` — no socket —
//! over a real SQLite ledger in a temporary directory.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt as _;

use super::*;
use crate::campaign::Secret;
use crate::channel::webhook::sign;
use crate::metrics::Rejection;
use crate::store::test_support::{self as ts, T0};
use crate::web::keys::KeysError;

const SECRET: &str = "relay-secret-canary";

/// A ledger with one `sent` SMS (`r0`, provider id `p0`) and one pending e-mail.
async fn ledger() -> (tempfile::TempDir, Store, String, String) {
    let (dir, store) = ts::open().await;
    let occ = ts::seed(&store).await;
    let sms = ts::message(&occ, "r0", "sms");
    let email = ts::message(&occ, "r1", "email");
    store
        .insert_messages(&[sms.clone(), email.clone()], T0)
        .await
        .unwrap();
    let claimed = store
        .claim("w", T0, Duration::from_secs(60), 1, &[])
        .await
        .unwrap();
    ts::record_sent(&store, &claimed[0], "p0", T0).await;
    let mut ids = ts::message_ids(&store).await.into_iter();
    let (sms, email) = (ids.next().unwrap(), ids.next().unwrap());
    (dir, store, sms, email)
}

fn state(store: &Store, keys: Keys) -> WebState {
    WebState::new(store.clone(), Arc::new(Metrics::new(T0)), keys).with_clock(Arc::new(|| T0))
}

fn keys() -> Keys {
    Keys::new()
        .with_webhook("sms", vec![Secret::new(SECRET)])
        .with_unsubscribe_key(Secret::new("unsubscribe-key"))
}

async fn call(state: &WebState, request: Request<Body>) -> (StatusCode, String) {
    let response = router(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn receipt(message_id: &str, signature: Option<String>) -> Request<Body> {
    let body = format!(r#"{{"message_id":"{message_id}","status":"delivered"}}"#);
    let ts = T0 / 1000;
    let mut r = Request::post("/callbacks/webhook/sms")
        .header("x-loa-timestamp", ts.to_string())
        .header("idempotency-key", "cb-1");
    let signature = signature.unwrap_or_else(|| format!("v1={}", sign(SECRET, ts as u64, &body)));
    if !signature.is_empty() {
        r = r.header("x-loa-signature", signature);
    }
    r.body(Body::from(body)).unwrap()
}

async fn state_of(store: &Store, message_id: &str) -> String {
    sqlx::query_scalar("SELECT state FROM message WHERE message_id = ?")
        .bind(message_id)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_signed_receipt_marks_the_message_delivered_and_a_replay_is_counted() {
    let (_dir, store, sms, _) = ledger().await;
    let st = state(&store, keys());
    assert_eq!(
        call(&st, receipt(&sms, None)).await,
        (StatusCode::OK, "ok\n".into())
    );
    assert_eq!(state_of(&store, &sms).await, "delivered");
    let replay = call(&st, receipt(&sms, None)).await;
    assert_eq!(replay, (StatusCode::OK, "duplicate\n".into()));
    assert_eq!(st.metrics().replays(), 1);
    ts::assert_events_complete(&store).await;
}

#[tokio::test]
async fn an_unsigned_or_forged_receipt_is_401_and_counted_by_reason() {
    let (_dir, store, sms, _) = ledger().await;
    let st = state(&store, keys());
    let (status, body) = call(&st, receipt(&sms, Some(String::new()))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(!body.contains(&sms));
    let (status, _) = call(&st, receipt(&sms, Some("v1=00".into()))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(st.metrics().rejections(Rejection::Unsigned), 1);
    assert_eq!(st.metrics().rejections(Rejection::BadSignature), 1);
    assert_eq!(state_of(&store, &sms).await, "sent");
}

#[tokio::test]
async fn an_authenticated_receipt_that_makes_no_sense_is_400_counted_and_writes_nothing() {
    let (_dir, store, sms, _) = ledger().await;
    let st = state(&store, keys());
    let ts = T0 / 1000;
    for body in [
        format!(r#"{{"message_id":"{sms}","status":"read"}}"#),
        format!(r#"{{"message_id":"{sms}","status":"delivered","at":"yesterday"}}"#),
        "[]".to_string(),
    ] {
        let request = Request::post("/callbacks/webhook/sms")
            .header("x-loa-timestamp", ts.to_string())
            .header(
                "x-loa-signature",
                format!("v1={}", sign(SECRET, ts as u64, &body)),
            )
            .header("idempotency-key", "cb-1")
            .body(Body::from(body))
            .unwrap();
        let (status, text) = call(&st, request).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
        assert!(!text.contains(&sms));
    }
    assert_eq!(st.metrics().rejections(Rejection::Malformed), 3);
    assert_eq!(
        ts::count(&store, "SELECT COUNT(*) FROM callback_seen").await,
        0
    );
    assert_eq!(state_of(&store, &sms).await, "sent");
}

#[tokio::test]
async fn a_receipt_from_another_channel_cannot_move_this_channels_message() {
    let (_dir, store, _, email) = ledger().await;
    let st = state(&store, keys());
    // Signed with the sms secret, naming the e-mail: not the sms channel's to move.
    let (status, body) = call(&st, receipt(&email, None)).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ignored\n"));
    assert_eq!(state_of(&store, &email).await, "pending");
}

#[tokio::test]
async fn a_route_that_is_off_is_404_and_one_without_a_key_is_503() {
    let (_dir, store, sms, _) = ledger().await;
    let off = state(&store, Keys::new());
    assert_eq!(
        call(&off, receipt(&sms, None)).await.0,
        StatusCode::NOT_FOUND
    );
    let keyless = state(&store, Keys::new().with_webhook("sms", vec![]));
    assert!(keyless.keys().check().is_err());
    let (status, _) = call(&keyless, receipt(&sms, None)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(keyless.metrics().rejections(Rejection::NotConfigured), 1);
    assert_eq!(state_of(&store, &sms).await, "sent");
}

/// The example workspace with `secret` on its `sms` webhook channel.
fn example_with_sms_secret(secret: Option<&str>) -> Arc<crate::campaign::Workspace> {
    use crate::campaign::{DataScan, EnvPolicy, LoadOptions, Workspace};
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let opts = LoadOptions {
        env: EnvPolicy::Optional,
        data: DataScan::Headers,
    };
    let (ws, diags) = Workspace::load(&[root.join("campaigns")], &root.join("templates"), opts);
    let mut ws = ws.unwrap_or_else(|| panic!("the example loads: {diags:?}"));
    for c in &mut ws.campaigns {
        c.channels.get_mut("sms").expect("an sms channel").secret = secret.map(Secret::new);
    }
    Arc::new(ws)
}

#[tokio::test]
async fn a_reloaded_webhook_secret_is_the_one_receipts_are_verified_with() {
    let (_dir, store, sms, _) = ledger().await;
    let live = Arc::new(crate::campaign::Live::new(example_with_sms_secret(Some(
        "secret-before-canary",
    ))));
    let keys = Keys::from_campaigns(
        &live.current().campaigns,
        &KeysEnv {
            callbacks: vec!["webhook/sms".into()],
            ..KeysEnv::default()
        },
    );
    assert_eq!(keys.check(), Ok(()));
    let st = state(&store, keys).with_live(Arc::clone(&live));
    let signed = |secret: &str, id: &str| {
        let body = format!(r#"{{"message_id":"{sms}","status":"delivered"}}"#);
        let ts = (T0 / 1000) as u64;
        Request::post("/callbacks/webhook/sms")
            .header("x-loa-timestamp", ts.to_string())
            .header("x-loa-signature", format!("v1={}", sign(secret, ts, &body)))
            .header("idempotency-key", id)
            .body(Body::from(body))
            .unwrap()
    };
    let status_of = |request| async { call(&st, request).await.0 };
    assert_eq!(
        status_of(signed("secret-before-canary", "cb-1")).await,
        StatusCode::OK
    );
    live.replace(example_with_sms_secret(Some("secret-after-canary")));
    assert_eq!(
        status_of(signed("secret-before-canary", "cb-2")).await,
        StatusCode::UNAUTHORIZED,
        "the old secret is gone"
    );
    assert_eq!(
        status_of(signed("secret-after-canary", "cb-3")).await,
        StatusCode::OK,
        "the new secret is in force"
    );
    // An edit that empties or removes the secret leaves nothing to verify with: refused,
    // even when signed with the empty key.
    live.replace(example_with_sms_secret(Some("")));
    assert_eq!(
        status_of(signed("", "cb-4")).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    live.replace(example_with_sms_secret(None));
    assert_eq!(
        status_of(signed("secret-after-canary", "cb-5")).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(st.metrics().rejections(Rejection::NotConfigured), 2);
}

#[tokio::test]
async fn a_streamed_body_over_the_limit_is_413_without_a_content_length() {
    let (_dir, store, _, _) = ledger().await;
    let st = state(&store, keys());
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..300).map(|_| Ok(vec![b' '; 1024])).collect();
    let body = Body::from_stream(futures::stream::iter(chunks));
    let request = Request::post("/callbacks/webhook/sms").body(body).unwrap();
    assert_eq!(call(&st, request).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(st.metrics().rejections(Rejection::TooLarge), 1);
}

/// Health limits that call a minute without a send, while work is due, a stall.
fn silence_of_a_minute() -> HealthThresholds {
    HealthThresholds {
        max_due_age: Duration::from_secs(3600),
        max_silence: Duration::from_secs(60),
        db_timeout: Duration::from_secs(2),
    }
}

#[tokio::test]
async fn healthz_is_200_when_idle_and_503_with_a_reason_when_due_work_goes_unsent() {
    let (_dir, store, _, _) = ledger().await;
    let limits = silence_of_a_minute();
    let at = |now: Millis| {
        state(&store, keys())
            .with_health(limits)
            .with_clock(Arc::new(move || now))
    };
    let get = || Request::get("/healthz").body(Body::empty()).unwrap();
    // The pending e-mail fell due at T0; 30 s later nothing is wrong yet.
    assert_eq!(
        call(&at(T0 + 30_000), get()).await,
        (StatusCode::OK, "ok\n".into())
    );
    let (status, body) = call(&at(T0 + 61_000), get()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body,
        "no message sent for 61 s while work is due (limit 60 s)\n"
    );
    let recent = at(T0 + 61_000);
    recent.metrics().sent_at(T0 + 50_000);
    assert_eq!(call(&recent, get()).await.0, StatusCode::OK);
    store.close().await;
    let (status, body) = call(&at(T0), get()).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n")
    );
}

/// The state of a daemon whose one campaign `id` sends on `channels`, 61 s after T0.
fn running(store: &Store, id: &str, channels: &[&str]) -> WebState {
    let mut ws = Arc::try_unwrap(example_with_sms_secret(None)).ok().unwrap();
    ws.campaigns.truncate(1);
    ws.campaigns[0].id = id.to_owned();
    ws.campaigns[0]
        .channels
        .retain(|name, _| channels.contains(&name.as_str()));
    state(store, keys())
        .with_clock(Arc::new(|| T0 + 61_000))
        .with_workspace(Arc::new(ws))
}

#[tokio::test]
async fn healthz_with_the_workspace_asks_about_its_channels() {
    let (_dir, store, _, _) = ledger().await;
    let limits = silence_of_a_minute();
    // The ledger's pending e-mail (campaign `c`) fell due at T0; 61 s later it is a stall
    // when `c` sends e-mail, and none of the daemon's business when it does not.
    let with_campaign =
        |id: &str, channels: &[&str]| running(&store, id, channels).with_health(limits);
    let get = || Request::get("/healthz").body(Body::empty()).unwrap();
    let (status, body) = call(&with_campaign("c", &["email", "sms"]), get()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body,
        "no message sent for 61 s while work is due (limit 60 s)\n"
    );
    let (status, _) = call(&with_campaign("c", &["sms"]), get()).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the e-mail is not on a channel it sends"
    );
    let (status, _) = call(&with_campaign("other", &["email"]), get()).await;
    assert_eq!(status, StatusCode::OK, "nor of a campaign it runs");
}

#[tokio::test]
async fn metrics_with_the_workspace_give_the_oldest_due_of_its_channels_and_when_they_counted() {
    let (_dir, store, _, _) = ledger().await;
    let get = || Request::get("/metrics").body(Body::empty()).unwrap();
    let (status, text) = call(&running(&store, "c", &["email", "sms"]), get()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        text.contains("loa_oldest_due_pending_seconds 61\n"),
        "{text}"
    );
    assert!(text.contains("loa_messages{campaign=\"c\",channel=\"email\",state=\"pending\"} 1\n"));
    let counted: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("loa_messages_counted_seconds_ago "))
        .expect("the age of the counts")
        .parse()
        .unwrap();
    assert!((0.0..1.0).contains(&counted), "counted just now: {counted}");
    let (_, text) = call(&running(&store, "c", &["sms"]), get()).await;
    assert!(
        text.contains("loa_oldest_due_pending_seconds 0\n"),
        "the e-mail is not on a channel it sends"
    );
}

#[tokio::test]
async fn metrics_need_the_token_when_one_is_set() {
    let (_dir, store, _, _) = ledger().await;
    let st = state(
        &store,
        keys().with_metrics_token(Secret::new("scrape-token")),
    );
    let get = |auth: Option<&str>| {
        let mut r = Request::get("/metrics");
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        r.body(Body::empty()).unwrap()
    };
    assert_eq!(call(&st, get(None)).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        call(&st, get(Some("Bearer scrape-tokeN"))).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&st, get(Some("Bearer scrape-toke"))).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, text) = call(&st, get(Some("Bearer scrape-token"))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("loa_messages{campaign=\"c\",channel=\"sms\",state=\"sent\"} 1\n"));
    assert!(text.contains("loa_oldest_due_pending_seconds 0\n"));
    assert!(!text.contains("@example.test"));
}

#[tokio::test]
async fn unsubscribe_get_shows_a_page_and_post_records_the_suppression() {
    let (_dir, store, _, email) = ledger().await;
    let st = state(&store, keys());
    let token = unsubscribe_token(b"unsubscribe-key", &email);
    let uri = format!("/unsubscribe/{token}");
    let (status, page) = call(&st, Request::get(&uri).body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Hủy nhận thông báo") && page.contains("r***@example.test"));
    assert!(!page.contains("r1@example.test"));
    assert!(!store.is_suppressed("r1@example.test").await.unwrap());
    let post = Request::post(&uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("List-Unsubscribe=One-Click"))
        .unwrap();
    let (status, page) = call(&st, post).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Đã hủy nhận thông báo"));
    assert!(store.is_suppressed("r1@example.test").await.unwrap());
}

#[tokio::test]
async fn a_forged_unsubscribe_token_gets_the_fixed_404_page() {
    let (_dir, store, _, email) = ledger().await;
    let st = state(&store, keys());
    let forged = unsubscribe_token(b"guessed-key", &email);
    for method in ["GET", "POST"] {
        let request = Request::builder()
            .method(method)
            .uri(format!("/unsubscribe/{forged}"))
            .body(Body::empty())
            .unwrap();
        let (status, page) = call(&st, request).await;
        assert_eq!(
            (status, page.as_str()),
            (StatusCode::NOT_FOUND, unsubscribe::BAD_LINK_PAGE)
        );
    }
    assert!(!store.is_suppressed("r1@example.test").await.unwrap());
}

const ADMIN: &str = "admin-token-0123456789";

fn login_request(token: &str) -> Request<Body> {
    Request::post("/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(format!("token={token}")))
        .unwrap()
}

fn with_cookie(mut r: Request<Body>, cookie: &str) -> Request<Body> {
    r.headers_mut().insert("cookie", cookie.parse().unwrap());
    r
}

/// Logs in; returns the `loa_session=…` pair and the whole `Set-Cookie`.
async fn log_in(st: &WebState) -> (String, String) {
    let response = router(st.clone())
        .oneshot(login_request(ADMIN))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/");
    let set = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    let pair = set.split(';').next().unwrap().to_owned();
    (pair, set)
}

#[tokio::test]
async fn the_admin_token_opens_a_strict_httponly_session_and_a_wrong_one_does_not() {
    let (_dir, store, _, _) = ledger().await;
    let st = state(&store, keys().with_admin_token(Secret::new(ADMIN)));
    let (status, body) = call(&st, login_request("admin-token-012345678X")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(!body.contains("admin-token"));
    let (_, set) = log_in(&st).await;
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800"] {
        assert!(set.contains(attribute), "{set}");
    }
    assert!(!set.contains("Secure"));
    let secure =
        state(&store, keys().with_admin_token(Secret::new(ADMIN))).with_secure_cookies(true);
    assert!(log_in(&secure).await.1.ends_with("; Secure"));
    let actions: Vec<String> = store
        .audit_log(None)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.action)
        .collect();
    assert_eq!(actions, ["login", "login"]);
}

#[tokio::test]
async fn the_dashboard_needs_a_session_and_logout_needs_the_csrf_token() {
    let (_dir, store, _, _) = ledger().await;
    let st = state(&store, keys().with_admin_token(Secret::new(ADMIN)));
    let home = || Request::get("/").body(Body::empty()).unwrap();
    let anonymous = router(st.clone()).oneshot(home()).await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
    assert_eq!(anonymous.headers()["location"], "/login");
    let forged = with_cookie(home(), "loa_session=not-a-session");
    assert_eq!(
        router(st.clone()).oneshot(forged).await.unwrap().status(),
        StatusCode::SEE_OTHER
    );
    let (cookie, _) = log_in(&st).await;
    let (status, page) = call(&st, with_cookie(home(), &format!("theme=dark; {cookie}"))).await;
    assert_eq!(status, StatusCode::OK);
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(csrf.len(), 43);
    let logout = |form: String| {
        let r = Request::post("/logout")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .unwrap();
        with_cookie(r, &cookie)
    };
    let no_session = Request::post("/logout")
        .body(Body::from(format!("csrf={csrf}")))
        .unwrap();
    assert_eq!(call(&st, no_session).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        call(&st, logout(String::new())).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(&st, logout("csrf=AAAA".into())).await.0,
        StatusCode::FORBIDDEN
    );
    let out = router(st.clone())
        .oneshot(logout(format!("csrf={csrf}")))
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(
        out.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    // The session is gone.
    let after = router(st.clone())
        .oneshot(with_cookie(home(), &cookie))
        .await
        .unwrap();
    assert_eq!(after.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_sixth_failed_login_within_a_minute_is_429_and_the_window_passes() {
    let (_dir, store, _, _) = ledger().await;
    let keys = keys().with_admin_token(Secret::new(ADMIN));
    let at = |now: Millis| state(&store, keys.clone()).with_clock(Arc::new(move || now));
    let st = at(T0);
    for _ in 0..5 {
        assert_eq!(
            call(&st, login_request("wrong")).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        call(&st, login_request("wrong")).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Even the right token waits out the window.
    assert_eq!(
        call(&st, login_request(ADMIN)).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Same sessions, a minute later (the failures live in the state's sessions).
    let later = st.clone().with_clock(Arc::new(|| T0 + 60_000));
    assert_eq!(
        call(&later, login_request(ADMIN)).await.0,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn without_an_admin_token_the_dashboard_does_not_exist() {
    let (_dir, store, _, _) = ledger().await;
    let st = state(&store, keys());
    assert_eq!(call(&st, login_request("")).await.0, StatusCode::NOT_FOUND);
    let home = Request::get("/").body(Body::empty()).unwrap();
    assert_eq!(call(&st, home).await.0, StatusCode::NOT_FOUND);
    let weak = Keys::new().with_admin_token(Secret::new("short"));
    assert_eq!(weak.check(), Err(KeysError::WeakAdminToken));
}

#[tokio::test]
async fn every_route_but_the_public_ones_refuses_a_caller_without_credentials() {
    let (_dir, store, _, _) = ledger().await;
    let all_keys = keys()
        .with_zalo(vec![Secret::new("zalo-key")], None)
        .with_metrics_token(Secret::new("scrape-token"))
        .with_admin_token(Secret::new(ADMIN));
    let st = state(&store, all_keys);
    for (method, path, access) in ROUTES {
        let uri = path
            .replace("{channel}", "sms")
            .replace("{id}", "c")
            .replace("{token}", "m1.AAAA");
        let request = Request::builder()
            .method(*method)
            .uri(&uri)
            .body(Body::empty())
            .unwrap();
        let response = router(st.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let location = response.headers().get("location").cloned();
        let ok = match access {
            Access::Public => status != StatusCode::NOT_FOUND,
            Access::Token | Access::Signed => status == StatusCode::UNAUTHORIZED,
            Access::Link => status == StatusCode::NOT_FOUND,
            Access::Staff(_) => {
                status == StatusCode::UNAUTHORIZED
                    || (status == StatusCode::SEE_OTHER && location.is_some_and(|l| l == "/login"))
            }
        };
        assert!(ok, "{method} {path} ({access:?}) answered {status}");
    }
    // The table is what the router serves: each listed route exists (a forged link is
    // the bad-link page, not the router's empty 404).
    let probe = Request::get("/unsubscribe/m1.AAAA")
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&st, probe).await.1, unsubscribe::BAD_LINK_PAGE);
    let unknown = Request::get("/admin").body(Body::empty()).unwrap();
    assert_eq!(
        call(&st, unknown).await,
        (StatusCode::NOT_FOUND, String::new())
    );
}

/// The R14 table (docs/reliability.md#r14) must be the router: axum cannot list its routes, so
/// this reads every `.route("…", get(…).post(…))` in `src/web` and checks that each path and
/// method is in [`ROUTES`] (and that the table names nothing the code does not serve).
#[test]
fn the_access_table_names_exactly_the_routes_the_code_registers() {
    fn sources(dir: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut files = Vec::new();
    sources(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web"),
        &mut files,
    );
    let mut registered = std::collections::BTreeSet::new();
    for text in &files {
        for call in text.split(".route(\"").skip(1) {
            let (path, rest) = call.split_once('"').unwrap();
            if !path.starts_with('/') {
                continue;
            }
            // Each registration stands on one line: `get(a).post(b))`.
            let handlers = rest.lines().next().unwrap_or_default();
            for (verb, method) in [("get(", "GET"), ("post(", "POST")] {
                if handlers.contains(verb) {
                    registered.insert((method.to_string(), path.to_string()));
                }
            }
        }
    }
    let table: std::collections::BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    assert!(registered.len() >= 10, "found only {registered:?}");
    assert_eq!(registered, table, "the router and ROUTES differ");
}

#[test]
fn zalo_receipts_may_move_only_the_zalo_zns_channels_of_the_campaigns() {
    let ws = example_with_sms_secret(None);
    let env = KeysEnv {
        callbacks: vec!["zalo".into()],
        zalo_keys: vec![Secret::new("zalo-key")],
        ..KeysEnv::default()
    };
    let keys = Keys::from_campaigns(&ws.campaigns, &env);
    // The example's channels: email (smtp), zalo (zalo_zns), sms (webhook).
    assert_eq!(keys.zalo_channels(None), vec!["zalo".to_string()]);
    assert_eq!(
        keys.zalo_channels(Some(&ws.campaigns)),
        vec!["zalo".to_string()]
    );
    let bare = Keys::new().with_zalo(vec![Secret::new("zalo-key")], None);
    assert!(bare.zalo_channels(None).is_empty());
}
