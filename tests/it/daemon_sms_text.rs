//! `sms.tera` (issue 20): an SMS holds 160 GSM-7 characters per segment, an e-mail's plain
//! part as many as it needs, so a template folder may give webhooks (SMS gateways) their own
//! short text. `loa run` sends it over a real HTTP sink while the e-mail of the same step,
//! over a real SMTP sink, keeps `text.tera`; a folder without `sms.tera` is unchanged; and
//! `validate` and `preview` read the same file the daemon sends.

use std::time::Duration;

use crate::support::campaign::CampaignBuilder;
use crate::support::daemon::{Daemon, Tuning, log_tail, until};
use crate::support::http_sink::HttpSink;
use crate::support::ledger;
use crate::support::mime::Part;
use crate::support::smtp_sink::SmtpSink;
use crate::support::workspace::Workspace;

const EMAIL_TEXT: &str = "Kính gửi {{ row.id }}: hãy tham gia bảo hiểm y tế học sinh, sinh viên.";
const SMS_TEXT: &str = "BHXH: {{ row.id }} chua co the BHYT";
const PLAIN_TEXT: &str = "Nhắc {{ row.id }} đóng BHYT";

/// Step `both` sends `note` (text.tera and sms.tera) by e-mail and SMS; step `plain` sends
/// `plain` (text.tera only) by SMS.
fn workspace(smtp: &SmtpSink, http: &HttpSink) -> Workspace {
    let ws = CampaignBuilder::new(2)
        .smtp("mail", &smtp.url(), &[])
        .webhook("sms", &http.url("/ok"), &[])
        .step("both", &["mail", "sms"])
        .step("plain", &["sms"])
        .build();
    std::fs::create_dir_all(ws.path("templates/plain")).expect("mkdir");
    ws.write("templates/note/text.tera", EMAIL_TEXT);
    ws.write("templates/note/sms.tera", SMS_TEXT);
    ws.write("templates/plain/text.tera", PLAIN_TEXT);
    let yaml = ws.read("campaigns/rel.yaml");
    let at = yaml.rfind("template: note").expect("the second step");
    let yaml = format!("{}template: plain{}", &yaml[..at], &yaml[at + 14..]);
    ws.write("campaigns/rel.yaml", &yaml);
    ws
}

/// The e-mail's plain-text body, decoded.
fn email_text(raw: &str) -> String {
    let message = Part::parse(raw);
    assert!(
        message.one("Content-Type").starts_with("text/plain"),
        "{:?}",
        message.headers
    );
    message.decoded_body().trim_end().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_sends_sms_tera_while_the_email_of_the_same_step_keeps_text_tera() {
    let smtp = SmtpSink::start().await;
    let http = HttpSink::start().await;
    let ws = workspace(&smtp, &http);
    let check = ws.loa(&["validate", "campaigns/rel.yaml"]);
    assert_eq!(check.code(), 0, "{}{}", check.stdout(), check.stderr());
    let db = ws.db();
    let daemon = Daemon::start(&ws, &Tuning::default(), None);
    let sent = until(
        Duration::from_secs(30),
        Duration::from_millis(50),
        || async { ledger::ready(&db).await && ledger::counts(&db).await.get("sent") == Some(&6) },
    )
    .await;
    assert!(
        sent,
        "{:?}\n{}",
        ledger::counts(&db).await,
        log_tail(&ws, 20)
    );
    drop(daemon);

    let mut emails: Vec<String> = smtp
        .received()
        .iter()
        .map(|r| email_text(&r.text()))
        .collect();
    emails.sort();
    assert_eq!(
        emails,
        [
            "Kính gửi r0: hãy tham gia bảo hiểm y tế học sinh, sinh viên.",
            "Kính gửi r1: hãy tham gia bảo hiểm y tế học sinh, sinh viên.",
        ]
    );
    let mut sms: Vec<String> = http
        .requests_to("/ok")
        .iter()
        .map(|r| r.json()["text"].as_str().expect("a text").to_string())
        .collect();
    sms.sort();
    assert_eq!(
        sms,
        [
            // The step with sms.tera: its text, not the e-mail's.
            "BHXH: r0 chua co the BHYT",
            "BHXH: r1 chua co the BHYT",
            // The step without: text.tera, as before sms.tera existed.
            "Nhắc r0 đóng BHYT",
            "Nhắc r1 đóng BHYT",
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_and_preview_read_the_sms_tera_a_webhook_sends() {
    let smtp = SmtpSink::start().await;
    let http = HttpSink::start().await;
    let ws = workspace(&smtp, &http);
    // A webhook-only step needs no text.tera once its folder has sms.tera.
    std::fs::remove_file(ws.path("templates/plain/text.tera")).expect("remove");
    ws.write("templates/plain/sms.tera", "Nhắc {{ row.idd }} đóng BHYT");
    let check = ws.loa(&["validate", "campaigns/rel.yaml"]);
    let out = check.stdout() + &check.stderr();
    assert_eq!(check.code(), 1, "{out}");
    assert!(
        out.contains("plain/sms.tera"),
        "the lint reads sms.tera: {out}"
    );
    assert!(out.contains("row.idd"), "{out}");
    assert!(!out.contains("has no text.tera"), "{out}");

    ws.write("templates/plain/sms.tera", PLAIN_TEXT);
    let check = ws.loa(&["validate", "campaigns/rel.yaml"]);
    assert_eq!(check.code(), 0, "{}{}", check.stdout(), check.stderr());
    let preview = |step: &str, channel: &str| {
        ws.loa(&[
            "preview",
            "campaigns/rel.yaml",
            "--step",
            step,
            "--recipient",
            "r1",
            "--channel",
            channel,
        ])
        .ok()
    };
    let sms = preview("both", "sms");
    assert!(
        sms.contains("── sms ──\nBHXH: r1 chua co the BHYT"),
        "{sms}"
    );
    let email = preview("both", "mail");
    assert!(email.contains("── text ──\nKính gửi r1:"), "{email}");
    assert!(!email.contains("BHXH: r1"), "{email}");
    let plain = preview("plain", "sms");
    assert!(plain.contains("── sms ──\nNhắc r1 đóng BHYT"), "{plain}");
}
