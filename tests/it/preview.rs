//! `loa preview`: the exact message for one recipient.

use unicode_normalization::UnicodeNormalization;

use crate::support::workspace::{EXAMPLE, Run, Workspace};

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
fn a_recipient_without_a_phone_is_told_in_vietnamese_only() {
    let ws = Workspace::example();
    let out = ws
        .loa(&[
            "preview",
            EXAMPLE,
            "--step",
            "parent-notice",
            "--recipient",
            "HS00007",
            "--channel",
            "zalo",
        ])
        .ok();
    assert!(
        out.contains("(không có địa chỉ: ô phone trống;"),
        "the skip reason: {out}"
    );
    assert!(
        !out.contains("no phone"),
        "English in the Vietnamese: {out}"
    );
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

/// `loa preview` of parent-notice for HS00010 with `extra` options; the run, not checked.
fn parent_notice_with(ws: &Workspace, extra: &[&str]) -> Run {
    let mut args = vec![
        "preview",
        EXAMPLE,
        "--step",
        "parent-notice",
        "--recipient",
        "HS00010",
        "--channel",
        "email",
    ];
    args.extend_from_slice(extra);
    ws.loa(&args)
}

/// The example's slogans go one per occurrence, in order: the first occurrence's e-mail
/// carries the first, the second's the second.
const FIRST_SLOGAN: &str = "Vì sức khỏe con em, vì tương lai đất nước";
const SECOND_SLOGAN: &str = "chia sẻ rủi ro, giảm gánh nặng chi phí khi ốm đau";

#[test]
fn preview_renders_the_occurrence_named_by_number() {
    let ws = Workspace::example();
    let first = parent_notice_with(&ws, &["--occurrence", "1"]).ok();
    assert!(
        first.contains("Bước        parent-notice (lần 1, T7 15/08/2026 19:30)"),
        "{first}"
    );
    assert!(first.contains(FIRST_SLOGAN), "{first}");
    assert!(!first.contains(SECOND_SLOGAN), "{first}");
    let second = parent_notice_with(&ws, &["--occurrence", "2"]).ok();
    assert!(second.contains("(lần 2, T7 22/08/2026 19:30)"), "{second}");
    assert!(second.contains(SECOND_SLOGAN), "{second}");
}

#[test]
fn preview_renders_the_occurrence_on_a_day_or_at_a_time() {
    let ws = Workspace::example();
    for at in [
        "2026-08-22",
        "22/08/2026",
        "2026-08-22 19:30",
        "22/08/2026 19:30",
    ] {
        let out = parent_notice_with(&ws, &["--at", at]).ok();
        assert!(out.contains("(lần 2, T7 22/08/2026 19:30)"), "{at}: {out}");
        assert!(out.contains(SECOND_SLOGAN), "{at}: {out}");
    }
}

#[test]
fn preview_at_a_day_without_occurrence_names_the_nearest_ones() {
    let ws = Workspace::example();
    let run = parent_notice_with(&ws, &["--at", "2026-08-20"]);
    assert_eq!(run.code(), 1, "{}", run.stdout());
    let err = run.stderr();
    assert!(err.contains("no occurrence on 20/08/2026"), "{err}");
    assert!(
        err.contains("before it: occurrence 1 (T7 15/08/2026 19:30)")
            && err.contains("after it: occurrence 2 (T7 22/08/2026 19:30)"),
        "{err}"
    );
    assert!(
        run.stdout().is_empty(),
        "nothing rendered: {}",
        run.stdout()
    );
    // At a time the step does not send, on a day it does.
    let err = parent_notice_with(&ws, &["--at", "2026-08-22 08:00"]).stderr();
    assert!(err.contains("no occurrence on 22/08/2026 08:00"), "{err}");
    assert!(
        err.contains("after it: occurrence 2 (T7 22/08/2026 19:30)"),
        "{err}"
    );
    // Before the first and after the last (max: 8).
    let err = parent_notice_with(&ws, &["--at", "2026-08-01"]).stderr();
    assert!(
        err.contains("the first is occurrence 1 (T7 15/08/2026 19:30)"),
        "{err}"
    );
    let err = parent_notice_with(&ws, &["--at", "2026-12-26"]).stderr();
    assert!(
        err.contains("the last is occurrence 8 (T7 03/10/2026 19:30)"),
        "{err}"
    );
}

#[test]
fn preview_of_an_occurrence_out_of_range_says_how_many_there_are() {
    let ws = Workspace::example();
    for n in ["9", "0"] {
        let run = parent_notice_with(&ws, &["--occurrence", n]);
        assert_eq!(run.code(), 1, "{}", run.stdout());
        assert!(
            run.stderr().contains(&format!(
                "there is no occurrence {n}: the step has 8 (--occurrence 1 to 8)"
            )),
            "{}",
            run.stderr()
        );
    }
}

#[test]
fn preview_takes_at_or_occurrence_not_both_and_refuses_a_bad_date() {
    let ws = Workspace::example();
    let both = parent_notice_with(&ws, &["--at", "2026-08-22", "--occurrence", "2"]);
    assert_eq!(both.code(), 2);
    assert!(
        both.stderr().contains("cannot be used with"),
        "{}",
        both.stderr()
    );
    let bad = parent_notice_with(&ws, &["--at", "2026-13-01"]);
    assert_eq!(bad.code(), 2);
    assert!(bad.stderr().contains("is not a date"), "{}", bad.stderr());
}

/// A `where` that reads `occurrence` can be checked for the first occurrence, not only the
/// last (issue 20).
#[test]
fn preview_checks_a_where_that_reads_the_occurrence_at_any_occurrence() {
    let ws = Workspace::example();
    let yaml = ws.read(EXAMPLE);
    let from = "where: \"not row.insured\"\n    channel: [zalo, email]";
    assert_eq!(yaml.matches(from).count(), 1, "parent-notice's where");
    ws.write(
        EXAMPLE,
        &yaml.replace(
            from,
            "where: \"occurrence.n >= 3 and not row.insured\"\n    channel: [zalo, email]",
        ),
    );
    let skipped = "người nhận này không thỏa điều kiện";
    let first = parent_notice_with(&ws, &["--occurrence", "1"]).ok();
    assert!(first.contains(skipped), "{first}");
    let third = parent_notice_with(&ws, &["--at", "2026-08-29"]).ok();
    assert!(third.contains("(lần 3, T7 29/08/2026 19:30)"), "{third}");
    assert!(!third.contains(skipped), "{third}");
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
