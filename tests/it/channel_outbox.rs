//! `--outbox`: every channel writes files instead of reaching the network.

use std::path::Path;
use std::sync::Arc;

use indexmap::IndexMap;
use loa::campaign::{Channel, ChannelKind, Secret};
use loa::channel::{self, MemoryTokenStore, Outgoing};
use loa::render::ZnsMessage;
use loa::render::message::Rendered;
use serde_json::{Value, json};

use crate::support::mime::{Part, decode_words};
use crate::support::{channel, email, smtp_channel};

const CAMPAIGN: &str = "bhyt-hssv-2026-2027";

fn build(ch: &Channel, dir: &Path) -> Arc<dyn channel::Channel> {
    channel::build(ch, Some(dir), CAMPAIGN, Arc::new(MemoryTokenStore::new())).expect("builds")
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn outgoing(channel: &str, message_id: &str, address: &str, rendered: Rendered) -> Outgoing {
    Outgoing {
        message_id: message_id.into(),
        campaign: CAMPAIGN.into(),
        step: "parent-notice".into(),
        channel: channel.into(),
        address: address.into(),
        attempt: 1,
        rendered,
        unsubscribe_url: None,
    }
}

#[tokio::test]
async fn an_email_becomes_a_complete_eml_file_and_rewriting_it_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    // The URL is never used under --outbox, not even parsed for credentials.
    let ch = build(
        &smtp_channel("${LOA_SMTP_URL}", "BHXH <tt@example.vn>"),
        dir.path(),
    );
    let mut msg = email(
        "bhyt-o1",
        "hieutruong@example.vn",
        "Nhắc đóng BHYT học sinh",
    );
    msg.unsubscribe_url = Some("https://loa.example.vn/u/t1".into());
    ch.send(&msg).await.unwrap();
    ch.send(&msg).await.unwrap();

    let folder = dir
        .path()
        .join(CAMPAIGN)
        .join("coverage-weekly")
        .join("email");
    assert_eq!(files_in(&folder), ["bhyt-o1.eml"]);
    let raw = std::fs::read_to_string(folder.join("bhyt-o1.eml")).unwrap();
    let m = Part::parse(&raw);
    assert_eq!(decode_words(m.one("Subject")), "Nhắc đóng BHYT học sinh");
    assert_eq!(m.one("From"), "BHXH <tt@example.vn>");
    assert_eq!(m.one("To"), "hieutruong@example.vn");
    assert_eq!(m.one("Message-ID"), "<bhyt-o1@example.vn>");
    assert_eq!(m.one("X-Loa-Message"), "bhyt-o1");
    assert_eq!(m.one("List-Unsubscribe-Post"), "List-Unsubscribe=One-Click");
    assert!(!m.one("Date").is_empty());
    assert_eq!(m.parts().len(), 2);
}

