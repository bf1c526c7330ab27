//! Delivery callbacks over real HTTP on loopback: the R12 (docs/reliability.md#r12)
//! authentication matrix for the loa webhook scheme and Zalo's `X-ZEvent-Signature`, replays,
//! body limits, routes without keys, receipts that arrive before the send is recorded, and that
//! a refused request commits nothing to the ledger.

use loa::campaign::Secret;
use loa::channel::webhook::sign;
use loa::web::Keys;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::support::web::{Seeded, Watcher, WebApp, now_ms, seed_claimed, seed_sent, sent};

const SECRET: &str = "relay-secret-r12";
const ZALO_KEY: &str = "oa-secret-r12";
const ZALO_APP: &str = "2074138120372622546";

fn keys() -> Keys {
    Keys::new()
        .with_webhook("sms", vec![Secret::new(SECRET)])
        .with_zalo(vec![Secret::new(ZALO_KEY)], None)
        .with_zalo_channels(&["zalo"])
}

/// A receipt delivered at `at` (ms; whole seconds).
fn receipt_body_at(m: &Seeded, at: i64) -> String {
    let at = chrono::DateTime::from_timestamp_millis(at)
        .unwrap()
        .with_timezone(&chrono::FixedOffset::east_opt(7 * 3600).unwrap())
        .to_rfc3339();
    json!({"message_id": m.message_id, "status": "delivered", "at": at}).to_string()
}

/// Two seconds ago, in whole seconds: after the seeded send, before the receipt arrives.
fn just_delivered() -> i64 {
    now_ms() / 1000 * 1000 - 2_000
}

fn receipt_body(m: &Seeded) -> String {
    receipt_body_at(m, just_delivered())
}

fn v1(secret: &str, ts: i64, body: &str) -> String {
    format!("v1={}", sign(secret, ts as u64, body))
}

/// One webhook callback: its headers (None = left out) and body.
struct Call {
    ts: Option<String>,
    sig: Option<String>,
    id: String,
    body: String,
}

impl Call {
    fn signed(m: &Seeded, id: &str) -> Call {
        let body = receipt_body(m);
        let ts = now_ms() / 1000;
        Call {
            ts: Some(ts.to_string()),
            sig: Some(v1(SECRET, ts, &body)),
            id: id.into(),
            body,
        }
    }
}

