//! The SMTP channel against a real SMTP server on loopback.

use std::sync::Arc;

use loa::channel::{self, ChannelError, MemoryTokenStore, Outgoing};

use crate::support::mime::{Part, decode_words};
use crate::support::smtp_sink::SmtpSink;
use crate::support::{email, smtp_channel};

const SUBJECT: &str = "Nhắc đóng BHYT học sinh năm học 2026–2027";
const FROM: &str = "Bảo hiểm xã hội Việt Nam <tt@example.vn>";

fn build(url: &str) -> Arc<dyn channel::Channel> {
    build_with(
        url,
        loa::campaign::default_concurrency(loa::campaign::ChannelKind::Smtp),
    )
}

/// An smtp channel of `concurrency` connections.
fn build_with(url: &str, concurrency: usize) -> Arc<dyn channel::Channel> {
    let ch = loa::campaign::Channel {
        concurrency,
        ..smtp_channel(url, FROM)
    };
    channel::build(
        &ch,
        None,
        "bhyt-hssv-2026-2027",
        Arc::new(MemoryTokenStore::new()),
    )
    .expect("channel builds")
}

async fn send(
    ch: &Arc<dyn channel::Channel>,
    msg: &Outgoing,
) -> Result<loa::channel::Receipt, ChannelError> {
    ch.send(msg).await
}

#[tokio::test]
async fn an_email_arrives_with_its_headers_parts_and_vietnamese_subject() {
    let sink = SmtpSink::start().await;
    let ch = build(&sink.url());
    let mut msg = email("bhyt-m1", "hieutruong@truong.example.vn", SUBJECT);
    msg.unsubscribe_url = Some("https://loa.example.vn/unsubscribe/tok123".into());
    let receipt = send(&ch, &msg).await.expect("accepted");
    assert_eq!(
        receipt.provider_id.as_deref(),
        Some("2.0.0 Ok: queued as Q1")
    );

    let got = sink.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].from, "tt@example.vn");
    assert_eq!(got[0].to, ["hieutruong@truong.example.vn"]);
    let raw = got[0].text();
    let m = Part::parse(&raw);
    assert_eq!(decode_words(m.one("Subject")), SUBJECT, "raw: {raw}");
    assert_eq!(
        decode_words(m.one("Subject")).as_bytes(),
        SUBJECT.as_bytes()
    );
    assert!(
        m.one("From").is_ascii() && m.one("Subject").is_ascii(),
        "RFC 2047 on the wire"
    );
    assert_eq!(decode_words(m.one("From")), FROM);
    assert_eq!(m.one("To"), "hieutruong@truong.example.vn");
    assert_eq!(m.one("Message-ID"), "<bhyt-m1@example.vn>");
    assert_eq!(m.one("X-Loa-Message"), "bhyt-m1");
    assert_eq!(
        m.one("List-Unsubscribe"),
        "<https://loa.example.vn/unsubscribe/tok123>"
    );
    assert_eq!(m.one("List-Unsubscribe-Post"), "List-Unsubscribe=One-Click");
    assert!(m.all("Bcc").is_empty() && m.all("Cc").is_empty());
    assert_eq!(m.one("MIME-Version"), "1.0");
    assert!(m.one("Content-Type").starts_with("multipart/alternative"));

    let parts = m.parts();
    assert_eq!(parts.len(), 2);
    assert!(
        parts[0]
            .one("Content-Type")
            .starts_with("text/plain; charset=utf-8")
    );
    assert!(
        parts[1]
            .one("Content-Type")
            .starts_with("text/html; charset=utf-8")
    );
    let text = msg.rendered.text.as_ref().unwrap().replace('\n', "\r\n");
    assert_eq!(parts[0].decoded_body(), text);
    assert_eq!(parts[1].decoded_body(), msg.rendered.html.clone().unwrap());
}

