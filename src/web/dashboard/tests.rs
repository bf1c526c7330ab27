//! Handler tests: the whole router with `oneshot`, over a real SQLite ledger and the
//! example workspace (`campaigns/`, `templates/`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt as _;

use crate::campaign::{DataScan, EnvPolicy, LoadOptions, Secret, Workspace};
use crate::store::test_support as ts;
use crate::store::{CampaignRow, Outcome, OutcomeKind, Store};
use crate::web::{Keys, Metrics, WebState, router};

const ADMIN: &str = "admin-token-dashboard-0123";
const ID: &str = "bhyt-hssv-2026-2027";
/// 2026-09-08 12:00 +07:00: after the first Monday reminders of the example campaign.
const NOW: i64 = 1_789_016_400_000;

fn workspace() -> Arc<Workspace> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let opts = LoadOptions {
        env: EnvPolicy::Optional,
        data: DataScan::Headers,
    };
    let (ws, diags) = Workspace::load(&[root.join("campaigns")], &root.join("templates"), opts);
    Arc::new(ws.unwrap_or_else(|| panic!("the example loads: {diags:?}")))
}

fn state(store: &Store) -> WebState {
    ledger_only(store).with_workspace(workspace())
}

/// Without a loaded workspace: titles come from the ledger.
fn ledger_only(store: &Store) -> WebState {
    let keys = Keys::new().with_admin_token(Secret::new(ADMIN));
    WebState::new(store.clone(), Arc::new(Metrics::new(NOW)), keys).with_clock(Arc::new(|| NOW))
}

