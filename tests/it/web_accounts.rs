//! Staff accounts on the dashboard over real HTTP (issue 17, docs/accounts.md): R14 by role
//! (docs/reliability.md#r14) — every dashboard route walked with a session of each role —,
//! login by name and password beside the admin token, the failed-login limit, sessions that
//! end when their account is disabled or its password changes, and an audit trail that
//! names the account. Accounts are added through the public `Store` API with hashes made by
//! `loa::account`, as `loa user add` makes them.

use loa::account::{self, Password, Role};
use loa::campaign::Secret;
use loa::web::{Access, Keys, ROUTES};

use crate::support::web::{LogCapture, WebApp, now_ms, seed_sent};

const TOKEN: &str = "admin-token-accounts-it-0123";
/// The password of every account of these tests.
const PASSWORD: &str = "mật khẩu đủ dài 2026";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn start() -> WebApp {
    let app = WebApp::start(Keys::new().with_admin_token(Secret::new(TOKEN))).await;
    // Campaign `c` with one sent e-mail.
    seed_sent(&app.store, "email", &["a@example.test"]).await;
    app
}

async fn add(app: &WebApp, name: &str, role: Role) {
    let hash = account::hash(&Password::new(PASSWORD.into()).unwrap()).unwrap();
    app.store
        .add_account(name, role, &hash, now_ms())
        .await
        .unwrap();
}

async fn login(app: &WebApp, http: &reqwest::Client, form: &str) -> reqwest::Response {
    http.post(app.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.to_owned())
        .send()
        .await
        .unwrap()
}

fn form(name: &str, password: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("name", name)
        .append_pair("password", password)
        .finish()
}

/// Logs in as `name`: the session cookie pair and the CSRF token of its pages.
async fn session(app: &WebApp, http: &reqwest::Client, name: &str) -> (String, String) {
    let ok = login(app, http, &form(name, PASSWORD)).await;
    assert_eq!(ok.status(), 303, "{name} logs in");
    let set = ok.headers()["set-cookie"].to_str().unwrap();
    let cookie = set.split(';').next().unwrap().to_owned();
    let home = get(app, http, "/", &cookie).await;
    assert_eq!(home.status(), 200);
    let page = home.text().await.unwrap();
    assert!(page.contains(&format!("data-account=\"{name}\"")), "{page}");
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a CSRF field")
        .to_owned();
    let role = app.store.account(name).await.unwrap().unwrap().role;
    assert!(page.contains(&format!("data-role=\"{role}\"")), "{page}");
    (cookie, csrf)
}

