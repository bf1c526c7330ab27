//! The staff dashboard over real HTTP (issue 4): every dashboard route behind the session,
//! CSRF on every button, pause / resume / retry through the ledger with one audit row
//! each, the example campaign's timeline and funnel, both languages, escaping, and no
//! full recipient address on any page (docs/reliability.md#r16).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use loa::campaign::{DataScan, EnvPolicy, LoadOptions, Secret, Workspace};
use loa::store::{CampaignRow, NewMessage, NewState, Outcome, OutcomeKind, Store, message_tag};
use loa::web::{Access, Keys, ROUTES};

use crate::support::web::{WebApp, now_ms};

const ADMIN: &str = "admin-token-dashboard-it-01";
const ID: &str = "bhyt-hssv-2026-2027";
/// Monday 2026-08-17 08:00 +07:00: the first weekly coverage reminder.
const FIRST_MONDAY: i64 = 1_786_928_400_000;

fn workspace() -> Arc<Workspace> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let opts = LoadOptions {
        env: EnvPolicy::Optional,
        data: DataScan::Headers,
    };
    let (ws, diags) = Workspace::load(&[root.join("campaigns")], &root.join("templates"), opts);
    Arc::new(ws.unwrap_or_else(|| panic!("the example loads: {diags:?}")))
}

async fn start() -> WebApp {
    let keys = Keys::new().with_admin_token(Secret::new(ADMIN));
    WebApp::start_with_workspace(keys, workspace()).await
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Logs in: the session cookie pair and the page's CSRF token.
async fn log_in(app: &WebApp, http: &reqwest::Client) -> (String, String) {
    let ok = http
        .post(app.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={ADMIN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 303);
    let set = ok.headers()["set-cookie"].to_str().unwrap();
    let cookie = set.split(';').next().unwrap().to_owned();
    let page = page(app, http, "/", &cookie).await;
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a CSRF field")
        .to_owned();
    (cookie, csrf)
}

async fn page(app: &WebApp, http: &reqwest::Client, path: &str, cookie: &str) -> String {
    let r = http
        .get(app.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.text().await.unwrap()
}

async fn press(
    app: &WebApp,
    http: &reqwest::Client,
    action: &str,
    cookie: &str,
    form: &str,
) -> reqwest::Response {
    http.post(app.url(&format!("/campaigns/{ID}/{action}")))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.to_owned())
        .send()
        .await
        .unwrap()
}

/// The example campaign titled `title`, and the first weekly reminder's messages: the
/// e-mails of `addresses` (the first failed with an error quoting its address, the rest
/// sent) and a pending Zalo message to TH-001.
async fn seed(store: &Store, title: &str, addresses: &[&str]) {
    store
        .upsert_campaign(&CampaignRow {
            id: ID.into(),
            title: title.into(),
            status: "active".into(),
            content_hash: "sha256:it".into(),
            file: "campaigns/bhyt-hssv-2026-2027.yaml".into(),
        })
        .await
        .unwrap();
    let occ = store
        .occurrence(ID, "coverage-weekly", 1, FIRST_MONDAY)
        .await
        .unwrap();
    let message = |recipient: String, channel: &str, address: &str| NewMessage {
        tag: message_tag(ID, "coverage-weekly", 1, &recipient, channel),
        campaign: ID.into(),
        step: "coverage-weekly".into(),
        occurrence_id: occ.id,
        occurrence_at: occ.at,
        occurrence_n: 1,
        recipient,
        channel: channel.into(),
        fallback_of: None,
        address: Some(address.into()),
        state: NewState::Pending,
        next_attempt_at: FIRST_MONDAY,
        expires_at: now_ms() + 86_400_000,
        context: "{}".into(),
    };
    let mut rows: Vec<NewMessage> = addresses
        .iter()
        .enumerate()
        .map(|(i, a)| message(format!("TH-00{}", i + 1), "email", a))
        .collect();
    rows.push(message("TH-001".into(), "zalo", "84912000101"));
    store.insert_messages(&rows, FIRST_MONDAY).await.unwrap();
    let only = ["email".to_owned()];
    let claimed = store
        .claim("seed", now_ms(), Duration::from_secs(60), 100, &only)
        .await
        .unwrap();
    let outcomes: Vec<Outcome> = claimed
        .iter()
        .map(|c| {
            let result = if c.address.as_deref() == Some(addresses[0]) {
                OutcomeKind::Failed {
                    code: Some("550".into()),
                    error: format!("5.1.1 <{}>: mailbox unavailable", addresses[0]),
                }
            } else {
                OutcomeKind::Sent { provider_id: None }
            };
            Outcome {
                id: c.id,
                attempt: c.attempt,
                owner: "seed".into(),
                started_at: now_ms(),
                duration_ms: 1,
                result,
            }
        })
        .collect();
    store.record(&outcomes, now_ms()).await.unwrap();
}

/// The text of the funnel row of `step`/`channel`.
fn funnel_row<'a>(page: &'a str, step_channel: &str) -> &'a str {
    page.split(&format!("data-funnel=\"{step_channel}\""))
        .nth(1)
        .and_then(|s| s.split("</tr>").next())
        .unwrap_or_else(|| panic!("no funnel row {step_channel}"))
}

