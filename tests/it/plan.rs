//! `loa plan`: every occurrence of the period, counted against the data, in local time.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Timelike, Weekday};
use serde_json::Value;

use crate::support::campaign::CampaignBuilder;
use crate::support::workspace::{EXAMPLE, Workspace};

fn plan_json(ws: &Workspace) -> Vec<Value> {
    let out = ws.loa(&["plan", EXAMPLE, "--format", "json"]).ok();
    serde_json::from_str::<Value>(&out)
        .expect("plan JSON")
        .as_array()
        .expect("array")
        .clone()
}

fn read_csv(ws: &Workspace, rel: &str) -> Vec<BTreeMap<String, String>> {
    let text = ws.read(rel);
    let mut rdr = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let headers = rdr.headers().expect("headers").clone();
    rdr.records()
        .map(|r| {
            headers
                .iter()
                .zip(r.expect("row").iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// Recipient counts computed here, independently of loa, from the raw CSV files.
fn expected_counts(ws: &Workspace) -> BTreeMap<&'static str, u64> {
    let schools = read_csv(ws, "campaigns/data/schools.csv");
    let students = read_csv(ws, "campaigns/data/students.csv");
    let staff = read_csv(ws, "campaigns/data/staff.csv");
    let below = schools
        .iter()
        .filter(|s| {
            s["students_insured"].parse::<u64>().unwrap()
                < s["students_total"].parse::<u64>().unwrap()
        })
        .count() as u64;
    let not_insured = students.iter().filter(|s| s["insured"] == "không").count() as u64;
    let grade1 = students
        .iter()
        .filter(|s| s["insured"] == "không" && s["grade"] == "1")
        .count() as u64;
    BTreeMap::from([
        ("staff-kickoff", staff.len() as u64),
        ("banners-hang", schools.len() as u64),
        ("coverage-weekly", below),
        ("grade1-transition", grade1),
        ("parent-notice", not_insured),
        ("deadline-parents", not_insured),
        ("deadline-schools", below),
    ])
}

#[test]
fn plan_json_counts_recipients_from_todays_data() {
    let ws = Workspace::example();
    let plan = plan_json(&ws);
    let expected = expected_counts(&ws);
    assert!(expected["coverage-weekly"] > 0 && expected["grade1-transition"] > 0);
    for e in &plan {
        let step = e["step"].as_str().unwrap();
        assert_eq!(e["recipients"].as_u64(), Some(expected[step]), "{e}");
        assert_eq!(
            e.as_object().unwrap().len(),
            6,
            "exactly at, step, title, channel, audience, recipients: {e}"
        );
    }
}

#[test]
fn plan_json_lists_the_whole_period_in_local_time_with_skip_dates_and_quiet_hours() {
    let ws = Workspace::example();
    let plan = plan_json(&ws);
    let times: Vec<DateTime<FixedOffset>> = plan
        .iter()
        .map(|e| DateTime::parse_from_rfc3339(e["at"].as_str().unwrap()).unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "ordered by time");
    let skip: HashSet<NaiveDate> = ["2026-08-31", "2026-09-01", "2026-09-02"]
        .iter()
        .map(|d| d.parse().unwrap())
        .collect();
    for t in &times {
        assert_eq!(t.offset().local_minus_utc(), 7 * 3600, "{t}");
        assert!(!skip.contains(&t.date_naive()), "{t} is a skip date");
        assert!((7..21).contains(&t.hour()), "{t} is inside quiet hours");
        assert!(
            t.date_naive() >= "2026-08-01".parse().unwrap()
                && t.date_naive() <= "2026-12-31".parse().unwrap()
        );
    }
    let weekly: Vec<&DateTime<FixedOffset>> = plan
        .iter()
        .zip(&times)
        .filter(|(e, _)| e["step"] == "coverage-weekly" && e["channel"] == "email")
        .map(|(_, t)| t)
        .collect();
    // Mondays from 17/8 (the collection window opens on Saturday 15/8) to 28/12: 20, one of
    // them (31/8, a skip date like 1/9 and 2/9) moved to Thursday 3/9 at the same time.
    assert_eq!(weekly.len(), 20, "{weekly:?}");
    assert_eq!(weekly[0].to_rfc3339(), "2026-08-17T08:00:00+07:00");
    assert_eq!(weekly[2].to_rfc3339(), "2026-09-03T08:00:00+07:00");
    assert!(
        weekly
            .iter()
            .enumerate()
            .all(|(i, t)| i == 2 || t.weekday() == Weekday::Mon)
    );
    assert_eq!(
        weekly.last().unwrap().to_rfc3339(),
        "2026-12-28T08:00:00+07:00"
    );
    let both: Vec<_> = plan
        .iter()
        .filter(|e| e["step"] == "coverage-weekly")
        .map(|e| e["channel"].as_str().unwrap())
        .collect();
    assert_eq!(
        both.iter().filter(|c| **c == "zalo").count(),
        20,
        "each listed channel gets a message"
    );
    let grade1 = plan
        .iter()
        .filter(|e| e["step"] == "grade1-transition")
        .count();
    assert_eq!(grade1, 4, "max: 4");
}

#[test]
fn plan_from_and_to_limit_the_days_listed() {
    let ws = Workspace::example();
    let out = ws
        .loa(&[
            "plan",
            EXAMPLE,
            "--format",
            "json",
            "--from",
            "2026-12-01",
            "--to",
            "2026-12-10",
        ])
        .ok();
    let plan: Vec<Value> = serde_json::from_str(&out).unwrap();
    let steps: Vec<&str> = plan.iter().map(|e| e["step"].as_str().unwrap()).collect();
    assert!(
        steps.contains(&"deadline-parents") && steps.contains(&"coverage-weekly"),
        "{steps:?}"
    );
    for e in &plan {
        let d = &e["at"].as_str().unwrap()[..10];
        assert!(("2026-12-01"..="2026-12-10").contains(&d), "{e}");
    }
}

#[test]
fn the_plan_table_is_aligned_with_vietnamese_dates() {
    let ws = Workspace::example();
    let out = ws.loa(&["plan", EXAMPLE]).ok();
    assert!(out.contains("T2 17/08/2026 08:00"), "{out}");
    assert!(
        out.contains("dời từ T2 31/08/2026 08:00 (ngày nghỉ)"),
        "{out}"
    );
    // The occurrences' table; the SMS table below it has its own width.
    let occurrences = out.split("\n\n").next().unwrap();
    let widths: HashSet<usize> = occurrences
        .lines()
        .filter(|l| l.starts_with('│'))
        .map(|l| l.chars().count())
        .collect();
    assert_eq!(widths.len(), 1, "rows of one width: {widths:?}");
}

#[test]
fn plan_ics_is_read_back_by_an_icalendar_parser() {
    let ws = Workspace::example();
    let ics = ws.loa(&["plan", EXAMPLE, "--format", "ics"]).ok();
    let plan = plan_json(&ws);
    let occurrences: HashSet<(String, String)> = plan
        .iter()
        .map(|e| (e["at"].to_string(), e["step"].to_string()))
        .collect();
    let mut parser = ical::IcalParser::new(ics.as_bytes());
    let cal = parser
        .next()
        .expect("one calendar")
        .expect("valid iCalendar");
    assert!(parser.next().is_none());
    assert_eq!(cal.events.len(), occurrences.len());
    let prop = |e: &ical::parser::ical::component::IcalEvent, name: &str| {
        e.properties
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| p.value.clone())
            .unwrap_or_default()
    };
    let kickoff = cal
        .events
        .iter()
        .find(|e| prop(e, "UID").contains("-staff-kickoff-"))
        .expect("the kick-off event");
    assert!(
        prop(kickoff, "SUMMARY").starts_with("Giao việc đầu năm học cho cán bộ nhà trường: staff"),
        "the summary names the step by its title: {}",
        prop(kickoff, "SUMMARY")
    );
    assert_eq!(
        prop(kickoff, "DTSTART"),
        "20260820T010000Z",
        "08:00 in Hồ Chí Minh City is 01:00 UTC"
    );
    let uids: HashSet<String> = cal.events.iter().map(|e| prop(e, "UID")).collect();
    assert_eq!(uids.len(), cal.events.len(), "every event has its own UID");
}

#[test]
fn a_send_due_in_quiet_hours_moves_to_their_end_and_one_past_the_window_is_dropped() {
    let ws = Workspace::example();
    let extra = "  - id: late-evening\n    audience: schools\n    channel: email\n    template: deadline_schools\n    send: { at: \"2026-10-09 22:30\" }\n  - id: new-year-eve\n    audience: schools\n    channel: email\n    template: deadline_schools\n    send: { at: \"2026-12-31 22:30\" }\n";
    ws.write(EXAMPLE, &(ws.read(EXAMPLE) + extra));
    let plan = plan_json(&ws);
    let late: Vec<&str> = plan
        .iter()
        .filter(|e| e["step"] == "late-evening")
        .map(|e| e["at"].as_str().unwrap())
        .collect();
    assert_eq!(late, ["2026-10-10T07:00:00+07:00"]);
    assert!(
        !plan.iter().any(|e| e["step"] == "new-year-eve"),
        "moved to 1/1/2027, outside the period: dropped"
    );
    let table = ws.loa(&["plan", EXAMPLE, "--from", "2026-12-31"]).ok();
    assert!(
        table.contains("new-year-eve") && table.contains("bỏ: ra ngoài khoảng gửi"),
        "{table}"
    );
    assert!(
        ws.loa(&[
            "plan",
            EXAMPLE,
            "--from",
            "2026-10-09",
            "--to",
            "2026-10-10"
        ])
        .ok()
        .contains("dời từ T6 09/10/2026 22:30 (giờ yên lặng)")
    );
}

#[test]
fn step_titles_are_shown_by_the_plan_table_its_json_and_the_calendar() {
    let ws = Workspace::example();
    let plan = plan_json(&ws);
    let deadline = plan
        .iter()
        .find(|e| e["step"] == "deadline-parents")
        .expect("the deadline step");
    assert_eq!(
        deadline["title"], "Nhắc phụ huynh trước hạn nộp",
        "{deadline}"
    );
    // A step without a title keeps its id and a null title.
    ws.write(
        EXAMPLE,
        &ws.read(EXAMPLE)
            .replace("    title: \"Nhắc phụ huynh trước hạn nộp\"\n", ""),
    );
    let plan = plan_json(&ws);
    let untitled = plan
        .iter()
        .find(|e| e["step"] == "deadline-parents")
        .expect("the deadline step");
    assert!(untitled["title"].is_null(), "{untitled}");
    let table = ws
        .loa(&[
            "plan",
            EXAMPLE,
            "--from",
            "2026-12-21",
            "--to",
            "2026-12-21",
        ])
        .ok();
    assert!(
        table.contains("Nhắc nhà trường trước hạn chót 31/12")
            && table.contains("deadline-schools"),
        "the title beside the id: {table}"
    );
    let ics = ws.loa(&["plan", EXAMPLE, "--format", "ics"]).ok();
    assert!(
        ics.contains("SUMMARY:Nhắc nhà trường trước hạn chót 31/12: schools (email)"),
        "{ics}"
    );
    assert!(
        ics.contains("SUMMARY:deadline-parents: parents (zalo)"),
        "{ics}"
    );
}

#[test]
fn an_empty_step_title_is_refused_with_its_line_and_a_hint() {
    let ws = Workspace::example();
    let yaml = ws
        .read(EXAMPLE)
        .replace("title: \"Nhắc phụ huynh trước hạn nộp\"", "title: \"\"");
    ws.write(EXAMPLE, &yaml);
    let line = yaml
        .lines()
        .position(|l| l == "    title: \"\"")
        .expect("the emptied title")
        + 1;
    let run = ws.loa(&["plan", EXAMPLE]);
    assert_ne!(run.code(), 0);
    let err = run.stderr();
    assert!(
        err.contains(&format!("bhyt-hssv-2026-2027.yaml:{line}:")) && err.contains("title"),
        "{err}"
    );
    assert!(err.contains("the step's title is empty"), "{err}");
}

/// 229 characters, Vietnamese with diacritics: UCS-2, ceil(229 / 67) = 4 segments.
const SMS_229: &str = "Kính gửi phụ huynh: con em chưa có thẻ bảo hiểm y tế học sinh năm học \
                       2026-2027. Hạn nộp là ngày 31/12/2026, xin liên hệ giáo viên chủ nhiệm \
                       hoặc nhà trường để được hướng dẫn tham gia đầy đủ, liên tục. Trân trọng cảm ơn quý vị ạ!";

/// The row of `table` whose first cell starts with `step`, split into its cells.
fn row<'a>(table: &'a str, step: &str) -> Vec<&'a str> {
    let line = table
        .lines()
        .find(|l| l.starts_with(&format!("│ {step} ")))
        .unwrap_or_else(|| panic!("no row of {step}: {table}"));
    line.trim_matches('│').split('┆').map(str::trim).collect()
}