async fn get(app: &WebApp, http: &reqwest::Client, path: &str, cookie: &str) -> reqwest::Response {
    http.get(app.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

async fn post(
    app: &WebApp,
    http: &reqwest::Client,
    path: &str,
    cookie: &str,
    csrf: &str,
) -> reqwest::Response {
    http.post(app.url(path))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}"))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn r14_each_dashboard_route_admits_exactly_the_roles_at_or_above_its_own() {
    let app = start().await;
    for role in Role::ALL {
        add(&app, role.as_str(), role).await;
    }
    let staff: Vec<(&str, &str, Role)> = ROUTES
        .iter()
        .filter_map(|(m, p, a)| match a {
            Access::Staff(needed) => Some((*m, *p, *needed)),
            _ => None,
        })
        .collect();
    assert!(staff.len() >= 6, "the dashboard's routes are listed");
    assert!(staff.iter().any(|r| r.2 == Role::Operator));
    let http = client();
    let mut seen = Vec::new();
    for role in Role::ALL {
        let (cookie, csrf) = session(&app, &http, role.as_str()).await;
        // Logging out ends the session: walk it last.
        let mut routes = staff.clone();
        routes.sort_by_key(|r| r.1 == "/logout");
        for (method, path, needed) in routes {
            let path = path.replace("{id}", "c");
            let r = match method {
                "GET" => get(&app, &http, &path, &cookie).await,
                _ => post(&app, &http, &path, &cookie, &csrf).await,
            };
            let status = r.status().as_u16();
            let allowed = role.allows(needed);
            let ok = match (allowed, method) {
                (true, "GET") => status == 200,
                (true, _) => status == 303,
                (false, _) => status == 403,
            };
            assert!(
                ok,
                "{role} {method} {path} (needs {needed}) answered {status}"
            );
            seen.push((role, path, status));
        }
    }
    // Only operators and above changed anything: three roles pressed three buttons each.
    let log = app.store.audit_log(Some("c")).await.unwrap();
    let actors: Vec<&str> = log.iter().map(|r| r.actor.as_str()).collect();
    assert_eq!(
        actors,
        [
            "operator", "operator", "operator", "approver", "approver", "approver", "admin",
            "admin", "admin"
        ]
    );
    println!("R14 by role: {} requests, {seen:?}", seen.len());
    app.stop().await;
}

#[tokio::test]
async fn a_viewer_sees_the_campaign_page_without_its_buttons() {
    let app = start().await;
    add(&app, "xem", Role::Viewer).await;
    add(&app, "lan", Role::Operator).await;
    let http = client();
    let (viewer, _) = session(&app, &http, "xem").await;
    let page = get(&app, &http, "/campaigns/c", &viewer).await;
    assert_eq!(page.status(), 200);
    let text = page.text().await.unwrap();
    // (The page escapes the slashes of the campaign's path: `&#x2F;campaigns&#x2F;c/pause`.)
    assert!(
        !text.contains("c/pause\"") && !text.contains("c/retry\""),
        "{text}"
    );
    let (operator, _) = session(&app, &http, "lan").await;
    let text = get(&app, &http, "/campaigns/c", &operator)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("c/pause\"") && text.contains("c/retry\""),
        "{text}"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_right_password_logs_in_a_wrong_one_is_401_and_the_sixth_failure_is_429() {
    let app = start().await;
    add(&app, "lan", Role::Operator).await;
    let http = client();
    let (capture, _guard) = LogCapture::start();
    // Once an account exists the form asks for a name and a password.
    let page = http.get(app.url("/login")).send().await.unwrap();
    let page = page.text().await.unwrap();
    assert!(page.contains("name=\"name\"") && page.contains("name=\"password\""));
    assert!(!page.contains("name=\"token\""), "{page}");
    let ok = login(&app, &http, &form("lan", PASSWORD)).await;
    assert_eq!(ok.status(), 303);
    assert!(
        ok.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("HttpOnly")
    );
    // Combining accents typed by another keyboard: the same password.
    let decomposed = "mâ\u{323}t khâ\u{309}u đu\u{309} dài 2026";
    assert_eq!(
        login(&app, &http, &form("lan", decomposed)).await.status(),
        303
    );
    let refused = login(&app, &http, &form("lan", "mật khẩu sai 2026")).await;
    assert_eq!(refused.status(), 401);
    let page = refused.text().await.unwrap();
    assert!(
        page.contains("role=\"alert\"") && page.contains("name=\"password\""),
        "the form again, with why: {page}"
    );
    assert!(!page.contains("mật khẩu sai"), "nothing typed is echoed");
    for wrong in [
        form("lan", ""),
        form("nobody", PASSWORD),
        form("Not A Name", PASSWORD),
        // The admin token is no way in once an account exists.
        format!("token={TOKEN}"),
    ] {
        assert_eq!(login(&app, &http, &wrong).await.status(), 401, "{wrong}");
    }
    assert_eq!(
        login(&app, &http, &form("lan", "mật khẩu sai 2026"))
            .await
            .status(),
        429
    );
    // Even the right password waits out the window.
    assert_eq!(
        login(&app, &http, &form("lan", PASSWORD)).await.status(),
        429
    );
    let actions: Vec<(String, String)> = app
        .store
        .audit_log(None)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.actor, r.action))
        .collect();
    let login = ("lan".to_owned(), "login".to_owned());
    assert_eq!(actions, [login.clone(), login]);
    let logs = capture.text();
    assert!(logs.contains("dashboard login refused"), "{logs}");
    for secret in [PASSWORD, "mật khẩu sai", "argon2", "nobody", TOKEN] {
        assert!(!logs.contains(secret), "{secret:?} in the log:\n{logs}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_disabled_account_s_session_is_refused_at_its_next_request() {
    let app = start().await;
    add(&app, "lan", Role::Admin).await;
    add(&app, "binh", Role::Operator).await;
    let http = client();
    let (lan, lan_csrf) = session(&app, &http, "lan").await;
    let (binh, _) = session(&app, &http, "binh").await;
    app.store.disable_account("lan", now_ms()).await.unwrap();
    let home = get(&app, &http, "/", &lan).await;
    assert_eq!(home.status(), 303);
    assert_eq!(home.headers()["location"], "/login");
    let press = post(&app, &http, "/campaigns/c/pause", &lan, &lan_csrf).await;
    assert_eq!(press.status(), 401);
    assert!(app.store.held_campaigns().await.unwrap().is_empty());
    assert_eq!(
        login(&app, &http, &form("lan", PASSWORD)).await.status(),
        401
    );
    // Another account's session goes on; a new password ends it too.
    assert_eq!(get(&app, &http, "/", &binh).await.status(), 200);
    let other = account::hash(&Password::new("một mật khẩu khác".into()).unwrap()).unwrap();
    app.store
        .set_password("binh", &other, now_ms() + 1)
        .await
        .unwrap();
    assert_eq!(get(&app, &http, "/", &binh).await.status(), 303);
    app.stop().await;
}

#[tokio::test]
async fn the_admin_token_is_the_way_in_until_the_first_account_and_is_named_token() {
    let app = start().await;
    let http = client();
    let page = http.get(app.url("/login")).send().await.unwrap();
    assert!(page.text().await.unwrap().contains("name=\"token\""));
    let ok = login(&app, &http, &format!("token={TOKEN}")).await;
    assert_eq!(ok.status(), 303);
    let set = ok.headers()["set-cookie"].to_str().unwrap();
    let cookie = set.split(';').next().unwrap().to_owned();
    let home = get(&app, &http, "/", &cookie).await;
    let text = home.text().await.unwrap();
    assert!(text.contains("data-account=\"token\""), "{text}");
    let csrf = text
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap();
    let r = post(&app, &http, "/campaigns/c/pause", &cookie, csrf).await;
    assert_eq!(r.status(), 303);
    // The first account ends the token's session at its next request.
    add(&app, "lan", Role::Admin).await;
    assert_eq!(get(&app, &http, "/", &cookie).await.status(), 303);
    let log = app.store.audit_log(None).await.unwrap();
    let rows: Vec<(&str, &str)> = log
        .iter()
        .map(|r| (r.actor.as_str(), r.action.as_str()))
        .collect();
    assert_eq!(rows, [("token", "login"), ("token", "pause")]);
    app.stop().await;
}

#[tokio::test]
async fn without_a_token_an_account_turns_the_dashboard_on() {
    let app = WebApp::start(Keys::new()).await;
    seed_sent(&app.store, "email", &["a@example.test"]).await;
    let http = client();
    assert_eq!(http.get(app.url("/")).send().await.unwrap().status(), 404);
    assert_eq!(
        http.get(app.url("/login")).send().await.unwrap().status(),
        404
    );
    add(&app, "lan", Role::Operator).await;
    let (cookie, csrf) = session(&app, &http, "lan").await;
    let r = post(&app, &http, "/campaigns/c/pause", &cookie, &csrf).await;
    assert_eq!(r.status(), 303);
    let r = post(&app, &http, "/logout", &cookie, &csrf).await;
    assert_eq!(r.status(), 303);
    let log = app.store.audit_log(None).await.unwrap();
    let rows: Vec<(&str, &str)> = log
        .iter()
        .map(|r| (r.actor.as_str(), r.action.as_str()))
        .collect();
    assert_eq!(
        rows,
        [("lan", "login"), ("lan", "pause"), ("lan", "logout")]
    );
    app.stop().await;
}