#[tokio::test]
async fn a_text_only_email_is_a_single_part_without_list_unsubscribe() {
    let sink = SmtpSink::start().await;
    let ch = build(&sink.url());
    let mut msg = email("bhyt-m2", "ph@example.vn", "Thông báo BHYT học sinh");
    msg.rendered.html = None;
    send(&ch, &msg).await.unwrap();
    let m = Part::parse(&sink.received()[0].text());
    assert!(
        m.one("Content-Type")
            .starts_with("text/plain; charset=utf-8")
    );
    assert!(m.all("List-Unsubscribe").is_empty());
    assert!(m.all("List-Unsubscribe-Post").is_empty());
    assert_eq!(
        m.decoded_body(),
        msg.rendered.text.unwrap().replace('\n', "\r\n")
    );
}

#[tokio::test]
async fn a_line_break_in_the_subject_adds_no_header_on_the_wire() {
    let sink = SmtpSink::start().await;
    let ch = build(&sink.url());
    let msg = email(
        "bhyt-m3",
        "ph@example.vn",
        "Nhắc\r\nBcc: victim@example.test",
    );
    send(&ch, &msg).await.unwrap();
    let got = &sink.received()[0];
    assert_eq!(got.to, ["ph@example.vn"]);
    let m = Part::parse(&got.text());
    assert_eq!(m.all("Subject").len(), 1);
    assert!(m.all("Bcc").is_empty(), "{}", got.text());
}