#[tokio::test]
async fn a_webhook_request_is_written_as_json_with_secrets_masked() {
    let dir = tempfile::tempdir().unwrap();
    let mut ch = Channel {
        url: Some(Secret::new(
            "https://sms.example.vn/send?api_key=top-secret-key&brand=BHXH",
        )),
        secret: Some(Secret::new("hmac-secret")),
        ..channel("sms", ChannelKind::Webhook)
    };
    ch.headers
        .insert("Authorization".into(), Secret::new("Bearer sms-token"));
    let msg = outgoing(
        "sms",
        "bhyt-o2",
        "84912345678",
        Rendered {
            text: Some("Nhac dong BHYT".into()),
            ..Rendered::default()
        },
    );
    build(&ch, dir.path()).send(&msg).await.unwrap();

    let path = dir
        .path()
        .join(CAMPAIGN)
        .join("parent-notice/sms/bhyt-o2.json");
    let text = std::fs::read_to_string(&path).unwrap();
    for secret in ["top-secret-key", "hmac-secret", "sms-token"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        v["body"],
        json!({"to": "84912345678", "text": "Nhac dong BHYT", "subject": null, "message_id": "bhyt-o2"})
    );
    let req = &v["request"];
    assert_eq!(req["method"], "POST");
    assert_eq!(
        req["url"],
        "https://sms.example.vn/send?api_key=%5BREDACTED%5D&brand=BHXH"
    );
    let h = &req["headers"];
    assert_eq!(h["Content-Type"], "application/json");
    assert_eq!(h["Authorization"], "[REDACTED]");
    assert_eq!(h["Idempotency-Key"], "bhyt-o2");
    assert_eq!(h["X-Loa-Signature"], "[REDACTED]");
    assert!(
        h["X-Loa-Timestamp"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .is_ok()
    );
}

#[tokio::test]
async fn a_body_that_is_not_json_is_written_as_a_string() {
    let dir = tempfile::tempdir().unwrap();
    let ch = Channel {
        url: Some(Secret::new("https://sms.example.vn/send")),
        body: Some("form_gateway".into()),
        ..channel("sms", ChannelKind::Webhook)
    };
    let msg = outgoing(
        "sms",
        "bhyt-o3",
        "84912345678",
        Rendered {
            body: Some("to=84912345678&text=Nhac".into()),
            ..Rendered::default()
        },
    );
    build(&ch, dir.path()).send(&msg).await.unwrap();
    let path = dir
        .path()
        .join(CAMPAIGN)
        .join("parent-notice/sms/bhyt-o3.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(v["body"], "to=84912345678&text=Nhac");
}

#[tokio::test]
async fn a_zalo_message_is_written_as_json_without_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let ch = Channel {
        access_token: Some(Secret::new("zalo-oa-token")),
        ..channel("zalo", ChannelKind::ZaloZns)
    };
    let mut params = IndexMap::new();
    params.insert("student_name".to_string(), "Nguyễn Văn An".to_string());
    let msg = outgoing(
        "zalo",
        "bhyt-o4",
        "84912345678",
        Rendered {
            zns: Some(ZnsMessage {
                template_id: "231245".into(),
                params,
            }),
            ..Rendered::default()
        },
    );
    build(&ch, dir.path()).send(&msg).await.unwrap();
    let path = dir
        .path()
        .join(CAMPAIGN)
        .join("parent-notice/zalo/bhyt-o4.json");
    let text = std::fs::read_to_string(path).unwrap();
    assert!(!text.contains("zalo-oa-token"));
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        v,
        json!({
            "body": {"phone": "84912345678", "template_id": "231245",
                     "template_data": {"student_name": "Nguyễn Văn An"}, "tracking_id": "bhyt-o4"},
            "request": {"method": "POST",
                        "url": "https://business.openapi.zalo.me/message/template",
                        "headers": {"Content-Type": "application/json", "access_token": "[REDACTED]"}}
        })
    );
}

#[tokio::test]
async fn a_step_name_cannot_escape_the_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let ch = build(&smtp_channel("unused", "tt@example.vn"), dir.path());
    let mut msg = email("bhyt-o5", "a@example.vn", "x");
    msg.step = "..".into();
    assert!(ch.send(&msg).await.is_err());
}

#[tokio::test]
async fn an_unset_webhook_url_is_no_error_under_the_outbox() {
    let dir = tempfile::tempdir().unwrap();
    for (i, url) in ["", "${SMS_GATEWAY_URL}"].into_iter().enumerate() {
        let ch = Channel {
            url: Some(Secret::new(url)),
            ..channel("sms", ChannelKind::Webhook)
        };
        let id = format!("bhyt-u{i}");
        let msg = outgoing("sms", &id, "84912345678", Rendered::default());
        build(&ch, dir.path()).send(&msg).await.unwrap();
        let path = dir
            .path()
            .join(CAMPAIGN)
            .join(format!("parent-notice/sms/{id}.json"));
        let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(v["request"]["url"], url);
    }
}
