//! The webhook channel against a real HTTP server on loopback.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use loa::campaign::{Channel, ChannelKind, Secret};
use loa::channel::{self, ChannelError, MemoryTokenStore, Outgoing};
use loa::render::message::Rendered;
use serde_json::json;
use sha2::Sha256;

use crate::support::channel;
use crate::support::http_sink::HttpSink;

fn webhook(url: &str) -> Channel {
    Channel {
        url: Some(Secret::new(url)),
        ..channel("sms", ChannelKind::Webhook)
    }
}

fn build(ch: &Channel) -> Arc<dyn channel::Channel> {
    // The sink is on loopback, which webhooks reach only when allowed (docs/reliability.md#r13).
    let loopback = Arc::new("127.0.0.0/8".parse().unwrap());
    channel::build_allowing(
        ch,
        None,
        "bhyt",
        Arc::new(MemoryTokenStore::new()),
        &loopback,
    )
    .expect("builds")
}

fn sms(message_id: &str) -> Outgoing {
    Outgoing {
        message_id: message_id.into(),
        campaign: "bhyt".into(),
        step: "parent-notice".into(),
        channel: "sms".into(),
        address: "84912345678".into(),
        attempt: 1,
        rendered: Rendered {
            text: Some("Nhac dong BHYT hoc sinh truoc 31/12".into()),
            ..Rendered::default()
        },
        unsubscribe_url: None,
    }
}

fn expect_transient(err: &ChannelError) -> (Option<Duration>, bool, Option<&str>) {
    match err {
        ChannelError::Transient {
            retry_after,
            slow_down,
            code,
            ..
        } => (*retry_after, *slow_down, code.as_deref()),
        other => panic!("not transient: {other:?}"),
    }
}

#[tokio::test]
async fn a_signed_request_carries_the_json_body_and_a_stable_idempotency_key() {
    let sink = HttpSink::start().await;
    let mut ch = webhook(&sink.url("/ok"));
    ch.secret = Some(Secret::new("hmac-secret"));
    ch.headers
        .insert("Authorization".into(), Secret::new("Bearer sms-token"));
    let sender = build(&ch);
    let msg = sms("bhyt-w1");
    sender.send(&msg).await.expect("accepted");
    sender.send(&msg).await.expect("accepted again");

    let reqs = sink.requests();
    assert_eq!(reqs.len(), 2);
    let r = &reqs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("authorization"), Some("Bearer sms-token"));
    assert_eq!(r.header("idempotency-key"), Some("bhyt-w1"));
    assert_eq!(reqs[1].header("idempotency-key"), Some("bhyt-w1"));
    assert_eq!(
        r.json(),
        json!({"to": "84912345678", "text": "Nhac dong BHYT hoc sinh truoc 31/12",
               "subject": null, "message_id": "bhyt-w1"})
    );

    // Verify the signature as a receiver would, with the secret only.
    let ts = r.header("x-loa-timestamp").expect("timestamp");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(now.abs_diff(ts.parse().unwrap()) < 10);
    let mut mac = Hmac::<Sha256>::new_from_slice(b"hmac-secret").unwrap();
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(&r.body);
    let sig = r.header("x-loa-signature").expect("signature");
    let hex_sig = sig.strip_prefix("v1=").expect("v1= prefix");
    mac.verify_slice(&hex::decode(hex_sig).unwrap())
        .expect("signature verifies");
}

#[tokio::test]
async fn a_body_template_is_sent_byte_for_byte_without_a_signature_when_no_secret() {
    let sink = HttpSink::start().await;
    let mut ch = webhook(&sink.url("/ok"));
    ch.body = Some("sms_gateway".into());
    let mut msg = sms("bhyt-w2");
    let body = r#"{"Phone":"84912345678","Content":"Nhắc đóng BHYT","SmsType":"2"}"#;
    msg.rendered.body = Some(body.into());
    build(&ch).send(&msg).await.unwrap();
    let r = &sink.requests()[0];
    assert_eq!(r.body, body.as_bytes());
    assert!(r.header("x-loa-signature").is_none());
    assert_eq!(r.header("idempotency-key"), Some("bhyt-w2"));
}