async fn post(app: &WebApp, path: &str, call: &Call) -> (u16, String) {
    let mut r = app
        .http
        .post(app.url(path))
        .header("content-type", "application/json")
        .header("idempotency-key", &call.id)
        .body(call.body.clone());
    if let Some(ts) = &call.ts {
        r = r.header("x-loa-timestamp", ts);
    }
    if let Some(sig) = &call.sig {
        r = r.header("x-loa-signature", sig);
    }
    let response = r.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The R12 (docs/reliability.md#r12) cases that must be refused, each built from a valid call.
fn forged_cases(m: &Seeded) -> Vec<(&'static str, Call)> {
    let good = || Call::signed(m, "cb-forged");
    let now = now_ms() / 1000;
    let mut cases = Vec::new();
    cases.push((
        "unsigned",
        Call {
            sig: None,
            ..good()
        },
    ));
    let mut c = good();
    c.sig = Some(v1("not-the-secret", now, &c.body));
    cases.push(("wrong secret", c));
    let mut c = good();
    c.body = c.body.replacen("delivered", "delivereD", 1);
    cases.push(("one byte changed", c));
    let mut c = good();
    let value: serde_json::Value = serde_json::from_str(&c.body).unwrap();
    c.body = serde_json::to_string_pretty(&value).unwrap();
    cases.push(("json re-serialised", c));
    for (name, offset) in [("timestamp now-301 s", -301), ("timestamp now+330 s", 330)] {
        let mut c = good();
        let ts = now + offset;
        c.ts = Some(ts.to_string());
        c.sig = Some(v1(SECRET, ts, &c.body));
        cases.push((name, c));
    }
    cases.push((
        "v1, empty",
        Call {
            sig: Some("v1,".into()),
            ..good()
        },
    ));
    cases.push((
        "v1= empty",
        Call {
            sig: Some("v1=".into()),
            ..good()
        },
    ));
    let mut c = good();
    let full = c.sig.clone().unwrap();
    c.sig = Some(full[..full.len() - 8].to_string());
    cases.push(("truncated", c));
    cases.push(("no timestamp", Call { ts: None, ..good() }));
    cases
}

#[tokio::test]
async fn r12_every_unsigned_forged_or_stale_receipt_is_401_and_commits_nothing() {
    let app = WebApp::start(keys()).await;
    let m = seed_sent(&app.store, "sms", &["84912345678"])
        .await
        .remove(0);
    let mut db = Watcher::open(&app.db).await;
    let before = db.version().await;
    let cases = forged_cases(&m);
    for (name, call) in &cases {
        let (status, body) = post(&app, "/callbacks/webhook/sms", call).await;
        assert_eq!(status, 401, "{name}: {body}");
        assert!(!body.contains(&m.message_id), "{name} echoes the body");
    }
    assert_eq!(db.version().await, before, "a refused request committed");
    assert_eq!(db.message(&m.message_id).await.0, "sent");
    let text = app.metrics_text().await;
    let refused: u64 = ["unsigned", "bad_signature", "stale", "malformed"]
        .iter()
        .map(|r| {
            counter(
                &text,
                &format!("loa_callback_rejected_total{{reason=\"{r}\"}}"),
            )
        })
        .sum();
    assert_eq!(refused, cases.len() as u64);
    // The positive control: the same request, signed, goes through and commits.
    let (status, _) = post(&app, "/callbacks/webhook/sms", &Call::signed(&m, "cb-ok")).await;
    assert_eq!(status, 200);
    assert_ne!(db.version().await, before);
    app.stop().await;
}

#[tokio::test]
async fn r12_one_valid_signature_among_rotated_ones_is_enough() {
    let app = WebApp::start(keys()).await;
    let m = seed_sent(&app.store, "sms", &["84912345678"])
        .await
        .remove(0);
    let mut call = Call::signed(&m, "cb-rotation");
    let at: i64 = serde_json::from_str::<serde_json::Value>(&call.body).unwrap()["at"]
        .as_str()
        .map(|t| {
            chrono::DateTime::parse_from_rfc3339(t)
                .unwrap()
                .timestamp_millis()
        })
        .unwrap();
    let ts: i64 = call.ts.as_deref().unwrap().parse().unwrap();
    let old = v1("the-previous-secret", ts, &call.body);
    call.sig = Some(format!("{old} {}", call.sig.unwrap()));
    let (status, body) = post(&app, "/callbacks/webhook/sms", &call).await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    let mut db = Watcher::open(&app.db).await;
    let (state, delivered_at, _) = db.message(&m.message_id).await;
    // The receipt's own time.
    assert_eq!((state.as_str(), delivered_at), ("delivered", Some(at)));
    app.stop().await;
}

#[tokio::test]
async fn r12_a_replay_answers_200_changes_nothing_and_is_counted() {
    let app = WebApp::start(keys()).await;
    let m = seed_sent(&app.store, "sms", &["84912345678"])
        .await
        .remove(0);
    let call = Call::signed(&m, "cb-replay");
    assert_eq!(post(&app, "/callbacks/webhook/sms", &call).await.0, 200);
    let mut db = Watcher::open(&app.db).await;
    let after_first = db.message(&m.message_id).await;
    let version = db.version().await;
    let (status, body) = post(&app, "/callbacks/webhook/sms", &call).await;
    assert_eq!((status, body.as_str()), (200, "duplicate\n"));
    assert_eq!(db.message(&m.message_id).await, after_first);
    assert_eq!(db.version().await, version);
    let text = app.metrics_text().await;
    assert_eq!(counter(&text, "loa_callback_replays_total"), 1);
    // A "failed" for the delivered message, under a new id, does not regress it.
    let mut failed = Call::signed(&m, "cb-late-failure");
    failed.body = json!({"message_id": m.message_id, "status": "failed"}).to_string();
    let ts: i64 = failed.ts.as_deref().unwrap().parse().unwrap();
    failed.sig = Some(v1(SECRET, ts, &failed.body));
    assert_eq!(post(&app, "/callbacks/webhook/sms", &failed).await.0, 200);
    assert_eq!(db.message(&m.message_id).await.0, "delivered");
    app.stop().await;
}

#[tokio::test]
async fn r12_a_body_over_256_kib_is_413_before_verification() {
    let app = WebApp::start(keys()).await;
    let m = seed_sent(&app.store, "sms", &["84912345678"])
        .await
        .remove(0);
    let mut db = Watcher::open(&app.db).await;
    let before = db.version().await;
    let padding = " ".repeat(256 * 1024);
    // Validly signed: refused for its size alone.
    let mut big = Call::signed(&m, "cb-big");
    big.body = format!("{}{padding}", receipt_body(&m));
    let ts: i64 = big.ts.as_deref().unwrap().parse().unwrap();
    big.sig = Some(v1(SECRET, ts, &big.body));
    assert_eq!(post(&app, "/callbacks/webhook/sms", &big).await.0, 413);
    // Unsigned: 413, not 401 — the size is checked first.
    let unsigned = Call {
        sig: None,
        ..Call::signed(&m, "cb-big-2")
    };
    let unsigned = Call {
        body: format!("{}{padding}", unsigned.body),
        ..unsigned
    };
    assert_eq!(post(&app, "/callbacks/webhook/sms", &unsigned).await.0, 413);
    let zalo = app
        .http
        .post(app.url("/callbacks/zalo"))
        .body(format!("{padding} "))
        .send()
        .await
        .unwrap();
    assert_eq!(zalo.status(), 413);
    // Exactly at the limit is read and then judged by its signature.
    let at_limit = Call {
        sig: None,
        body: " ".repeat(256 * 1024),
        ..Call::signed(&m, "x")
    };
    assert_eq!(post(&app, "/callbacks/webhook/sms", &at_limit).await.0, 401);
    assert_eq!(db.version().await, before);
    let text = app.metrics_text().await;
    assert_eq!(
        counter(&text, "loa_callback_rejected_total{reason=\"too_large\"}"),
        3
    );
    app.stop().await;
}

#[tokio::test]
async fn r12_a_route_without_its_secret_refuses_everything_and_the_daemon_check_fails() {
    let keyless = Keys::new()
        .with_webhook("sms", vec![])
        .with_zalo(vec![], None);
    assert!(keyless.check().is_err());
    let app = WebApp::start(keyless).await;
    let m = seed_sent(&app.store, "sms", &["84912345678"])
        .await
        .remove(0);
    let mut db = Watcher::open(&app.db).await;
    let before = db.version().await;
    // Even a request signed with a secret someone might assume is refused.
    for secret in [SECRET, ""] {
        let mut call = Call::signed(&m, "cb-nokey");
        let ts: i64 = call.ts.as_deref().unwrap().parse().unwrap();
        call.sig = Some(v1(secret, ts, &call.body));
        assert_eq!(post(&app, "/callbacks/webhook/sms", &call).await.0, 503);
    }
    let zalo = app
        .http
        .post(app.url("/callbacks/zalo"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(zalo.status(), 503);
    // A channel whose route is not enabled at all does not exist.
    let other = post(&app, "/callbacks/webhook/email", &Call::signed(&m, "cb-x")).await;
    assert_eq!(other.0, 404);
    assert_eq!(db.version().await, before);
    assert_eq!(db.message(&m.message_id).await.0, "sent");
    app.stop().await;
}

fn zalo_event(m: &Seeded, timestamp: i64, tracking: bool) -> String {
    let mut message =
        json!({"delivery_time": (timestamp - 3_000).to_string(), "msg_id": m.provider_id});
    if tracking {
        message["tracking_id"] = json!(m.message_id);
    }
    json!({"sender": {"id": "579745863508352884"}, "recipient": {"id": m.address},
           "event_name": "user_received_message", "message": message,
           "app_id": ZALO_APP, "timestamp": timestamp.to_string()})
    .to_string()
}

fn zalo_mac(key: &str, body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    let ts = v["timestamp"].as_str().unwrap();
    let text = format!("{ZALO_APP}{body}{ts}{key}");
    format!("mac={}", hex::encode(Sha256::digest(text.as_bytes())))
}

async fn post_zalo(app: &WebApp, sig: Option<&str>, body: &str) -> (u16, String) {
    let mut r = app
        .http
        .post(app.url("/callbacks/zalo"))
        .header("x-zevent-server", "ZNS")
        .body(body.to_string());
    if let Some(sig) = sig {
        r = r.header("x-zevent-signature", sig);
    }
    let response = r.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn a_signed_zalo_receipt_marks_the_message_delivered_at_the_delivery_time() {
    let app = WebApp::start(keys()).await;
    let seeded = seed_sent(&app.store, "zalo", &["84911111111", "84922222222"]).await;
    let now = now_ms();
    let mut db = Watcher::open(&app.db).await;
    // By tracking_id (our id), then by msg_id alone (the provider's).
    for (m, tracking) in [(&seeded[0], true), (&seeded[1], false)] {
        let body = zalo_event(m, now, tracking);
        let (status, _) = post_zalo(&app, Some(&zalo_mac(ZALO_KEY, &body)), &body).await;
        assert_eq!(status, 200);
        let (state, delivered_at, _) = db.message(&m.message_id).await;
        assert_eq!(
            (state.as_str(), delivered_at),
            ("delivered", Some(now - 3_000))
        );
    }
    // Zalo retrying the same event is a replay.
    let body = zalo_event(&seeded[0], now, true);
    let replay = post_zalo(&app, Some(&zalo_mac(ZALO_KEY, &body)), &body).await;
    assert_eq!(replay, (200, "duplicate\n".into()));
    assert_eq!(
        db.message(&seeded[0].message_id).await.2,
        3,
        "sending, sent, delivered (a row's birth is the row itself)"
    );
    app.stop().await;
}

#[tokio::test]
async fn r12_every_unsigned_forged_or_stale_zalo_event_is_401_and_commits_nothing() {
    let app = WebApp::start(keys()).await;
    let m = seed_sent(&app.store, "zalo", &["84911111111"])
        .await
        .remove(0);
    let mut db = Watcher::open(&app.db).await;
    let before = db.version().await;
    let now = now_ms();
    let body = zalo_event(&m, now, true);
    let good = zalo_mac(ZALO_KEY, &body);
    let pretty =
        serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(&body).unwrap())
            .unwrap();
    let changed = body.replacen("user_received_message", "user_received_messagf", 1);
    let stale = zalo_event(&m, now - 301_000, true);
    let future = zalo_event(&m, now + 330_000, true);
    let cases: Vec<(&str, Option<String>, &str)> = vec![
        ("unsigned", None, &body),
        (
            "wrong key (the app secret)",
            Some(zalo_mac("app-secret", &body)),
            &body,
        ),
        ("one byte changed", Some(good.clone()), &changed),
        ("json re-serialised", Some(good.clone()), &pretty),
        (
            "timestamp now-301 s",
            Some(zalo_mac(ZALO_KEY, &stale)),
            &stale,
        ),
        (
            "timestamp now+330 s",
            Some(zalo_mac(ZALO_KEY, &future)),
            &future,
        ),
        ("empty", Some("mac=".into()), &body),
        ("truncated", Some(good[..good.len() - 6].to_string()), &body),
        ("not json", Some(good.clone()), "mac"),
    ];
    for (name, sig, body) in &cases {
        let (status, _) = post_zalo(&app, sig.as_deref(), body).await;
        assert_eq!(status, 401, "{name}");
    }
    assert_eq!(db.version().await, before);
    assert_eq!(db.message(&m.message_id).await.0, "sent");
    assert_eq!(post_zalo(&app, Some(&good), &body).await.0, 200);
    assert_eq!(db.message(&m.message_id).await.0, "delivered");
    app.stop().await;
}

#[tokio::test]
async fn a_receipt_that_beats_the_dispatchers_record_is_applied_once_the_message_is_sent() {
    let app = WebApp::start(keys()).await;
    let (seeded, claimed) = seed_claimed(&app.store, "zalo", &["84911111111"]).await;
    let m = &seeded[0];
    let body = zalo_event(m, now_ms(), true);
    let (status, _) = post_zalo(&app, Some(&zalo_mac(ZALO_KEY, &body)), &body).await;
    assert_eq!(status, 200, "Zalo must get its 200 at once");
    let mut db = Watcher::open(&app.db).await;
    assert_eq!(db.message(&m.message_id).await.0, "sending");
    // The dispatcher records the batch a little later.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert_eq!(db.message(&m.message_id).await.0, "sending");
    app.store
        .record(&[sent(&claimed[0])], now_ms())
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while db.message(&m.message_id).await.0 != "delivered" {
        assert!(
            std::time::Instant::now() < deadline,
            "the early receipt was not applied"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (_, _, events) = db.message(&m.message_id).await;
    assert_eq!(
        events, 3,
        "sending, sent, delivered (a row's birth is the row itself)"
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM receipt_early").await, 0);
    app.stop().await;
}

#[tokio::test]
async fn r23_signed_receipts_are_answered_within_500_ms_at_p99_ten_at_a_time() {
    use futures::StreamExt;
    let app = WebApp::start(keys()).await;
    let addresses: Vec<String> = (0..300).map(|i| format!("8491{i:07}")).collect();
    let refs: Vec<&str> = addresses.iter().map(String::as_str).collect();
    let seeded = seed_sent(&app.store, "sms", &refs).await;
    let started = std::time::Instant::now();
    let mut latencies: Vec<std::time::Duration> = futures::stream::iter(seeded.iter().enumerate())
        .map(|(i, m)| {
            let app = &app;
            async move {
                let call = Call::signed(m, &format!("cb-load-{i}"));
                let t = std::time::Instant::now();
                let (status, _) = post(app, "/callbacks/webhook/sms", &call).await;
                assert_eq!(status, 200);
                t.elapsed()
            }
        })
        .buffer_unordered(10)
        .collect()
        .await;
    let total = started.elapsed();
    latencies.sort();
    let p99 = latencies[latencies.len() * 99 / 100 - 1];
    println!(
        "300 receipts in {total:?}, p50 {:?}, p99 {p99:?}",
        latencies[149]
    );
    assert!(p99 <= std::time::Duration::from_millis(500), "p99 {p99:?}");
    let mut db = Watcher::open(&app.db).await;
    let delivered = db
        .count("SELECT COUNT(*) FROM message WHERE state = 'delivered'")
        .await;
    assert_eq!(delivered, 300);
    app.stop().await;
}

/// The value of one sample line `name value` in an exposition.
pub fn counter(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} not in\n{text}"))
}

/// A webhook receipt signed under the v2 scheme (the callback id signed too).
fn v2_call(m: &Seeded, id: &str, at: i64) -> Call {
    let body = receipt_body_at(m, at);
    let ts = now_ms() / 1000;
    Call {
        ts: Some(ts.to_string()),
        sig: Some(loa::web::signature::sign_receipt(
            SECRET, id, ts as u64, &body,
        )),
        id: id.into(),
        body,
    }
}

/// A webhook receipt signed under the v1 scheme (the id not signed), delivered at `at`.
fn v1_call(m: &Seeded, id: &str, at: i64) -> Call {
    let body = receipt_body_at(m, at);
    let ts = now_ms() / 1000;
    Call {
        ts: Some(ts.to_string()),
        sig: Some(v1(SECRET, ts, &body)),
        id: id.into(),
        body,
    }
}

#[tokio::test]
async fn a_delivery_time_before_the_send_or_to_come_is_replaced_by_the_arrival_time() {
    let app = WebApp::start(keys()).await;
    let sms = seed_sent(
        &app.store,
        "sms",
        &["84911111111", "84922222222", "84933333333"],
    )
    .await;
    let zalo = seed_sent(&app.store, "zalo", &["84944444444"]).await;
    let mut db = Watcher::open(&app.db).await;
    let year_2020 = 1_577_836_800_000;
    let tomorrow = now_ms() / 1000 * 1000 + 86_400_000;
    let believable = just_delivered();
    for (m, at, kept) in [
        (&sms[0], year_2020, false),
        (&sms[1], tomorrow, false),
        (&sms[2], believable, true),
    ] {
        let before = now_ms();
        let call = v1_call(m, &format!("cb-at-{at}"), at);
        let (status, body) = post(&app, "/callbacks/webhook/sms", &call).await;
        let after = now_ms();
        assert_eq!((status, body.as_str()), (200, "ok\n"));
        let (state, delivered_at, _) = db.message(&m.message_id).await;
        assert_eq!(state, "delivered");
        let delivered_at = delivered_at.unwrap();
        if kept {
            assert_eq!(delivered_at, at);
        } else {
            assert!(
                (before..=after).contains(&delivered_at),
                "{at} recorded as {delivered_at}, not the arrival ({before}..{after})"
            );
        }
    }
    // The two replaced times say so in the messages' events.
    let replaced =
        crate::support::ledger::events_mentioning(&app.db, "the arrival time is recorded").await;
    assert_eq!(replaced.len(), 2, "{replaced:?}");
    assert!(replaced[0].contains("2020-01-01T00:00:00"), "{replaced:?}");
    // Zalo's delivery_time is held to the same bounds.
    let now = now_ms();
    let mut event: serde_json::Value =
        serde_json::from_str(&zalo_event(&zalo[0], now, true)).unwrap();
    event["message"]["delivery_time"] = json!("1000");
    let body = event.to_string();
    let (status, _) = post_zalo(&app, Some(&zalo_mac(ZALO_KEY, &body)), &body).await;
    assert_eq!(status, 200);
    let (state, delivered_at, _) = db.message(&zalo[0].message_id).await;
    assert_eq!(state, "delivered");
    assert!(delivered_at.unwrap() >= now, "{delivered_at:?}");
    app.stop().await;
}

#[tokio::test]
async fn a_v2_signature_covers_the_callback_id_and_a_v1_receipt_under_a_new_id_is_a_replay() {
    let app = WebApp::start(keys()).await;
    let m = seed_sent(&app.store, "sms", &["84911111111", "84922222222"]).await;
    let mut db = Watcher::open(&app.db).await;
    // v2: the same signed request under another id does not verify.
    let call = v2_call(&m[0], "cb-v2", just_delivered());
    assert_eq!(
        post(&app, "/callbacks/webhook/sms", &call).await,
        (200, "ok\n".into())
    );
    let before = db.version().await;
    let renamed = Call {
        id: "cb-v2-again".into(),
        ..call
    };
    assert_eq!(post(&app, "/callbacks/webhook/sms", &renamed).await.0, 401);
    assert_eq!(db.version().await, before, "a refused request committed");
    // v1 (the id not signed): the same signed request under another id is a replay.
    let first = Call::signed(&m[1], "cb-v1");
    let again = Call {
        id: "cb-v1-again".into(),
        ts: first.ts.clone(),
        sig: first.sig.clone(),
        body: first.body.clone(),
    };
    assert_eq!(
        post(&app, "/callbacks/webhook/sms", &first).await,
        (200, "ok\n".into())
    );
    assert_eq!(
        post(&app, "/callbacks/webhook/sms", &again).await,
        (200, "duplicate\n".into())
    );
    let text = app.metrics_text().await;
    assert_eq!(counter(&text, "loa_callback_replays_total"), 1);
    assert_eq!(
        counter(
            &text,
            "loa_callback_rejected_total{reason=\"bad_signature\"}"
        ),
        1
    );
    app.stop().await;
}

#[tokio::test]
async fn a_zalo_receipt_moves_only_messages_of_zalo_channels() {
    let app = WebApp::start(keys()).await;
    let sms = seed_sent(&app.store, "sms", &["84911111111", "84933333333"]).await;
    let zalo = seed_sent(&app.store, "zalo", &["84922222222"])
        .await
        .remove(0);
    let mut db = Watcher::open(&app.db).await;
    let now = now_ms();
    // Naming an SMS by our id, another by its provider id: neither moves.
    for (m, tracking) in [(&sms[0], true), (&sms[1], false)] {
        let body = zalo_event(m, now, tracking);
        let answer = post_zalo(&app, Some(&zalo_mac(ZALO_KEY, &body)), &body).await;
        assert_eq!(answer, (200, "ignored\n".into()), "tracking id: {tracking}");
        assert_eq!(db.message(&m.message_id).await.0, "sent");
    }
    let body = zalo_event(&zalo, now, true);
    let answer = post_zalo(&app, Some(&zalo_mac(ZALO_KEY, &body)), &body).await;
    assert_eq!(answer, (200, "ok\n".into()));
    assert_eq!(db.message(&zalo.message_id).await.0, "delivered");
    app.stop().await;
}
