//! The Zalo ZNS channel against a real HTTP server playing Zalo's API and OAuth host.

use std::sync::{Arc, Mutex};

use chrono::{Timelike, Utc};
use futures::future::BoxFuture;
use indexmap::IndexMap;
use loa::campaign::{Channel, ChannelKind, Secret};
use loa::channel::{self, ChannelError, MemoryTokenStore, Outgoing, TokenStore};
use loa::render::ZnsMessage;
use loa::render::message::Rendered;
use serde_json::json;

use crate::support::channel;
use crate::support::http_sink::HttpSink;

fn zalo(sink: &HttpSink, token: &str) -> Channel {
    Channel {
        access_token: Some(Secret::new(token)),
        endpoint: Some(sink.url("")),
        ..channel("zalo", ChannelKind::ZaloZns)
    }
}

fn notice(message_id: &str, phone: &str) -> Outgoing {
    let mut params = IndexMap::new();
    params.insert("student_name".to_string(), "Nguyễn Văn An".to_string());
    params.insert("amount".to_string(), "1.134.000 đ".to_string());
    Outgoing {
        message_id: message_id.into(),
        campaign: "bhyt".into(),
        step: "parent-notice".into(),
        channel: "zalo".into(),
        address: phone.into(),
        attempt: 1,
        rendered: Rendered {
            zns: Some(ZnsMessage {
                template_id: "231245".into(),
                params,
            }),
            ..Rendered::default()
        },
        unsubscribe_url: None,
    }
}

/// A token store that writes each `put` into the sink's event log, so the test sees whether
/// the new refresh token was stored before the retried send reached Zalo.
struct LoggingStore {
    inner: MemoryTokenStore,
    events: Arc<Mutex<Vec<String>>>,
}

impl TokenStore for LoggingStore {
    fn get(&self, key: &str) -> BoxFuture<'_, anyhow::Result<Option<String>>> {
        self.inner.get(key)
    }

    fn put<'a>(&'a self, key: &'a str, value: &'a str) -> BoxFuture<'a, anyhow::Result<()>> {
        self.events.lock().unwrap().push(format!("put {key}"));
        self.inner.put(key, value)
    }
}

fn build(ch: &Channel, store: Arc<dyn TokenStore>) -> Arc<dyn channel::Channel> {
    // The sink is on loopback, which Zalo requests reach only when allowed
    // (docs/reliability.md#r13).
    let loopback = Arc::new("127.0.0.0/8".parse().unwrap());
    channel::build_allowing(ch, None, "bhyt", store, &loopback).expect("builds")
}

