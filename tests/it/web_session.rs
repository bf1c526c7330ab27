//! The dashboard's login over real HTTP (the basis of R14, docs/reliability.md#r14): the
//! session cookie's attributes, the CSRF token on logout, and the failed-login limit keyed by
//! the client's address.

use loa::campaign::Secret;
use loa::web::Keys;

use crate::support::web::WebApp;

const ADMIN: &str = "admin-token-r14-0123456789";

#[tokio::test]
async fn r14_a_login_sets_a_strict_httponly_cookie_and_the_sixth_failure_is_429() {
    let app = WebApp::start(Keys::new().with_admin_token(Secret::new(ADMIN))).await;
    let http = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = |token: &str| {
        http.post(app.url("/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={token}"))
            .send()
    };
    let ok = login(ADMIN).await.unwrap();
    assert_eq!(ok.status(), 303);
    let cookie = ok.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_owned();
    let home = http
        .get(app.url("/"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), 200);
    let page = home.text().await.unwrap();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let forged = http
        .post(app.url("/logout"))
        .header("cookie", &pair)
        .body("csrf=x")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let out = http
        .post(app.url("/logout"))
        .header("cookie", &pair)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    for _ in 0..5 {
        assert_eq!(login("wrong").await.unwrap().status(), 401);
    }
    assert_eq!(login("wrong").await.unwrap().status(), 429);
    assert_eq!(login(ADMIN).await.unwrap().status(), 429);
    let actions: Vec<String> = app
        .store
        .audit_log(None)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.action)
        .collect();
    assert_eq!(actions, ["login", "logout"]);
    app.stop().await;
}