#[tokio::test]
async fn a_429_with_retry_after_seconds_slows_down_for_that_long() {
    let sink = HttpSink::start().await;
    let err = build(&webhook(&sink.url("/retry-seconds")))
        .send(&sms("bhyt-w3"))
        .await
        .unwrap_err();
    let (retry_after, slow_down, code) = expect_transient(&err);
    assert_eq!(retry_after, Some(Duration::from_secs(3)));
    assert!(slow_down);
    assert_eq!(code, Some("429"));
}

#[tokio::test]
async fn a_429_with_an_http_date_waits_until_that_date() {
    let sink = HttpSink::start().await;
    let err = build(&webhook(&sink.url("/retry-date")))
        .send(&sms("bhyt-w4"))
        .await
        .unwrap_err();
    let (retry_after, slow_down, _) = expect_transient(&err);
    let wait = retry_after.expect("retry_after");
    // HTTP-dates have one-second resolution: 5 s ahead reads as 4–5 s.
    assert!(
        wait >= Duration::from_secs(3) && wait <= Duration::from_secs(5),
        "{wait:?}"
    );
    assert!(slow_down);
}

#[tokio::test]
async fn a_500_is_transient_and_a_410_permanent() {
    let sink = HttpSink::start().await;
    let err = build(&webhook(&sink.url("/fail")))
        .send(&sms("bhyt-w5"))
        .await
        .unwrap_err();
    let (retry_after, slow_down, code) = expect_transient(&err);
    assert_eq!((retry_after, slow_down, code), (None, false, Some("500")));

    let err = build(&webhook(&sink.url("/gone")))
        .send(&sms("bhyt-w6"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ChannelError::Permanent { code: Some(c), .. } if c == "410"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_400_is_permanent_and_the_echoed_phone_is_masked() {
    let sink = HttpSink::start().await;
    let err = build(&webhook(&sink.url("/bad")))
        .send(&sms("bhyt-w7"))
        .await
        .unwrap_err();
    let ChannelError::Permanent { code, message, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(code.as_deref(), Some("400"));
    assert!(message.contains("84912***678"), "{message}");
    assert!(!message.contains("84912345678"), "{message}");
}

#[tokio::test]
async fn a_redirect_is_not_followed_and_the_canary_sees_nothing() {
    let sink = HttpSink::start().await;
    let err = build(&webhook(&sink.url("/redirect")))
        .send(&sms("bhyt-w8"))
        .await
        .unwrap_err();
    let ChannelError::Permanent { code, message, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(code.as_deref(), Some("302"));
    assert!(
        message.contains("127.0.0.1"),
        "names the Location host: {message}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(sink.canary_connections(), 0);
}

#[tokio::test]
async fn a_hung_endpoint_is_abandoned_at_the_channel_timeout() {
    let sink = HttpSink::start().await;
    let mut ch = webhook(&sink.url("/hang"));
    ch.timeout = Duration::from_secs(1);
    let start = Instant::now();
    let err = build(&ch).send(&sms("bhyt-w9")).await.unwrap_err();
    let took = start.elapsed();
    expect_transient(&err);
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(2500),
        "{took:?}"
    );
}

#[tokio::test]
async fn a_huge_answer_is_read_only_up_to_the_cap() {
    let sink = HttpSink::start().await;
    build(&webhook(&sink.url("/huge")))
        .send(&sms("bhyt-w10"))
        .await
        .expect("a 2xx is accepted whatever its size");
}

#[tokio::test]
async fn secrets_do_not_appear_in_transport_errors() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let ch = webhook(&format!(
        "http://127.0.0.1:{port}/send?api_key=top-secret-key"
    ));
    let err = build(&ch).send(&sms("bhyt-w11")).await.unwrap_err();
    expect_transient(&err);
    assert!(!format!("{err:?}").contains("top-secret-key"), "{err:?}");
}