async fn call(st: &WebState, request: Request<Body>) -> (StatusCode, String, Option<String>) {
    let response = router(st.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    let body = axum::body::to_bytes(response.into_body(), 1 << 22)
        .await
        .unwrap();
    (
        status,
        String::from_utf8_lossy(&body).into_owned(),
        location,
    )
}

/// Logs in: the session cookie pair and the CSRF token of the home page.
async fn log_in(st: &WebState) -> (String, String) {
    let login = Request::post("/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(format!("token={ADMIN}")))
        .unwrap();
    let response = router(st.clone()).oneshot(login).await.unwrap();
    let set = response.headers()["set-cookie"].to_str().unwrap();
    let cookie = set.split(';').next().unwrap().to_owned();
    let (_, page, _) = call(st, get("/", &cookie)).await;
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a CSRF field")
        .to_owned();
    (cookie, csrf)
}

fn get(path: &str, cookie: &str) -> Request<Body> {
    Request::get(path)
        .header("cookie", cookie)
        .body(Body::empty())
        .unwrap()
}

fn post(path: &str, cookie: &str, form: &str) -> Request<Body> {
    Request::post(path)
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(form.to_owned()))
        .unwrap()
}

/// The example campaign in the ledger, with `title`, and occurrence 1 of
/// `coverage-weekly` (07/09 08:00) holding one failed and one sent e-mail and one pending
/// Zalo message.
async fn seed(store: &Store, title: &str) {
    titled(store, title).await;
    let occ = store
        .occurrence(ID, "coverage-weekly", 1, ts::T0)
        .await
        .unwrap();
    let mut rows = vec![
        ts::message(&occ, "TH-001", "email"),
        ts::message(&occ, "TH-003", "email"),
        ts::message(&occ, "TH-001", "zalo"),
    ];
    rows[0].address = Some("hieutruong.th-001@example.org".into());
    store.insert_messages(&rows, ts::T0).await.unwrap();
    let only = ["email".to_owned()];
    let c = store
        .claim("w", ts::T0, Duration::from_secs(60), 2, &only)
        .await
        .unwrap();
    let outcome = |i: usize, result| Outcome {
        id: c[i].id,
        attempt: c[i].attempt,
        owner: "w".into(),
        started_at: ts::T0,
        duration_ms: 1,
        result,
    };
    let failed = OutcomeKind::Failed {
        code: Some("550".into()),
        error: "mailbox hieutruong.th-001@example.org unavailable".into(),
    };
    let sent = OutcomeKind::Sent { provider_id: None };
    let outcomes = [outcome(0, failed), outcome(1, sent)];
    store.record(&outcomes, ts::T0 + 1).await.unwrap();
}

/// The example campaign's ledger row, loaded with `title`.
async fn titled(store: &Store, title: &str) {
    store
        .upsert_campaign(&CampaignRow {
            id: ID.into(),
            title: title.into(),
            status: "active".into(),
            content_hash: "sha256:example".into(),
            file: "campaigns/bhyt-hssv-2026-2027.yaml".into(),
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn pages_send_a_stranger_to_the_login_form_and_actions_answer_401() {
    let (_dir, store) = ts::open().await;
    seed(&store, "BHYT").await;
    let st = state(&store);
    for path in ["/", "/campaigns/bhyt-hssv-2026-2027"] {
        let (status, _, location) = call(&st, get(path, "loa_session=forged")).await;
        assert_eq!(
            (status, location.as_deref()),
            (StatusCode::SEE_OTHER, Some("/login"))
        );
    }
    for action in ["pause", "resume", "retry"] {
        let path = format!("/campaigns/{ID}/{action}");
        let (status, ..) = call(&st, post(&path, "", "csrf=x")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{action}");
    }
    assert!(store.audit_log(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_action_without_the_csrf_token_is_403_and_changes_nothing() {
    let (_dir, store) = ts::open().await;
    seed(&store, "BHYT").await;
    let st = state(&store);
    let (cookie, _) = log_in(&st).await;
    for action in ["pause", "resume", "retry"] {
        let path = format!("/campaigns/{ID}/{action}");
        assert_eq!(
            call(&st, post(&path, &cookie, "")).await.0,
            StatusCode::FORBIDDEN
        );
        let forged = call(&st, post(&path, &cookie, "csrf=forged")).await.0;
        assert_eq!(forged, StatusCode::FORBIDDEN);
    }
    assert!(store.held_campaigns().await.unwrap().is_empty());
    assert_eq!(store.status(Some(ID)).await.unwrap()[0].counts["failed"], 1);
    let actions: Vec<String> = store
        .audit_log(None)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.action)
        .collect();
    assert_eq!(actions, ["login"]);
}

#[tokio::test]
async fn pause_resume_and_retry_change_the_ledger_and_write_one_audit_row_each() {
    let (_dir, store) = ts::open().await;
    seed(&store, "BHYT").await;
    let st = state(&store);
    let (cookie, csrf) = log_in(&st).await;
    let form = format!("csrf={csrf}");
    let act = |action: &str| post(&format!("/campaigns/{ID}/{action}"), &cookie, &form);

    let (status, _, location) = call(&st, act("pause")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        location.as_deref(),
        Some("/campaigns/bhyt-hssv-2026-2027?done=paused")
    );
    assert!(store.held_campaigns().await.unwrap().contains(ID));
    let (_, page, _) = call(&st, get(location.as_deref().unwrap(), &cookie)).await;
    assert!(
        page.contains("Đã tạm dừng chiến dịch."),
        "the flash message"
    );
    assert!(page.contains("/resume"), "the resume button replaces pause");

    call(&st, act("resume")).await;
    assert!(store.held_campaigns().await.unwrap().is_empty());
    let (_, _, location) = call(&st, act("retry")).await;
    assert_eq!(
        location.as_deref(),
        Some("/campaigns/bhyt-hssv-2026-2027?done=retried&n=1")
    );
    let status = store.status(Some(ID)).await.unwrap();
    assert_eq!(
        (status[0].counts["failed"], status[0].counts["pending"]),
        (0, 1)
    );

    let log = store.audit_log(Some(ID)).await.unwrap();
    let actions: Vec<&str> = log.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["pause", "resume", "retry"]);
    assert!(
        log.iter()
            .all(|r| r.actor == "token" && r.content_hash.as_deref() == Some("sha256:example"))
    );
    assert_eq!(log[2].audience, Some(1));
    let (_, page, _) = call(&st, get(&format!("/campaigns/{ID}"), &cookie)).await;
    assert_eq!(page.matches("data-audit=").count(), 3, "the actions log");
    let unknown = post("/campaigns/ghost/pause", &cookie, &form);
    assert_eq!(call(&st, unknown).await.0, StatusCode::NOT_FOUND);
    assert_eq!(store.audit_log(Some(ID)).await.unwrap().len(), 3);
}

#[tokio::test]
async fn the_campaign_page_shows_windows_occurrences_funnel_failures_and_coverage() {
    let (_dir, store) = ts::open().await;
    seed(&store, "BHYT").await;
    let st = state(&store);
    let (cookie, _) = log_in(&st).await;
    let (status, page, _) = call(&st, get(&format!("/campaigns/{ID}"), &cookie)).await;
    assert_eq!(status, StatusCode::OK);
    for window in ["school-start", "banners", "collection", "year-end"] {
        assert!(
            page.contains(&format!("data-window=\"{window}\"")),
            "{window}"
        );
    }
    let marks = page.matches("data-step=\"coverage-weekly\"").count();
    assert!(
        marks >= 19,
        "one mark per Monday of the collection window: {marks}"
    );
    assert!(page.contains("data-occurrence=\"coverage-weekly#1\""));
    let email = page
        .split("data-funnel=\"coverage-weekly/email\"")
        .nth(1)
        .and_then(|s| s.split("</tr>").next())
        .expect("a funnel row for e-mail");
    assert!(email.contains("data-state=\"sent\">1<"), "{email}");
    assert!(email.contains("data-state=\"failed\">1<"), "{email}");
    assert!(page.contains("data-funnel=\"coverage-weekly/zalo\""));
    assert!(page.contains("hi***@example.org"), "the failure, masked");
    assert!(!page.contains("hieutruong.th-001@"), "no full address");
    assert!(
        page.contains("data-school=\"TH-003\""),
        "coverage per school"
    );
}

#[tokio::test]
async fn pages_are_vietnamese_by_default_english_with_the_switch_and_escape_titles() {
    let (_dir, store) = ts::open().await;
    seed(&store, "x").await;
    let st = ledger_only(&store);
    let (cookie, _) = log_in(&st).await;
    let (_, vi, _) = call(&st, get("/", &cookie)).await;
    assert!(vi.contains("<html lang=\"vi\">") && vi.contains("Chiến dịch"));
    let response = router(st.clone())
        .oneshot(get("/?lang=en", &cookie))
        .await
        .unwrap();
    let set = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(set.starts_with("loa_lang=en"), "{set}");
    let (_, en, _) = call(&st, get("/", &format!("{cookie}; loa_lang=en"))).await;
    assert!(en.contains("<html lang=\"en\">") && en.contains("Campaigns"));

    titled(&store, "<script>alert(1)</script> & co").await;
    let (_, page, _) = call(&st, get(&format!("/campaigns/{ID}"), &cookie)).await;
    assert!(!page.contains("<script>"), "no markup from a title");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt; &amp; co"));
}

#[test]
fn a_flash_message_is_one_of_ours_and_an_id_is_percent_encoded_in_links() {
    use super::i18n::Lang;
    use super::{flash, href};
    assert_eq!(
        flash(Some("done=paused"), Lang::En).as_deref(),
        Some("Campaign paused.")
    );
    let retried = flash(Some("done=retried&n=12"), Lang::Vi);
    assert_eq!(
        retried.as_deref(),
        Some("Số tin lỗi được đưa lại vào hàng đợi: 12")
    );
    assert_eq!(flash(Some("done=retried&n=<b>"), Lang::Vi), None);
    assert_eq!(flash(Some("done=<script>"), Lang::Vi), None);
    assert_eq!(flash(None, Lang::Vi), None);
    assert_eq!(href("bhyt-2026_a.b~"), "/campaigns/bhyt-2026_a.b~");
    assert_eq!(href("a b/\"?"), "/campaigns/a%20b%2F%22%3F");
}