#[tokio::test]
async fn every_dashboard_route_refuses_a_caller_without_a_session() {
    let app = start().await;
    seed(&app.store, "BHYT", &["a@example.test"]).await;
    let http = client();
    let staff: Vec<_> = ROUTES
        .iter()
        .filter(|r| matches!(r.2, Access::Staff(_)))
        .collect();
    assert!(staff.len() >= 6, "the dashboard's routes are listed");
    for (method, path, _) in staff {
        let url = app.url(&path.replace("{id}", ID));
        let request = match *method {
            "GET" => http.get(url),
            _ => http.post(url).body("csrf=x"),
        };
        let r = request
            .header("cookie", "loa_session=forged")
            .send()
            .await
            .unwrap();
        let location = r
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        let refused =
            r.status() == 401 || (r.status() == 303 && location.as_deref() == Some("/login"));
        assert!(refused, "{method} {path} answered {}", r.status());
    }
    assert!(app.store.held_campaigns().await.unwrap().is_empty());
    assert!(app.store.audit_log(None).await.unwrap().is_empty());
    app.stop().await;
}

#[tokio::test]
async fn a_button_pressed_without_the_csrf_token_is_403() {
    let app = start().await;
    seed(&app.store, "BHYT", &["a@example.test"]).await;
    let http = client();
    let (cookie, _) = log_in(&app, &http).await;
    for action in ["pause", "resume", "retry"] {
        assert_eq!(press(&app, &http, action, &cookie, "").await.status(), 403);
        assert_eq!(
            press(&app, &http, action, &cookie, "csrf=nope")
                .await
                .status(),
            403
        );
    }
    assert!(app.store.held_campaigns().await.unwrap().is_empty());
    assert_eq!(app.store.audit_log(Some(ID)).await.unwrap().len(), 0);
    app.stop().await;
}

