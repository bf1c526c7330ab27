//! Staff accounts through the real daemon (issue 17, docs/accounts.md): accounts made with
//! `loa user add` turn the dashboard of `loa run` on without `LOA_ADMIN_TOKEN`; a viewer's
//! Pause is refused, an operator's stops the sending; `loa user disable`, run beside the
//! daemon, ends the operator's session at its next request; the audit trail names each.

use std::time::Duration;

use sqlx::Connection as _;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

use crate::support::daemon::{Daemon, Tuning, log_tail, sending_slowly};
use crate::support::workspace::Workspace;

pub(crate) const PASSWORD: &str = "mật khẩu của phòng truyền thông";

fn form(name: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("name", name)
        .append_pair("password", PASSWORD)
        .finish()
}

/// Logs in as `name`: the cookie pair and the CSRF token of the campaign page, and the page.
pub(crate) async fn log_in(
    http: &reqwest::Client,
    base: &str,
    name: &str,
) -> (String, String, String) {
    let ok = http
        .post(format!("{base}/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(name))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 303, "{name} logs in");
    let cookie = ok.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let page = http
        .get(format!("{base}/campaigns/rel"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a CSRF field")
        .to_owned();
    (cookie, csrf, page)
}

async fn pause(http: &reqwest::Client, base: &str, cookie: &str, csrf: &str) -> u16 {
    http.post(format!("{base}/campaigns/rel/pause"))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn audit(ws: &Workspace) -> Vec<(String, String)> {
    let options = SqliteConnectOptions::new().filename(ws.db());
    let mut conn = SqliteConnection::connect_with(&options).await.unwrap();
    sqlx::query_as(
        "SELECT actor, action FROM audit \
         WHERE action IN ('login', 'logout', 'pause', 'resume', 'retry') ORDER BY id",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_made_with_loa_user_log_in_to_the_running_daemon_each_with_its_role() {
    let (sink, ws, daemon) = sending_slowly(30, |ws| {
        for (name, role) in [("xem", "viewer"), ("lan", "operator")] {
            ws.loa_input(
                &["user", "add", name, "--role", role],
                &format!("{PASSWORD}\n"),
            )
            .ok();
        }
        Daemon::start_with(ws, &Tuning::default(), &[])
    })
    .await;
    let base = format!("http://127.0.0.1:{}", daemon.port(&ws).await);
    let log = std::fs::read_to_string(ws.log()).unwrap();
    assert!(
        log.contains("dashboard: on at") && log.contains("2 of 2 enabled"),
        "{}",
        log_tail(&ws, 20)
    );
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let (viewer, viewer_csrf, page) = log_in(&http, &base, "xem").await;
    assert!(
        !page.contains("rel/pause\""),
        "a viewer sees no Pause button"
    );
    assert_eq!(pause(&http, &base, &viewer, &viewer_csrf).await, 403);

    let (operator, csrf, page) = log_in(&http, &base, "lan").await;
    assert!(
        page.contains("rel/pause\""),
        "an operator sees the Pause button"
    );
    assert_eq!(pause(&http, &base, &operator, &csrf).await, 303);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let settled = sink.received_count();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sink.received_count(), settled, "still sending after Pause");
    assert!(settled < 30);

    // Disabled from the command line beside the daemon: the next request is refused.
    ws.loa(&["user", "disable", "lan"]).ok();
    let home = http
        .get(format!("{base}/"))
        .header("cookie", &operator)
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), 303);
    assert_eq!(home.headers()["location"], "/login");
    let resume = http
        .post(format!("{base}/campaigns/rel/resume"))
        .header("cookie", &operator)
        .body(format!("csrf={csrf}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resume.status(), 401);

    let rows = audit(&ws).await;
    let seen: Vec<(&str, &str)> = rows.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    assert_eq!(seen, [("xem", "login"), ("lan", "login"), ("lan", "pause")]);
    println!(
        "accounts through the daemon: viewer refused, operator paused at {settled} of 30 sent, \
         disabled session refused"
    );
}