#[test]
fn plan_shows_the_sms_segments_of_a_229_character_vietnamese_text_and_the_steps_total() {
    let ws = CampaignBuilder::new(3)
        .webhook("sms", "http://127.0.0.1:9/sms", &[])
        .smtp("mail", "smtp://127.0.0.1:9", &[])
        .step("notice", &["sms", "mail"])
        .build();
    assert_eq!(SMS_229.chars().count(), 229);
    ws.write("templates/note/sms.tera", SMS_229);
    let out = ws.loa(&["plan", "campaigns/rel.yaml"]).ok();
    let sms = out
        .split("Tin SMS")
        .nth(1)
        .unwrap_or_else(|| panic!("{out}"));
    // Step, channel, encoding, characters, segments a message, messages, segments in all.
    assert_eq!(
        row(sms, "notice"),
        ["notice", "sms", "UCS-2", "229", "4", "3", "12"],
        "{sms}"
    );
    assert!(!sms.contains("mail"), "e-mail is not SMS: {sms}");
    let json: Vec<Value> = serde_json::from_str(
        &ws.loa(&["plan", "campaigns/rel.yaml", "--format", "json"])
            .ok(),
    )
    .unwrap();
    let on = |channel: &str| {
        json.iter()
            .find(|e| e["channel"] == channel)
            .unwrap_or_else(|| panic!("{json:?}"))
            .clone()
    };
    assert_eq!(on("sms")["segments_per_message"], 4);
    assert_eq!(on("sms")["segments"], 12);
    assert!(on("mail").get("segments").is_none(), "{}", on("mail"));

    // Without diacritics the same length is GSM-7: ceil(229 / 153) = 2.
    ws.write("templates/note/sms.tera", &deunicode(SMS_229));
    let out = ws.loa(&["plan", "campaigns/rel.yaml"]).ok();
    let sms = out
        .split("Tin SMS")
        .nth(1)
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(
        row(sms, "notice"),
        ["notice", "sms", "GSM-7", "229", "2", "3", "6"],
        "{sms}"
    );
}

#[test]
fn the_examples_sms_fallback_counts_the_unaccented_text_its_gateway_body_sends() {
    let ws = Workspace::example();
    let out = ws
        .loa(&[
            "plan",
            EXAMPLE,
            "--from",
            "2026-12-10",
            "--to",
            "2026-12-10",
        ])
        .ok();
    let sms = out
        .split("Tin SMS")
        .nth(1)
        .unwrap_or_else(|| panic!("{out}"));
    let cells = row(sms, "Nhắc phụ huynh trước hạn nộp");
    assert_eq!(cells[1], "sms (dự phòng)", "{sms}");
    assert_eq!(
        cells[2], "GSM-7",
        "the body's `unaccent` drops the diacritics: {sms}"
    );
    assert_eq!(cells[4], "1", "{sms}");
    let parents = expected_counts(&ws)["deadline-parents"];
    assert_eq!(cells[5], format!("≤ {parents}"), "{sms}");
}

/// `text` with the Vietnamese diacritics removed (the letters this file's texts use).
fn deunicode(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    text.nfd()
        .filter(|c| !('\u{300}'..='\u{36f}').contains(c))
        .map(|c| match c {
            'đ' => 'd',
            'Đ' => 'D',
            c => c,
        })
        .collect()
}