#[tokio::test]
async fn pause_resume_and_retry_change_the_ledger_and_write_one_audit_row_each() {
    let app = start().await;
    seed(&app.store, "BHYT", &["a@example.test", "b@example.test"]).await;
    let http = client();
    let (cookie, csrf) = log_in(&app, &http).await;
    let form = format!("csrf={csrf}");

    let r = press(&app, &http, "pause", &cookie, &form).await;
    assert_eq!(r.status(), 303);
    let back = r.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(back, format!("/campaigns/{ID}?done=paused"));
    assert!(app.store.held_campaigns().await.unwrap().contains(ID));
    let shown = page(&app, &http, &back, &cookie).await;
    assert!(shown.contains("Đã tạm dừng chiến dịch."), "flash message");
    assert!(
        shown.contains("tạm dừng bởi cán bộ"),
        "the operator pause is shown"
    );
    // One state: held, not "running" beside it, on the campaign's page and in the list.
    let home = page(&app, &http, "/", &cookie).await;
    for html in [&shown, &home] {
        assert!(html.contains("data-campaign-state=\"operator_paused\""));
        assert!(!html.contains("đang chạy"), "running and paused at once");
    }
    assert_eq!(app.store.audit_log(Some(ID)).await.unwrap().len(), 1);

    press(&app, &http, "resume", &cookie, &form).await;
    assert!(app.store.held_campaigns().await.unwrap().is_empty());
    let resumed = page(&app, &http, &format!("/campaigns/{ID}"), &cookie).await;
    assert!(resumed.contains("data-campaign-state=\"active\"") && resumed.contains("đang chạy"));
    assert!(!resumed.contains("tạm dừng bởi cán bộ"));
    assert_eq!(app.store.audit_log(Some(ID)).await.unwrap().len(), 2);

    let r = press(&app, &http, "retry", &cookie, &form).await;
    assert_eq!(
        r.headers()["location"],
        &format!("/campaigns/{ID}?done=retried&n=1")
    );
    let email = app.store.status(Some(ID)).await.unwrap();
    assert_eq!(
        (email[0].channel.as_str(), email[0].counts["failed"]),
        ("email", 0)
    );
    assert_eq!(email[0].counts["pending"], 1);

    let log = app.store.audit_log(Some(ID)).await.unwrap();
    let actions: Vec<&str> = log.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["pause", "resume", "retry"]);
    for row in &log {
        assert_eq!(
            (row.actor.as_str(), row.content_hash.as_deref()),
            ("token", Some("sha256:it"))
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn the_campaign_page_shows_the_timeline_and_the_seeded_funnel_in_both_languages() {
    let app = start().await;
    let addresses = ["a@example.test", "b@example.test", "c@example.test"];
    seed(&app.store, "BHYT", &addresses).await;
    let http = client();
    let (cookie, _) = log_in(&app, &http).await;
    let path = format!("/campaigns/{ID}");
    let vi = page(&app, &http, &path, &cookie).await;
    assert!(vi.contains("<html lang=\"vi\">") && vi.contains("Lịch trình"));
    for window in ["school-start", "banners", "collection", "year-end"] {
        assert!(
            vi.contains(&format!("data-window=\"{window}\"")),
            "window {window}"
        );
    }
    for step in [
        "staff-kickoff",
        "banners-hang",
        "coverage-weekly",
        "deadline-schools",
    ] {
        assert!(
            vi.contains(&format!("data-step=\"{step}\"")),
            "marks of {step}"
        );
    }
    assert!(
        vi.contains("title=\"staff-kickoff\">Giao việc đầu năm học cho cán bộ nhà trường<"),
        "a step's line is labelled with its title, its id in the tooltip"
    );
    assert!(
        // Tera escapes `/` in text as `&#x2F;`, which a browser shows as `/`.
        vi.replace("&#x2F;", "/")
            .contains("17/08/2026 08:00 — đã gửi 2 · lỗi 1"),
        "a past mark's figures"
    );
    assert!(vi.contains("data-occurrence=\"coverage-weekly#1\""));
    let email = funnel_row(&vi, "coverage-weekly/email");
    assert!(
        email
            .contains("<td title=\"coverage-weekly\">Nhắc hằng tuần các trường chưa đạt 100%</td>"),
        "the funnel names the step by its title: {email}"
    );
    assert!(
        email.contains("data-state=\"sent\">2<") && email.contains("data-state=\"failed\">1<"),
        "{email}"
    );
    assert!(funnel_row(&vi, "coverage-weekly/zalo").contains("data-state=\"pending\">1<"));
    assert!(vi.contains("data-school=\"TH-001\""), "coverage per school");

    let r = http
        .get(app.url(&format!("{path}?lang=en")))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let lang = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(lang, "loa_lang=en");
    let en = r.text().await.unwrap();
    assert!(
        en.contains("<html lang=\"en\">") && en.contains("Timeline") && en.contains("Retry failed")
    );
    let home = page(&app, &http, "/", &format!("{cookie}; {lang}")).await;
    assert!(home.contains("Campaigns") && home.contains("Last activity"));
    app.stop().await;
}

#[tokio::test]
async fn titles_are_escaped_and_no_full_canary_address_reaches_a_page() {
    let keys = Keys::new().with_admin_token(Secret::new(ADMIN));
    // Without the workspace the title shown is the ledger's.
    let app = WebApp::start(keys).await;
    let canary = format!("pii-canary-{}@example.test", now_ms());
    seed(
        &app.store,
        "<script>alert('x')</script> & BHYT",
        &[&canary, "b@example.test"],
    )
    .await;
    let http = client();
    let (cookie, _) = log_in(&app, &http).await;
    for path in ["/".to_owned(), format!("/campaigns/{ID}")] {
        let html = page(&app, &http, &path, &cookie).await;
        assert!(!html.contains("<script>"), "{path}: markup from a title");
        assert!(
            html.contains("&lt;script&gt;"),
            "{path}: the title, escaped"
        );
        assert!(!html.contains(&canary), "{path}: the canary address");
        assert!(!html.contains("84912000101"), "{path}: a phone number");
    }
    let failures = page(&app, &http, &format!("/campaigns/{ID}"), &cookie).await;
    assert!(
        failures.contains("pi***@example.test"),
        "the failure, masked"
    );
    app.stop().await;
}

/// Occurrences in the ledger of the scale test: a cron every five minutes for eight days.
const MANY: u32 = 2400;

#[tokio::test]
async fn thousands_of_occurrences_are_listed_fifty_a_page_in_a_bounded_page() {
    let app = start().await;
    seed(&app.store, "BHYT", &["a@example.test"]).await;
    for n in 2..=MANY {
        let at = FIRST_MONDAY + i64::from(n) * 300_000;
        app.store
            .occurrence(ID, "coverage-weekly", n, at)
            .await
            .unwrap();
    }
    let http = client();
    let (cookie, _) = log_in(&app, &http).await;
    let path = format!("/campaigns/{ID}");
    let latest = page(&app, &http, &path, &cookie).await;
    assert!(
        latest.len() < 150_000,
        "the page grows with the occurrences: {} bytes",
        latest.len()
    );
    assert_eq!(latest.matches("data-occurrence=").count(), 50);
    assert!(latest.contains(&format!("data-occurrence=\"coverage-weekly#{MANY}\"")));
    // Vietnamese numbers: a dot between thousands.
    assert!(latest.contains("2.351–2.400 trên 2.400"), "the range shown");
    assert!(latest.contains("href=\"?page=47\""), "a link to older ones");
    assert!(
        !latest.contains("rel=\"next\""),
        "the latest page is the last"
    );

    let oldest = page(&app, &http, &format!("{path}?page=1"), &cookie).await;
    assert!(oldest.contains("data-occurrence=\"coverage-weekly#1\""));
    assert!(!oldest.contains(&format!("coverage-weekly#{MANY}\"")));
    assert!(oldest.contains("href=\"?page=2\"") && oldest.contains("1–50 trên 2.400"));
    let beyond = page(&app, &http, &format!("{path}?page=999&lang=en"), &cookie).await;
    assert!(beyond.contains("2,351–2,400 of 2,400"), "English numbers");
    app.stop().await;
}

/// Logs in to a daemon at `base`: the session cookie pair.
async fn daemon_session(base: &str, http: &reqwest::Client, token: &str) -> String {
    let ok = http
        .post(format!("{base}/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 303);
    let set = ok.headers()["set-cookie"].to_str().unwrap();
    set.split(';').next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_past_its_period_is_shown_ended_not_running() {
    use crate::support::campaign::CampaignBuilder;
    use crate::support::daemon::{Daemon, Tuning};
    let sink = crate::support::smtp_sink::SmtpSink::start().await;
    let ws = CampaignBuilder::new(2)
        .smtp("mail", &sink.url(), &[])
        .step_due("s1", &["mail"], 5 * 24 * 60)
        .build();
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Ho_Chi_Minh)
        .date_naive();
    let yaml: String = ws
        .read("campaigns/rel.yaml")
        .lines()
        .map(|line| match line.starts_with("period:") {
            true => format!(
                "period: {{ start: {}, end: {} }}\n",
                today - chrono::Days::new(10),
                today - chrono::Days::new(3)
            ),
            false => format!("{line}\n"),
        })
        .collect();
    ws.write("campaigns/rel.yaml", &yaml);
    let daemon = Daemon::start_with(&ws, &Tuning::default(), &[("LOA_ADMIN_TOKEN", ADMIN)]);
    let base = format!("http://127.0.0.1:{}", daemon.port(&ws).await);
    let http = client();
    let cookie = daemon_session(&base, &http, ADMIN).await;
    for path in ["/", "/campaigns/rel"] {
        let html = http
            .get(format!("{base}{path}"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            html.contains("data-campaign-state=\"ended\"") && html.contains("đã kết thúc"),
            "{path}: not shown ended"
        );
        assert!(!html.contains("đang chạy"), "{path}: shown running");
    }
}
