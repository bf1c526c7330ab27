//! `loa preview`: the exact message for one recipient.

use unicode_normalization::UnicodeNormalization;

use crate::support::workspace::{EXAMPLE, Workspace};

/// The parent notice for HS00010, whose name is stored decomposed (NFD) on purpose.
fn parent_notice(ws: &Workspace, channel: &str) -> String {
    ws.loa(&[
        "preview",
        EXAMPLE,
        "--step",
        "parent-notice",
        "--recipient",
        "HS00010",
        "--channel",
        channel,
    ])
    .ok()
}

#[test]
fn a_parent_notice_on_zalo_is_nfc_and_goes_to_an_84_number() {
    let ws = Workspace::example();
    // HS00010's name is stored decomposed (NFD) in the CSV on purpose.
    let out = parent_notice(&ws, "zalo");
    assert_eq!(out.nfc().collect::<String>(), out, "output is NFC");
    assert!(out.contains("Trần Thị Ngọc Huyền"), "{out}");
    assert!(
        out.contains("Đến         84356947140"),
        "0356.947.140 normalised: {out}"
    );
    assert!(out.contains("template_id: 300003"), "{out}");
}

#[test]
fn a_parent_notice_by_email_escapes_the_school_name_in_html_only() {
    let ws = Workspace::example();
    let out = parent_notice(&ws, "email");
    let (text, html) = out.split_once("── html ──").expect("an html part");
    assert!(
        html.contains("Trường TH&amp;THCS Sơn Ca &lt;Cơ sở 2&gt;"),
        "{html}"
    );
    assert!(!html.contains("<Cơ sở 2>"), "{html}");
    assert!(
        text.contains("Trường TH&THCS Sơn Ca <Cơ sở 2>"),
        "text is not escaped: {text}"
    );
    assert!(out.contains("Đến         ph.hs00010@example.com"), "{out}");
}

#[test]
fn the_sms_fallback_body_is_json_without_diacritics() {
    let ws = Workspace::example();
    let out = parent_notice(&ws, "sms");
    let body = out
        .split_once("── request body ──")
        .expect("a body")
        .1
        .trim();
    let json: serde_json::Value = serde_json::from_str(body).expect("the body is JSON");
    assert_eq!(json["to"], "84356947140");
    let text = json["text"].as_str().unwrap();
    assert!(
        text.is_ascii()
            && text.contains("Tran Thi Ngoc Huyen")
            && text.contains("Truong TH&THCS Son Ca"),
        "{text}"
    );
}

#[test]
fn preview_of_an_unknown_step_lists_the_steps() {
    let ws = Workspace::example();
    let run = ws.loa(&[
        "preview",
        EXAMPLE,
        "--step",
        "nope",
        "--recipient",
        "HS00010",
    ]);
    assert_eq!(run.code(), 1);
    assert!(run.stderr().contains("coverage-weekly"), "{}", run.stderr());
}

/// The example's parent notice has an `sms.tera`: its SMS fits one GSM-7 segment (160
/// characters without diacritics) while the e-mail's text part says more.
#[test]
fn the_parent_notice_sms_is_one_segment_and_the_email_text_is_longer() {
    let ws = Workspace::example();
    let sms = parent_notice(&ws, "sms");
    let body = sms.split_once("── request body ──").expect("a body").1;
    let json: serde_json::Value = serde_json::from_str(body.trim()).expect("JSON");
    let text = json["text"].as_str().expect("a text");
    assert!(
        text.is_ascii() && text.len() <= 160,
        "{} characters: {text}",
        text.len()
    );
    assert!(sms.contains("── sms ──"), "{sms}");
    let email = parent_notice(&ws, "email");
    let (head, _html) = email.split_once("── html ──").expect("an html part");
    let email_text = head.split_once("── text ──").expect("a text part").1;
    assert!(
        email_text.contains("Kính gửi Quý phụ huynh"),
        "{email_text}"
    );
    assert!(email_text.chars().count() > 300, "{email_text}");
}
