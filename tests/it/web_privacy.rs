//! R16 (docs/reliability.md#r16) / R22 (docs/reliability.md#r22) for the HTTP side: canary
//! addresses and every secret stay out of `/metrics`, out of every answer body, and out of
//! every log line the handlers write — through accepted, replayed, refused and failing requests
//! alike.

use loa::campaign::Secret;
use loa::channel::webhook::sign;
use loa::web::{Keys, unsubscribe_token};
use serde_json::json;

use crate::support::web::{LogCapture, WebApp, now_ms, seed_sent};

#[tokio::test]
async fn r16_no_canary_address_or_secret_appears_in_metrics_answers_or_logs() {
    let seed = crate::support::seed();
    println!("seed {seed}");
    let email = format!("pii-canary-{seed:x}@example.test");
    let phone = format!("8490{:07}", seed % 10_000_000);
    let secret = format!("webhook-secret-canary-{seed:x}");
    let zalo_key = format!("zalo-key-canary-{seed:x}");
    let unsubscribe_key = format!("unsubscribe-key-canary-{seed:x}");
    let metrics_token = format!("metrics-token-canary-{seed:x}");
    let keys = Keys::new()
        .with_webhook("sms", vec![Secret::new(&secret)])
        .with_zalo(vec![Secret::new(&zalo_key)], None)
        .with_unsubscribe_key(Secret::new(&unsubscribe_key))
        .with_metrics_token(Secret::new(&metrics_token));
    let (logs, _guard) = LogCapture::start();
    let app = WebApp::start(keys).await;
    let sms = seed_sent(&app.store, "sms", &[&phone]).await.remove(0);
    let mail = seed_sent(&app.store, "email", &[&email]).await.remove(0);
    let mut answers = Vec::new();

    // Webhook receipts: accepted, replayed, refused (wrong secret, stale, oversize).
    let body =
        json!({"message_id": sms.message_id, "status": "delivered", "to": phone}).to_string();
    let ts = now_ms() / 1000;
    for (sig_secret, stamp, text) in [
        (secret.as_str(), ts, body.clone()),
        (secret.as_str(), ts, body.clone()),
        ("guess", ts, body.clone()),
        (secret.as_str(), ts - 400, body.clone()),
        (
            secret.as_str(),
            ts,
            format!("{body}{}", " ".repeat(300 * 1024)),
        ),
    ] {
        let r = app
            .http
            .post(app.url("/callbacks/webhook/sms"))
            .header("idempotency-key", "cb-1")
            .header("x-loa-timestamp", stamp.to_string())
            .header(
                "x-loa-signature",
                format!("v1={}", sign(sig_secret, stamp as u64, &text)),
            )
            .body(text)
            .send()
            .await
            .unwrap();
        answers.push(r.text().await.unwrap());
    }
    // A Zalo event carrying the phone, with a bad mac.
    let event = json!({"event_name": "user_received_message", "recipient": {"id": phone},
        "app_id": "1", "timestamp": now_ms().to_string(), "message": {"msg_id": "z"}});
    let r = app
        .http
        .post(app.url("/callbacks/zalo"))
        .header("x-zevent-signature", format!("mac={}", "0".repeat(64)))
        .body(event.to_string())
        .send()
        .await
        .unwrap();
    answers.push(r.text().await.unwrap());
    // Unsubscribe: the page, the one-click POST, a forged token.
    let token = unsubscribe_token(unsubscribe_key.as_bytes(), &mail.message_id);
    let url = app.url(&format!("/unsubscribe/{token}"));
    answers.push(
        app.http
            .get(&url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    let r = app
        .http
        .post(&url)
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    answers.push(r.text().await.unwrap());
    let forged = app.url(&format!("/unsubscribe/{}.AAAA", mail.message_id));
    answers.push(
        app.http
            .get(forged)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    // Metrics, with and without the token.
    let refused = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    answers.push(refused.text().await.unwrap());
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .bearer_auth(&metrics_token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("loa_callback_replays_total 1"),
        "{metrics}"
    );
    assert!(metrics.contains("loa_callback_rejected_total{reason=\"too_large\"} 1"));
    app.stop().await;

    let logs = logs.text();
    assert!(
        logs.contains("callback refused") && logs.contains("unsubscribed"),
        "{logs}"
    );
    let everything = format!("{}\n{metrics}\n{logs}", answers.join("\n"));
    for canary in [
        &email,
        &phone,
        &secret,
        &zalo_key,
        &unsubscribe_key,
        &metrics_token,
    ] {
        assert!(
            !everything.contains(canary.as_str()),
            "{canary} leaked:\n{everything}"
        );
    }
    // The masked forms are what may appear.
    assert!(logs.contains("pi***@example.test"), "{logs}");
}