#[tokio::test]
async fn a_550_recipient_is_permanent_with_its_code_and_the_connection_is_kept() {
    let sink = SmtpSink::start().await;
    let ch = build_with(&sink.url(), 1);
    let err = send(&ch, &email("bhyt-m4", "perm550-nguyen@example.vn", "x"))
        .await
        .unwrap_err();
    let ChannelError::Permanent {
        code,
        message,
        no_account,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(code.as_deref(), Some("550"));
    assert!(!no_account);
    assert!(!message.contains("perm550-nguyen@example.vn"), "{message}");
    assert!(message.contains("pe***@example.vn"), "{message}");

    send(&ch, &email("bhyt-m5", "ok@example.vn", "x"))
        .await
        .unwrap();
    assert_eq!(
        sink.connections(),
        1,
        "the refused transaction was reset, not reconnected"
    );
    assert!(sink.commands().contains(&"RSET".to_string()));
    assert_eq!(sink.received().len(), 1);
}

#[tokio::test]
async fn a_451_recipient_is_transient() {
    let sink = SmtpSink::start().await;
    let ch = build(&sink.url());
    let err = send(&ch, &email("bhyt-m6", "temp451-a@example.vn", "x"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ChannelError::Transient { code: Some(c), slow_down: false, .. } if c == "451"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_454_after_data_slows_down() {
    let sink = SmtpSink::start().await;
    let ch = build(&sink.url());
    let err = send(&ch, &email("bhyt-m7", "data454-a@example.vn", "x"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ChannelError::Transient { code: Some(c), slow_down: true, .. } if c == "454"),
        "{err:?}"
    );
    assert!(sink.received().is_empty());
}

#[tokio::test]
async fn a_421_greeting_slows_down_and_the_next_send_reconnects() {
    let sink = SmtpSink::start().await;
    sink.refuse_greetings(1);
    let ch = build(&sink.url());
    let err = send(&ch, &email("bhyt-m8", "a@example.vn", "x"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ChannelError::Transient { code: Some(c), slow_down: true, .. } if c == "421"),
        "{err:?}"
    );
    send(&ch, &email("bhyt-m8", "a@example.vn", "x"))
        .await
        .unwrap();
    assert_eq!(sink.connections(), 2);
    assert_eq!(sink.received().len(), 1);
}

#[tokio::test]
async fn a_421_mid_session_drops_the_connection() {
    let sink = SmtpSink::start().await;
    let ch = build_with(&sink.url(), 1);
    let err = send(&ch, &email("bhyt-m9", "temp421-a@example.vn", "x"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ChannelError::Transient {
                slow_down: true,
                ..
            }
        ),
        "{err:?}"
    );
    send(&ch, &email("bhyt-m10", "b@example.vn", "x"))
        .await
        .unwrap();
    assert_eq!(sink.connections(), 2);
}

#[tokio::test]
async fn many_messages_share_one_connection() {
    let sink = SmtpSink::start().await;
    let ch = build_with(&sink.url(), 1);
    for i in 0..50 {
        send(&ch, &email(&format!("bhyt-n{i}"), "a@example.vn", SUBJECT))
            .await
            .unwrap();
    }
    assert_eq!(sink.connections(), 1);
    assert_eq!(sink.received().len(), 50);
}

#[tokio::test]
async fn concurrent_sends_open_at_most_the_channel_concurrency() {
    let sink = SmtpSink::start().await;
    let ch = build_with(&sink.url(), 3);
    let msgs: Vec<Outgoing> = (0..30)
        .map(|i| email(&format!("bhyt-c{i}"), "a@example.vn", "x"))
        .collect();
    let results = futures::future::join_all(msgs.iter().map(|m| ch.send(m))).await;
    assert!(results.iter().all(Result::is_ok));
    assert!(
        sink.connections() <= 3,
        "{} connections",
        sink.connections()
    );
    assert_eq!(sink.received().len(), 30);
}

#[tokio::test]
async fn refused_credentials_pause_the_channel_and_are_not_echoed() {
    let sink = SmtpSink::start().await;
    sink.require_auth("loa", "right-password");
    let ch = build(&format!(
        "smtp://loa:wrong-password@127.0.0.1:{}",
        sink.port
    ));
    let err = send(&ch, &email("bhyt-m11", "a@example.vn", "x"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ChannelError::Paused { code: Some(c), until: None, .. } if c == "535"),
        "{err:?}"
    );
    assert!(!format!("{err:?}").contains("wrong-password"));

    let ok = build(&format!(
        "smtp://loa:right-password@127.0.0.1:{}",
        sink.port
    ));
    send(&ok, &email("bhyt-m12", "a@example.vn", "x"))
        .await
        .unwrap();
    assert_eq!(sink.received().len(), 1);
}

#[tokio::test]
async fn a_refused_connection_is_transient() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let ch = build(&format!("smtp://127.0.0.1:{port}"));
    let err = send(&ch, &email("bhyt-m13", "a@example.vn", "x"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ChannelError::Transient {
                slow_down: false,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn seeded_transient_refusals_are_all_transient_and_keep_the_connections() {
    let sink = SmtpSink::start().await;
    sink.fail_rate(0.3, 42);
    let ch = build_with(&sink.url(), 2);
    let msgs: Vec<Outgoing> = (0..100)
        .map(|i| email(&format!("bhyt-r{i}"), "a@example.vn", "x"))
        .collect();
    let results = futures::future::join_all(msgs.iter().map(|m| ch.send(m))).await;
    let refused: Vec<&ChannelError> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(
        refused
            .iter()
            .all(|e| matches!(e, ChannelError::Transient { code: Some(c), .. } if c == "451")),
        "{refused:?}"
    );
    assert!(
        (15..=45).contains(&refused.len()),
        "{} refused (seed 42)",
        refused.len()
    );
    assert_eq!(sink.received().len(), 100 - refused.len());
    assert!(sink.connections() <= 2);
}

#[tokio::test]
async fn required_starttls_on_a_server_without_it_pauses_the_channel() {
    let sink = SmtpSink::start().await;
    let ch = build(&format!("{}?tls=required", sink.url()));
    let err = send(&ch, &email("bhyt-m14", "a@example.vn", "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, ChannelError::Paused { .. }), "{err:?}");
    assert!(sink.received().is_empty());
}

#[tokio::test]
async fn a_connection_the_server_closed_while_idle_is_replaced_transparently() {
    let sink = SmtpSink::start().await;
    sink.close_after(1);
    let ch = build_with(&sink.url(), 1);
    for i in 0..3 {
        send(&ch, &email(&format!("bhyt-i{i}"), "a@example.vn", "x"))
            .await
            .expect("a stale connection is not the message's fault");
    }
    assert_eq!(sink.received().len(), 3);
    assert_eq!(sink.connections(), 3);
}