#[tokio::test]
async fn a_zns_request_has_exactly_the_documented_fields() {
    let sink = HttpSink::start().await;
    sink.zalo().valid_tokens.push("tok-A".into());
    let ch = build(&zalo(&sink, "tok-A"), Arc::new(MemoryTokenStore::new()));
    let receipt = ch.send(&notice("bhyt-z1", "84912345678")).await.unwrap();
    assert_eq!(receipt.provider_id.as_deref(), Some("a4d0243feee163bd3af2"));

    let reqs = sink.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/message/template")
    );
    assert_eq!(r.header("access_token"), Some("tok-A"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(r.header("authorization").is_none());
    assert_eq!(
        r.json(),
        json!({
            "phone": "84912345678",
            "template_id": "231245",
            "template_data": {"student_name": "Nguyễn Văn An", "amount": "1.134.000 đ"},
            "tracking_id": "bhyt-z1",
        })
    );
}

#[tokio::test]
async fn no_zalo_account_is_permanent_and_asks_for_the_fallback() {
    let sink = HttpSink::start().await;
    sink.zalo().valid_tokens.push("tok-A".into());
    sink.zalo().zalo_errors.insert("84900000118".into(), -118);
    let ch = build(&zalo(&sink, "tok-A"), Arc::new(MemoryTokenStore::new()));
    let err = ch
        .send(&notice("bhyt-z2", "84900000118"))
        .await
        .unwrap_err();
    let ChannelError::Permanent {
        code,
        no_account,
        message,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(code.as_deref(), Some("-118"));
    assert!(no_account);
    assert!(!message.contains("84900000118"), "{message}");
}

#[tokio::test]
async fn an_exhausted_quota_pauses_the_channel_until_midnight_in_vietnam() {
    let sink = HttpSink::start().await;
    sink.zalo().valid_tokens.push("tok-A".into());
    sink.zalo().zalo_errors.insert("84900000115".into(), -115);
    let ch = build(&zalo(&sink, "tok-A"), Arc::new(MemoryTokenStore::new()));
    let err = ch
        .send(&notice("bhyt-z3", "84900000115"))
        .await
        .unwrap_err();
    let ChannelError::Paused { code, until, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(code.as_deref(), Some("-115"));
    let until = until.expect("until midnight");
    assert!(until > Utc::now() && until - Utc::now() <= chrono::Duration::hours(24));
    let local = until.with_timezone(&chrono_tz::Asia::Ho_Chi_Minh);
    assert_eq!((local.hour(), local.minute(), local.second()), (0, 0, 0));
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once_stored_first_and_the_send_succeeds() {
    let sink = HttpSink::start().await;
    sink.zalo().refresh = Some((
        "old-refresh".into(),
        "app-secret".into(),
        "new-access".into(),
        "new-refresh".into(),
    ));
    let mut ch = zalo(&sink, "old-access");
    ch.refresh_token = Some(Secret::new("old-refresh"));
    ch.app_id = Some("app1".into());
    ch.app_secret = Some(Secret::new("app-secret"));
    let store = Arc::new(LoggingStore {
        inner: MemoryTokenStore::new(),
        events: sink.shared.events.clone(),
    });
    let zalo_ch = build(&ch, store.clone());
    let receipt = zalo_ch
        .send(&notice("bhyt-z4", "84912345678"))
        .await
        .unwrap();
    assert!(receipt.provider_id.is_some());

    let events = sink.shared.events.lock().unwrap().clone();
    let pos = |e: &str| events.iter().rposition(|x| x == e);
    assert_eq!(
        events.iter().filter(|e| *e == "refresh").count(),
        1,
        "{events:?}"
    );
    assert!(pos("send with old-access") < pos("refresh"), "{events:?}");
    assert!(
        pos("refresh") < pos("put zalo/app1/refresh_token")
            && pos("put zalo/app1/refresh_token") < pos("send with new-access"),
        "the new refresh token is stored before the new access token is used: {events:?}"
    );
    assert_eq!(
        store.inner.value("zalo/app1/refresh_token").as_deref(),
        Some("new-refresh")
    );
    assert_eq!(
        store.inner.value("zalo/app1/access_token").as_deref(),
        Some("new-access")
    );
    // The OAuth call carried the app secret as a header and the form fields.
    let oauth = sink
        .requests()
        .into_iter()
        .find(|r| r.path == "/v4/oa/access_token")
        .unwrap();
    assert_eq!(oauth.header("secret_key"), Some("app-secret"));
    let form = String::from_utf8(oauth.body.clone()).unwrap();
    assert_eq!(
        form,
        "refresh_token=old-refresh&app_id=app1&grant_type=refresh_token"
    );

    // The next send, and a restarted channel on the same store, use the new token directly.
    zalo_ch
        .send(&notice("bhyt-z5", "84912345678"))
        .await
        .unwrap();
    build(&ch, store.clone())
        .send(&notice("bhyt-z6", "84912345678"))
        .await
        .unwrap();
    let events = sink.shared.events.lock().unwrap().clone();
    assert_eq!(
        events.iter().filter(|e| *e == "refresh").count(),
        1,
        "{events:?}"
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| *e == "send with new-access")
            .count(),
        3
    );
}

#[tokio::test]
async fn a_refused_refresh_pauses_the_channel() {
    let sink = HttpSink::start().await;
    let mut ch = zalo(&sink, "old-access");
    ch.refresh_token = Some(Secret::new("dead-refresh"));
    ch.app_id = Some("app1".into());
    ch.app_secret = Some(Secret::new("app-secret"));
    let err = build(&ch, Arc::new(MemoryTokenStore::new()))
        .send(&notice("bhyt-z7", "84912345678"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ChannelError::Paused { until: None, .. }),
        "{err:?}"
    );
    assert!(!format!("{err:?}").contains("dead-refresh"));
    assert!(!format!("{err:?}").contains("app-secret"));
}

#[tokio::test]
async fn an_expired_token_without_refresh_settings_pauses_the_channel() {
    let sink = HttpSink::start().await;
    let err = build(
        &zalo(&sink, "old-access"),
        Arc::new(MemoryTokenStore::new()),
    )
    .send(&notice("bhyt-z8", "84912345678"))
    .await
    .unwrap_err();
    assert!(
        matches!(&err, ChannelError::Paused { code: Some(c), .. } if c == "-124"),
        "{err:?}"
    );
}

#[tokio::test]
async fn new_tokens_in_the_environment_win_over_stored_ones() {
    let sink = HttpSink::start().await;
    sink.zalo().valid_tokens.push("tok-2".into());
    let store = Arc::new(MemoryTokenStore::new());
    store
        .put("zalo/zalo/seed", "from-an-older-consent")
        .await
        .unwrap();
    store.put("zalo/zalo/access_token", "tok-1").await.unwrap();
    let ch = build(&zalo(&sink, "tok-2"), store.clone());
    ch.send(&notice("bhyt-z9", "84912345678")).await.unwrap();
    assert_eq!(
        store.value("zalo/zalo/access_token").as_deref(),
        Some("tok-2")
    );
    assert_eq!(sink.requests()[0].header("access_token"), Some("tok-2"));
}

/// R13 (docs/reliability.md#r13): Zalo requests go through the outbound check too. Built
/// without an allow-list, the channel refuses its loopback endpoint permanently and the sink
/// hears nothing.
#[tokio::test]
async fn a_zalo_request_to_loopback_is_refused_without_the_allow_list() {
    let sink = HttpSink::start().await;
    sink.zalo().valid_tokens.push("tok-A".into());
    let strict = channel::build(
        &zalo(&sink, "tok-A"),
        None,
        "bhyt",
        Arc::new(MemoryTokenStore::new()),
    )
    .expect("builds");
    let err = strict
        .send(&notice("bhyt-z9", "84912345678"))
        .await
        .unwrap_err();
    match &err {
        ChannelError::Permanent { message, .. } => assert!(
            message.starts_with("refused: 127.0.0.1 is a loopback address"),
            "{message}"
        ),
        other => panic!("not permanent: {other:?}"),
    }
    assert!(sink.requests().is_empty(), "the sink was reached");
}
