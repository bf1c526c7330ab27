//! Unsubscribe links over real HTTP (docs/reliability.md#r18): a GET shows the page and changes
//! nothing, a one-click POST records the suppression within a second, a forged token is refused
//! without being repeated; and `/healthz` answering 200 or 503.

use std::time::{Duration, Instant};

use loa::campaign::Secret;
use loa::web::{HealthThresholds, Keys, unsubscribe_token};

use crate::support::web::{Watcher, WebApp, now_ms, seed_sent};

const KEY: &str = "unsubscribe-key-r18";

fn keys() -> Keys {
    Keys::new().with_unsubscribe_key(Secret::new(KEY))
}

#[tokio::test]
async fn r18_get_shows_a_vietnamese_confirmation_page_and_changes_nothing() {
    let app = WebApp::start(keys()).await;
    let m = seed_sent(&app.store, "email", &["nguyen.van.an@truong-thcs.edu.vn"])
        .await
        .remove(0);
    let mut db = Watcher::open(&app.db).await;
    let before = db.version().await;
    let url = app.url(&format!(
        "/unsubscribe/{}",
        unsubscribe_token(KEY.as_bytes(), &m.message_id)
    ));
    for _ in 0..3 {
        let r = app.http.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["cache-control"], "no-store");
        assert_eq!(r.headers()["referrer-policy"], "no-referrer");
        let page = r.text().await.unwrap();
        assert!(page.contains("lang=\"vi\"") && page.contains("Hủy nhận thông báo"));
        assert!(page.contains("<form method=\"post\">"));
        assert!(page.contains("ng***@truong-thcs.edu.vn"), "{page}");
        assert!(!page.contains("nguyen.van.an@"));
    }
    assert_eq!(db.version().await, before);
    assert!(!app.store.is_suppressed(&m.address).await.unwrap());
    app.stop().await;
}

#[tokio::test]
async fn r18_a_one_click_post_records_the_suppression_within_a_second() {
    let app = WebApp::start(keys()).await;
    let seeded = seed_sent(&app.store, "email", &["an@example.vn", "binh@example.vn"]).await;
    let token = unsubscribe_token(KEY.as_bytes(), &seeded[0].message_id);
    let started = Instant::now();
    // RFC 8058 §3.1: the mail client POSTs exactly this body.
    let r = app
        .http
        .post(app.url(&format!("/unsubscribe/{token}")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Đã hủy nhận thông báo"));
    let mut waited = Duration::ZERO;
    while !app.store.is_suppressed("an@example.vn").await.unwrap() {
        assert!(waited < Duration::from_secs(1), "no suppression after 1 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += Duration::from_millis(20);
    }
    assert!(
        started.elapsed() <= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let asked = vec!["AN@example.vn".to_string(), "binh@example.vn".to_string()];
    let found = app.store.suppressed_among(&asked).await.unwrap();
    assert_eq!(
        found.into_iter().collect::<Vec<_>>(),
        vec!["AN@example.vn".to_string()]
    );
    // Clicking again is harmless: still one suppression.
    let again = app
        .http
        .post(app.url(&format!("/unsubscribe/{token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    let mut db = Watcher::open(&app.db).await;
    assert_eq!(db.count("SELECT COUNT(*) FROM suppression").await, 1);
    let (reason, message): (String, String) =
        sqlx::query_as("SELECT reason, message FROM suppression")
            .fetch_one(&mut connect(&app).await)
            .await
            .unwrap();
    assert_eq!(
        (reason.as_str(), message.as_str()),
        ("unsubscribed", seeded[0].message_id.as_str())
    );
    app.stop().await;
}

async fn connect(app: &WebApp) -> sqlx::SqliteConnection {
    use sqlx::Connection;
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&app.db);
    sqlx::SqliteConnection::connect_with(&options)
        .await
        .unwrap()
}

#[tokio::test]
async fn r18_a_forged_or_damaged_token_is_refused_without_repeating_it() {
    let app = WebApp::start(keys()).await;
    let m = seed_sent(&app.store, "email", &["an@example.vn"])
        .await
        .remove(0);
    let mut db = Watcher::open(&app.db).await;
    let before = db.version().await;
    let good = unsubscribe_token(KEY.as_bytes(), &m.message_id);
    let forged = unsubscribe_token(b"a-guessed-key", &m.message_id);
    let other_message = unsubscribe_token(KEY.as_bytes(), "m0000000000000000000000000000beef");
    let bare = m.message_id.clone();
    let damaged = format!("{}xx", &good[..good.len() - 2]);
    let script = "m1.%3Cscript%3Ealert(1)%3C%2Fscript%3E".to_string();
    for token in [forged, other_message, bare, damaged, script] {
        for post in [false, true] {
            let url = app.url(&format!("/unsubscribe/{token}"));
            let r = if post {
                app.http.post(url).body("List-Unsubscribe=One-Click")
            } else {
                app.http.get(url)
            };
            let r = r.send().await.unwrap();
            assert_eq!(r.status(), 404, "{token}");
            let page = r.text().await.unwrap();
            assert!(page.contains("Liên kết không hợp lệ"));
            assert!(!page.contains(&token) && !page.contains("script"), "{page}");
        }
    }
    assert_eq!(db.version().await, before);
    assert!(!app.store.is_suppressed("an@example.vn").await.unwrap());
    app.stop().await;
}

#[tokio::test]
async fn healthz_is_200_when_work_goes_out_and_503_with_a_reason_when_it_stalls() {
    let limits = HealthThresholds {
        max_due_age: Duration::from_secs(3600),
        max_silence: Duration::from_secs(2),
        db_timeout: Duration::from_secs(2),
    };
    // The process started a minute ago; a message fell due 10 s ago and nothing was sent.
    let app = WebApp::start_with(keys(), limits, now_ms() - 60_000).await;
    let healthz = || async {
        let r = app.http.get(app.url("/healthz")).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    };
    assert_eq!(
        healthz().await,
        (200, "ok\n".to_string()),
        "nothing is due yet"
    );
    seed_sent(&app.store, "email", &["an@example.vn"]).await;
    app.store
        .retry("c", None, loa::store::MessageState::Sent, now_ms() - 10_000)
        .await
        .unwrap();
    let (status, reason) = healthz().await;
    assert_eq!(status, 503);
    assert!(
        reason.starts_with("no message sent for 10 s while work is due"),
        "{reason}"
    );
    // A success just now: healthy again.
    app.metrics.sent_at(now_ms());
    assert_eq!(healthz().await.0, 200);
    app.stop().await;
}
